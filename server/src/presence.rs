//! Who is in a room: awareness states (cursors, names) and who owns each of them.
//!
//! yrs's `Awareness` keeps the states and their clocks; this adds ownership, so that when a
//! connection closes, or a whole gateway dies, exactly its clients' states are removed.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use yrs::sync::{Awareness, AwarenessUpdate, Timestamp};
use yrs::updates::encoder::Encode;
use yrs::{ClientID, Doc};

/// A local connection, numbered by its gateway.
pub type ConnId = u64;

/// How long a state from another gateway lives without renewal. Yjs clients renew every
/// 15 s and drop peers after 30 s; this catches removals that pub/sub dropped.
pub const REMOTE_STATE_TTL: Duration = Duration::from_secs(30);

pub struct Presence {
    awareness: Awareness,
    started: Instant,
    by_conn: HashMap<ConnId, HashSet<ClientID>>,
    by_gateway: HashMap<ClientID, String>,
}

impl Presence {
    pub fn new(doc: Doc) -> Self {
        let started = Instant::now();
        let clock = move || started.elapsed().as_millis() as Timestamp;
        Presence {
            awareness: Awareness::with_clock(doc, clock),
            started,
            by_conn: HashMap::new(),
            by_gateway: HashMap::new(),
        }
    }

    /// Applies states sent by a local connection and records that it owns them.
    pub fn apply_local(&mut self, conn: ConnId, update: AwarenessUpdate) {
        let owned = self.by_conn.entry(conn).or_default();
        for (id, entry) in &update.clients {
            if entry.json.as_ref() == "null" {
                owned.remove(id);
            } else {
                owned.insert(*id);
            }
        }
        self.apply(update);
    }

    /// Applies states relayed from another gateway.
    pub fn apply_remote(&mut self, gateway: &str, update: AwarenessUpdate) {
        for (id, entry) in &update.clients {
            if entry.json.as_ref() == "null" {
                self.by_gateway.remove(id);
            } else {
                self.by_gateway.insert(*id, gateway.to_owned());
            }
        }
        self.apply(update);
    }

    fn apply(&mut self, update: AwarenessUpdate) {
        if let Err(error) = self.awareness.apply_update(update) {
            tracing::debug!(%error, "awareness update not applied");
        }
    }

    /// Removes the states a connection owned; returns the encoded removal to relay.
    pub fn remove_conn(&mut self, conn: ConnId) -> Option<Vec<u8>> {
        let ids = self.by_conn.remove(&conn)?;
        self.remove(ids.into_iter().collect())
    }

    /// Removes the states that came from `gateway`; returns the encoded removal.
    pub fn remove_gateway(&mut self, gateway: &str) -> Option<Vec<u8>> {
        let ids: Vec<ClientID> = self
            .by_gateway
            .iter()
            .filter(|(_, gw)| gw.as_str() == gateway)
            .map(|(id, _)| *id)
            .collect();
        for id in &ids {
            self.by_gateway.remove(id);
        }
        self.remove(ids)
    }

    /// Removes states from other gateways not renewed within `ttl`.
    pub fn sweep_remote(&mut self, ttl: Duration) -> Option<Vec<u8>> {
        let now = self.started.elapsed().as_millis() as Timestamp;
        let ttl = ttl.as_millis() as Timestamp;
        let stale: Vec<ClientID> = self
            .by_gateway
            .keys()
            .filter(|id| {
                self.awareness
                    .meta(**id)
                    .is_none_or(|(_, updated)| now.saturating_sub(updated) > ttl)
            })
            .copied()
            .collect();
        for id in &stale {
            self.by_gateway.remove(id);
        }
        self.remove(stale)
    }

    fn remove(&mut self, ids: Vec<ClientID>) -> Option<Vec<u8>> {
        if ids.is_empty() {
            return None;
        }
        for id in &ids {
            self.awareness.remove_state(*id);
        }
        self.encode(ids)
    }

    /// The current states of this gateway's own clients (answer to a peer's query).
    pub fn local_states(&self) -> Option<Vec<u8>> {
        let ids: Vec<ClientID> = self.by_conn.values().flatten().copied().collect();
        self.encode(ids)
    }

    /// Every current state (for a joining client).
    pub fn all_states(&self) -> Option<Vec<u8>> {
        let ids: Vec<ClientID> = self
            .awareness
            .iter()
            .filter(|(_, state)| state.data.is_some())
            .map(|(id, _)| id)
            .collect();
        self.encode(ids)
    }

    fn encode(&self, ids: Vec<ClientID>) -> Option<Vec<u8>> {
        if ids.is_empty() {
            return None;
        }
        self.awareness
            .update_with_clients(ids)
            .ok()
            .map(|update| update.encode_v1())
    }
}
