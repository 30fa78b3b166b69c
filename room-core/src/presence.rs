//! Who is in a room: awareness states (cursors, names) and who owns each of them.
//!
//! yrs's `Awareness` keeps the states and their clocks; this adds ownership, so that when a
//! connection closes, or a whole gateway dies, exactly its clients' states are removed, and
//! so that a connection changes or removes only the states of client ids it introduced:
//! nobody can move someone else's cursor or make it vanish.

use std::collections::HashMap;
use std::time::Duration;

use yrs::sync::{Awareness, AwarenessUpdate, Timestamp};
use yrs::updates::encoder::Encode;
use yrs::{ClientID, Doc};

/// A local connection, numbered by its gateway.
pub type ConnId = u64;

/// How long a state from another gateway lives without renewal. Yjs clients renew every
/// 15 s and drop peers after 30 s; this catches removals that pub/sub dropped.
pub const REMOTE_STATE_TTL: Duration = Duration::from_secs(30);

/// Client ids one connection may introduce: a Yjs client has one per document, so a few
/// cover reloads; more is a flood of fake cursors.
pub const MAX_CLIENTS_PER_CONN: usize = 4;

/// Where a state came from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Owner {
    Conn(ConnId),
    Gateway(String),
}

/// What a connection may do with one client id's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Claim {
    Own,
    New,
    Refused,
}

/// Changed states, encoded as one awareness update.
#[derive(Debug, PartialEq, Eq)]
pub struct Changes {
    pub encoded: Vec<u8>,
    /// The client, when the update carries exactly one (a cursor move, usually): such a
    /// frame may replace an older state of that client still queued for a connection.
    pub only: Option<ClientID>,
}

pub struct Presence {
    awareness: Awareness,
    /// Milliseconds on a monotonic clock, from the shell.
    clock: fn() -> Timestamp,
    owners: HashMap<ClientID, Owner>,
}

impl Presence {
    /// The cursors of `doc`, aged by `clock` (milliseconds on a monotonic clock).
    pub fn new(doc: Doc, clock: fn() -> Timestamp) -> Self {
        Presence {
            awareness: Awareness::with_clock(doc, clock),
            clock,
            owners: HashMap::new(),
        }
    }

    /// Applies states sent by a local connection acting for `user`. Only entries newer
    /// than what the room holds count: stock clients echo every state they receive back to
    /// the server with the same clock, and an echo must neither claim someone else's cursor
    /// for this connection nor be relayed again. Entries for client ids the connection may
    /// not claim ([`Presence::may_claim`]) are dropped. Returns the changes to relay, encoded.
    pub fn apply_local(
        &mut self,
        conn: ConnId,
        user: &str,
        mut update: AwarenessUpdate,
    ) -> Option<Changes> {
        // Counted only when a new id shows up: a cursor move of an owned id costs a look-up.
        let mut introduced: Option<usize> = None;
        update.clients.retain(|id, _| {
            let count = match self.owners.get(id) {
                None => *introduced.get_or_insert_with(|| self.owned_by(conn)),
                Some(_) => 0,
            };
            let claim = self.may_claim(conn, user, *id, count);
            if claim == Claim::New {
                introduced = Some(count + 1);
            }
            if claim == Claim::Refused {
                crate::metrics::rejected("foreign-cursor");
            }
            claim != Claim::Refused
        });
        self.apply(update, Owner::Conn(conn))
    }

    /// Whether connection `conn` of `user`, which introduced `introduced` client ids, may
    /// set the state of client `id`: its own; a new one within [`MAX_CLIENTS_PER_CONN`];
    /// one whose state carries the same stamped user (that user's client, reconnected);
    /// for an anonymous connection, one relayed by another gateway (a client that
    /// reconnected here: there is no identity to check). Never another user's, and never
    /// one another local anonymous connection holds.
    fn may_claim(&self, conn: ConnId, user: &str, id: ClientID, introduced: usize) -> Claim {
        let anonymous = user == crate::principal::ANONYMOUS;
        match self.owners.get(&id) {
            Some(Owner::Conn(owner)) if *owner == conn => Claim::Own,
            None if introduced < MAX_CLIENTS_PER_CONN => Claim::New,
            None => Claim::Refused,
            Some(_) if !anonymous && self.stamped_user(id).as_deref() == Some(user) => Claim::Own,
            Some(Owner::Gateway(_)) if anonymous => Claim::Own,
            Some(_) => Claim::Refused,
        }
    }

