//! Who is in a room: awareness states (cursors, names) and who owns each of them.
//!
//! yrs's `Awareness` keeps the states and their clocks; this adds ownership, so that when a
//! connection closes, or a whole gateway dies, exactly its clients' states are removed.

use std::collections::{HashMap, HashSet};

use yrs::sync::{Awareness, AwarenessUpdate};
use yrs::updates::encoder::Encode;
use yrs::{ClientID, Doc};

/// A local connection, numbered by its gateway.
pub type ConnId = u64;

pub struct Presence {
    awareness: Awareness,
    by_conn: HashMap<ConnId, HashSet<ClientID>>,
    by_gateway: HashMap<ClientID, String>,
}

impl Presence {
    pub fn new(doc: Doc) -> Self {
        Presence {
            awareness: Awareness::new(doc),
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
