//! The gateway's local copy of the identity records it read, kept coherent by Redis's
//! invalidation pushes ([`super::tracking`]): a handshake whose records are here costs no
//! round trip.
//!
//! An entry is a Redis key's replies by field (`session:{token}` -> `user`, `user:{id}` ->
//! the `HMGET` of its fields, `sandbox:{sid}:members` -> one entry per member asked about),
//! with the key's deadline from `PTTL`, read with it: a session or user record that
//! expires stops being served at its deadline, and [`IdentityCache::expire_due`] hands the
//! key back so the grants that read it are re-read then. (Redis does push an invalidation
//! when it deletes an expired key, but with many keys carrying a TTL its active expiry can
//! find one long after it expired.)
//!
//! The cache serves only while it is *armed*: the tracking connection is up and Redis has
//! confirmed `CLIENT TRACKING`. Disarming (a disconnect) and a flush (a `null`
//! invalidation, `FLUSHALL`) empty it and start a new epoch. Inserting is guarded by a
//! [`Ticket`] taken before the read was sent: the reply is kept only when the cache was
//! armed then and still is in the same epoch, and no invalidation of that key arrived in
//! between. The invalidation of a change that raced the read can arrive before its reply
//! (reads and pushes travel on different connections); without the guard the stale reply
//! would be kept forever. This is why the gateway does not use redis-rs's `cache-aio`: it
//! inserts a reply after the connection's driver has already handled the pushes that
//! followed it, with no such guard, and it sends `PTTL` and `CLIENT CACHING` around every
//! cached read.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use redis::Value;

/// Keys held at most; past it new replies are not kept (reads go to Redis).
pub const MAX_KEYS: usize = 100_000;
/// Invalidations remembered for the insert guard; a read that saw more arrive while it was
/// in flight is not kept.
const RECENT: usize = 4096;

/// The state of the cache when a read was sent.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    armed: bool,
    epoch: u64,
    seq: u64,
}

impl Ticket {
    /// Whether a reply read under this ticket may be kept (and so whether to ask `PTTL`).
    pub fn caching(&self) -> bool {
        self.armed
    }
}

struct Slot {
    deadline: Option<Instant>,
    fields: HashMap<String, Value>,
}

#[derive(Default)]
struct State {
    armed: bool,
    epoch: u64,
    /// Invalidations so far.
    seq: u64,
    /// The last [`RECENT`] invalidated keys, with their `seq`.
    recent: VecDeque<(u64, String)>,
    slots: HashMap<String, Slot>,
}

impl State {
    fn clear(&mut self) {
        self.epoch += 1;
        self.slots.clear();
        self.recent.clear();
    }
}

/// The identity records read while tracking was on.
#[derive(Default)]
pub struct IdentityCache {
    state: Mutex<State>,
}