    fn stamped_user(&self, id: ClientID) -> Option<String> {
        let (_, state) = self.awareness.iter().find(|(client, _)| *client == id)?;
        crate::stamp::stamped_user(state.data.as_deref()?)
    }

    /// How many client ids connection `conn` holds.
    fn owned_by(&self, conn: ConnId) -> usize {
        self.owners
            .values()
            .filter(|owner| **owner == Owner::Conn(conn))
            .count()
    }

    /// Applies states relayed from another gateway; returns the changes to relay locally.
    pub fn apply_remote(&mut self, gateway: &str, update: AwarenessUpdate) -> Option<Changes> {
        self.apply(update, Owner::Gateway(gateway.to_owned()))
    }

    /// Applies an update from `owner`. A state belongs to its newest sender (a client may
    /// reconnect elsewhere). Returns the changes, encoded, if any.
    fn apply(&mut self, update: AwarenessUpdate, owner: Owner) -> Option<Changes> {
        let summary = match self.awareness.apply_update_summary(update) {
            Ok(summary) => summary?,
            Err(error) => {
                tracing::debug!(%error, "awareness update not applied");
                return None;
            }
        };
        for id in &summary.removed {
            self.owners.remove(id);
        }
        let mut changed = summary.removed;
        for id in summary.added.into_iter().chain(summary.updated) {
            self.owners.insert(id, owner.clone());
            changed.push(id);
        }
        changed.sort_unstable();
        changed.dedup();
        let only = match changed.as_slice() {
            [one] => Some(*one),
            _ => None,
        };
        self.encode(changed)
            .map(|encoded| Changes { encoded, only })
    }

    /// Removes the states a connection owned; returns the encoded removal to relay.
    pub fn remove_conn(&mut self, conn: ConnId) -> Option<Vec<u8>> {
        self.remove_owned_by(&Owner::Conn(conn))
    }

    /// Removes the states that came from `gateway`; returns the encoded removal.
    pub fn remove_gateway(&mut self, gateway: &str) -> Option<Vec<u8>> {
        self.remove_owned_by(&Owner::Gateway(gateway.to_owned()))
    }

    fn remove_owned_by(&mut self, owner: &Owner) -> Option<Vec<u8>> {
        let ids: Vec<ClientID> = self
            .owners
            .iter()
            .filter(|(_, o)| *o == owner)
            .map(|(id, _)| *id)
            .collect();
        for id in &ids {
            self.owners.remove(id);
        }
        self.remove(ids)
    }