impl IdentityCache {
    pub fn new() -> Self {
        IdentityCache::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Take before sending a read whose reply may be kept.
    pub fn ticket(&self) -> Ticket {
        let state = self.lock();
        Ticket {
            armed: state.armed,
            epoch: state.epoch,
            seq: state.seq,
        }
    }

    /// The kept reply of `field` of `key`, while armed and before the key's deadline.
    pub fn get(&self, key: &str, field: &str) -> Option<Value> {
        let state = self.lock();
        if !state.armed {
            return None;
        }
        let slot = state.slots.get(key)?;
        if slot
            .deadline
            .is_some_and(|deadline| deadline <= Instant::now())
        {
            return None;
        }
        slot.fields.get(field).cloned()
    }

    /// Keeps `value` of `field` of `key`, read under `ticket` with `pttl` (the key's `PTTL`
    /// reply: milliseconds left, -1 without expiry, -2 when absent), if the guard allows.
    /// Returns whether it was kept.
    pub fn insert(&self, ticket: Ticket, key: &str, field: &str, value: Value, pttl: i64) -> bool {
        let received = Instant::now();
        let mut state = self.lock();
        if !(ticket.armed && state.armed && ticket.epoch == state.epoch) {
            return false;
        }
        if state.seq - ticket.seq > RECENT as u64 {
            return false;
        }
        let raced = state
            .recent
            .iter()
            .rev()
            .take_while(|(seq, _)| *seq > ticket.seq)
            .any(|(_, invalidated)| invalidated == key);
        if raced {
            return false;
        }
        let deadline = match pttl {
            ms if ms > 0 => Some(received + Duration::from_millis(ms.unsigned_abs())),
            0 => return false,
            _ => None,
        };
        if !state.slots.contains_key(key) && state.slots.len() >= MAX_KEYS {
            return false;
        }
        let slot = state.slots.entry(key.to_owned()).or_insert_with(|| Slot {
            deadline,
            fields: HashMap::new(),
        });
        slot.deadline = deadline;
        slot.fields.insert(field.to_owned(), value);
        true
    }

    /// Redis said `key` changed: drop it, and refuse replies to reads that raced the change.
    pub fn invalidate(&self, key: &str) {
        let mut state = self.lock();
        state.seq += 1;
        let seq = state.seq;
        state.recent.push_back((seq, key.to_owned()));
        if state.recent.len() > RECENT {
            state.recent.pop_front();
        }
        state.slots.remove(key);
    }

    /// Everything may have changed (a `null` invalidation): drop it all.
    pub fn flush(&self) {
        self.lock().clear();
    }

    /// Tracking is confirmed: serve from now on, starting empty.
    pub fn arm(&self) {
        let mut state = self.lock();
        state.clear();
        state.armed = true;
    }

    /// Tracking is lost (invalidations may be missed from now): serve nothing, drop it all.
    pub fn disarm(&self) {
        let mut state = self.lock();
        state.clear();
        state.armed = false;
    }

    /// Keys held and invalidations remembered, for the census ([`crate::census`]).
    pub fn sizes(&self) -> (usize, usize) {
        let state = self.lock();
        (state.slots.len(), state.recent.len())
    }

    /// Drops the keys whose deadline passed and returns them.
    pub fn expire_due(&self, now: Instant) -> Vec<String> {
        let mut state = self.lock();
        let due: Vec<String> = state
            .slots
            .iter()
            .filter(|(_, slot)| slot.deadline.is_some_and(|deadline| deadline <= now))
            .map(|(key, _)| key.clone())
            .collect();
        for key in &due {
            state.slots.remove(key);
        }
        due
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.lock().slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    fn armed() -> IdentityCache {
        let cache = IdentityCache::new();
        cache.arm();
        cache
    }

    #[test]
    fn serves_nothing_until_armed_and_nothing_after_disarming() {
        let cache = IdentityCache::new();
        let ticket = cache.ticket();
        assert!(!ticket.caching());
        assert!(!cache.insert(ticket, "session:t", "user", bulk("u1"), -1));
        cache.arm();
        let ticket = cache.ticket();
        assert!(cache.insert(ticket, "session:t", "user", bulk("u1"), -1));
        assert_eq!(cache.get("session:t", "user"), Some(bulk("u1")));
        cache.disarm();
        assert_eq!(cache.get("session:t", "user"), None);
        cache.arm();
        assert_eq!(
            cache.get("session:t", "user"),
            None,
            "re-arming starts empty"
        );
    }

    #[test]
    fn an_invalidation_drops_the_key_and_refuses_a_racing_reply() {
        let cache = armed();
        let ticket = cache.ticket();
        assert!(cache.insert(ticket, "user:u1", "", bulk("a"), -1));
        assert!(cache.insert(ticket, "user:u2", "", bulk("b"), -1));
        // A read of u1 in flight while u1 changes: its reply is not kept.
        let in_flight = cache.ticket();
        cache.invalidate("user:u1");
        assert_eq!(cache.get("user:u1", ""), None);
        assert!(!cache.insert(in_flight, "user:u1", "", bulk("stale"), -1));
        // Another key's reply under the same ticket still is.
        assert!(cache.insert(in_flight, "user:u3", "", bulk("c"), -1));
        assert_eq!(cache.get("user:u2", ""), Some(bulk("b")));
        // A read sent after the invalidation is kept.
        assert!(cache.insert(cache.ticket(), "user:u1", "", bulk("new"), -1));
        assert_eq!(cache.get("user:u1", ""), Some(bulk("new")));
    }

    #[test]
    fn a_flush_or_a_reconnect_refuses_replies_read_before_it() {
        let cache = armed();
        let before = cache.ticket();
        cache.flush();
        assert!(!cache.insert(before, "user:u1", "", bulk("a"), -1));
        let before = cache.ticket();
        cache.disarm();
        cache.arm();
        assert!(!cache.insert(before, "user:u1", "", bulk("a"), -1));
    }

    #[test]
    fn too_many_invalidations_in_flight_refuse_the_reply() {
        let cache = armed();
        let ticket = cache.ticket();
        for n in 0..=RECENT {
            cache.invalidate(&format!("user:x{n}"));
        }
        assert!(!cache.insert(ticket, "user:u1", "", bulk("a"), -1));
    }

    #[test]
    fn an_entry_stops_at_its_deadline_and_is_handed_back() {
        let cache = armed();
        assert!(cache.insert(cache.ticket(), "session:t", "user", bulk("u1"), 40));
        assert!(cache.insert(cache.ticket(), "user:u1", "", bulk("a"), -1));
        assert!(!cache.insert(cache.ticket(), "session:z", "user", bulk("u2"), 0));
        assert_eq!(cache.get("session:t", "user"), Some(bulk("u1")));
        assert!(cache.expire_due(Instant::now()).is_empty());
        let later = Instant::now() + Duration::from_millis(50);
        assert_eq!(cache.expire_due(later), vec!["session:t".to_owned()]);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn members_keep_one_entry_per_member_and_go_together() {
        let cache = armed();
        let ticket = cache.ticket();
        assert!(cache.insert(ticket, "sandbox:sb1:members", "u1", bulk("rw"), -1));
        assert!(cache.insert(ticket, "sandbox:sb1:members", "u2", Value::Nil, -1));
        assert_eq!(cache.get("sandbox:sb1:members", "u2"), Some(Value::Nil));
        assert_eq!(cache.get("sandbox:sb1:members", "u3"), None);
        cache.invalidate("sandbox:sb1:members");
        assert_eq!(cache.get("sandbox:sb1:members", "u1"), None);
    }
}