    /// Removes states from other gateways not renewed within `ttl`.
    pub fn sweep_remote(&mut self, ttl: Duration) -> Option<Vec<u8>> {
        let now = (self.clock)();
        let ttl = ttl.as_millis() as Timestamp;
        let stale: Vec<ClientID> = self
            .owners
            .iter()
            .filter(|(_, owner)| matches!(owner, Owner::Gateway(_)))
            .map(|(id, _)| id)
            .filter(|id| {
                self.awareness
                    .meta(**id)
                    .is_none_or(|(_, updated)| now.saturating_sub(updated) > ttl)
            })
            .copied()
            .collect();
        for id in &stale {
            self.owners.remove(id);
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
        let ids: Vec<ClientID> = self
            .owners
            .iter()
            .filter(|(_, owner)| matches!(owner, Owner::Conn(_)))
            .map(|(id, _)| *id)
            .collect();
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

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::sync::awareness::AwarenessUpdateEntry;
    use yrs::updates::decoder::Decode;

    fn update(entries: &[(u64, u32, &str)]) -> AwarenessUpdate {
        let clients = entries
            .iter()
            .map(|(id, clock, json)| {
                let entry = AwarenessUpdateEntry {
                    clock: *clock,
                    json: (*json).into(),
                };
                (ClientID::new(*id), entry)
            })
            .collect();
        AwarenessUpdate { clients }
    }

    fn states(encoded: Option<Vec<u8>>) -> Vec<(u64, String)> {
        let Some(bytes) = encoded else {
            return Vec::new();
        };
        let update = AwarenessUpdate::decode_v1(&bytes).expect("decodes");
        let mut out: Vec<(u64, String)> = update
            .clients
            .into_iter()
            .map(|(id, e)| (id.get(), e.json.to_string()))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn an_echo_claims_nothing_and_is_not_relayed() {
        let mut p = Presence::new(Doc::new(), || 0);
        assert!(
            p.apply_local(1, ANON, update(&[(10, 1, r#"{"n":"a"}"#)]))
                .is_some()
        );
        // Connection 2 echoes client 10's state with the same clock.
        assert_eq!(
            p.apply_local(2, ANON, update(&[(10, 1, r#"{"n":"a"}"#)])),
            None
        );
        assert_eq!(p.remove_conn(2), None);
        assert_eq!(states(p.all_states()), vec![(10, r#"{"n":"a"}"#.into())]);
        assert_eq!(states(p.remove_conn(1)), vec![(10, "null".into())]);
        assert_eq!(p.all_states(), None);
    }

    const ANON: &str = crate::principal::ANONYMOUS;

    #[test]
    fn a_connection_cannot_move_or_remove_a_cursor_another_connection_holds() {
        let mut p = Presence::new(Doc::new(), || 0);
        p.apply_local(1, "ann", update(&[(10, 1, r#"{"at":1}"#)]));
        // Connection 2 sends a newer state, and then a removal, for client 10.
        assert_eq!(
            p.apply_local(2, "bob", update(&[(10, 5, r#"{"at":99}"#)])),
            None
        );
        assert_eq!(p.apply_local(2, "bob", update(&[(10, 6, "null")])), None);
        assert_eq!(states(p.all_states()), vec![(10, r#"{"at":1}"#.into())]);
        // Its own cursor in the same update still goes through.
        let mixed = update(&[(10, 7, "null"), (20, 1, r#"{"at":2}"#)]);
        assert_eq!(
            states(p.apply_local(2, "bob", mixed).map(|c| c.encoded)),
            vec![(20, r#"{"at":2}"#.into())]
        );
        // The owner moves its own.
        assert!(
            p.apply_local(1, "ann", update(&[(10, 2, r#"{"at":3}"#)]))
                .is_some()
        );
    }

    #[test]
    fn a_connection_introduces_a_few_client_ids_at_most() {
        let mut p = Presence::new(Doc::new(), || 0);
        let flood: Vec<(u64, u32, &str)> = (100..110).map(|id| (id, 1, "{}")).collect();
        p.apply_local(1, ANON, update(&flood));
        assert_eq!(states(p.all_states()).len(), MAX_CLIENTS_PER_CONN);
    }

    #[test]
    fn a_reconnected_client_takes_back_its_cursor_from_another_gateway_only_as_the_same_user() {
        let mut p = Presence::new(Doc::new(), || 0);
        let stamped = r#"{"user":{"id":"ann"}}"#;
        p.apply_remote("gw-b", update(&[(30, 1, stamped)]));
        assert_eq!(
            p.apply_local(
                1,
                "mallory",
                update(&[(30, 2, r#"{"user":{"id":"mallory"}}"#)])
            ),
            None
        );
        assert!(
            p.apply_local(2, "ann", update(&[(30, 2, stamped)]))
                .is_some()
        );
        // Now held by connection 2: gw-b's death no longer removes it.
        assert_eq!(p.remove_gateway("gw-b"), None);
    }

    #[test]
    fn a_dead_gateway_takes_only_its_own_cursors() {
        let mut p = Presence::new(Doc::new(), || 0);
        p.apply_local(1, ANON, update(&[(10, 1, "{}")]));
        p.apply_remote("gw-b", update(&[(20, 1, "{}")]));
        // gw-b relays our client 10's state back: same clock, not a change of owner.
        assert_eq!(p.apply_remote("gw-b", update(&[(10, 1, "{}")])), None);
        assert_eq!(states(p.remove_gateway("gw-b")), vec![(20, "null".into())]);
        assert_eq!(states(p.local_states()), vec![(10, "{}".into())]);
    }
}
