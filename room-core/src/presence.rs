//! Who is in a room: awareness states (cursors, names) and who owns each of them.
//!
//! yrs's `Awareness` keeps the states and their clocks; this adds ownership, so that when a
//! connection closes, or a whole gateway dies, exactly its clients' states are removed, and
//! so that a connection changes or removes only the states of client ids it introduced:
//! nobody can move someone else's cursor or make it vanish.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use yrs::sync::awareness::AwarenessUpdateEntry;
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

/// How long a claim on a client id lives without renewal: the owner's gateway renews it on
/// every room tick (5 s by default) while the owner holds the id, so it lapses this long
/// after the owner's last connection with it left: a reconnecting client keeps its id.
pub const CURSOR_CLAIM_TTL: Duration = Duration::from_secs(30);

/// Where a state came from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Owner {
    Conn(ConnId),
    Gateway(String),
}

/// Who holds a client id: where its state came from and the user it belongs to (`None`:
/// no verified identity, `--auth none` or an unstamped state).
#[derive(Debug, Clone)]
struct Holder {
    at: Owner,
    user: Option<Arc<str>>,
}

/// What a connection may do with one client id's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Claim {
    Own,
    New,
    /// New to this gateway, for a verified user: the engine's claim decides.
    Ask,
    Refused,
}

/// A verified connection's first state for a client id, waiting for the engine's claim.
#[derive(Debug)]
struct Held {
    conn: ConnId,
    user: Arc<str>,
    entry: AwarenessUpdateEntry,
}

/// What a local connection's states did: the changes to relay, and the client ids to
/// claim for its user before their held states count ([`Presence::claimed`]).
#[derive(Debug, Default)]
pub struct Local {
    pub changes: Option<Changes>,
    pub claim: Vec<ClientID>,
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
    owners: HashMap<ClientID, Holder>,
    held: HashMap<ClientID, Held>,
}

impl Presence {
    /// The cursors of `doc`, aged by `clock` (milliseconds on a monotonic clock).
    pub fn new(doc: Doc, clock: fn() -> Timestamp) -> Self {
        Presence {
            awareness: Awareness::with_clock(doc, clock),
            clock,
            owners: HashMap::new(),
            held: HashMap::new(),
        }
    }

    /// Applies states sent by a local connection acting for `user`. Only entries newer
    /// than what the room holds count: stock clients echo every state they receive back to
    /// the server with the same clock, and an echo must neither claim someone else's cursor
    /// for this connection nor be relayed again. Entries for client ids the connection may
    /// not claim ([`Presence::may_claim`]) are dropped; a verified user's first state for an
    /// id this gateway does not know is held until the engine's claim answers.
    pub fn apply_local(&mut self, conn: ConnId, user: &str, mut update: AwarenessUpdate) -> Local {
        // Counted only when a new id shows up: a cursor move of an owned id costs a look-up.
        let mut introduced: Option<usize> = None;
        let mut ask = Vec::new();
        update.clients.retain(|id, entry| {
            let count = match self.owners.get(id) {
                // Nothing to remove: a removal of an unknown id claims nothing.
                None if &*entry.json == "null" => return false,
                None => *introduced.get_or_insert_with(|| self.owned_by(conn)),
                Some(_) => 0,
            };
            let claim = self.may_claim(conn, user, *id, count);
            match claim {
                Claim::New => introduced = Some(count + 1),
                Claim::Ask => {
                    introduced = Some(count + 1);
                    ask.push((*id, entry.clone()));
                }
                Claim::Refused => crate::metrics::rejected("foreign-cursor"),
                Claim::Own => {}
            }
            matches!(claim, Claim::Own | Claim::New)
        });
        let mut claim = Vec::new();
        for (id, entry) in ask {
            if let Some(held) = self.held.get_mut(&id) {
                // Already asked for this connection: the newest state waits instead.
                if entry.clock >= held.entry.clock {
                    held.entry = entry;
                }
                continue;
            }
            let user = Arc::from(user);
            self.held.insert(id, Held { conn, user, entry });
            claim.push(id);
        }
        let owner = Holder {
            at: Owner::Conn(conn),
            user: verified(user),
        };
        Local {
            changes: self.apply(update, owner),
            claim,
        }
    }

    /// The engine's answer to a claim of `user`: for each client id, whether it is the
    /// user's. Held states of granted ids are applied as their connection's; the others are
    /// refused. Ids not held (a renewal) change nothing. Returns the changes to relay.
    pub fn claimed(
        &mut self,
        user: &str,
        results: &[(ClientID, bool)],
    ) -> Option<(ConnId, Changes)> {
        let mut out: Option<(ConnId, Changes)> = None;
        for (id, granted) in results {
            let Some(held) = self.held.get(id) else {
                continue;
            };
            if &*held.user != user {
                continue;
            }
            let Some(held) = self.held.remove(id) else {
                continue;
            };
            let foreign = self
                .owners
                .get(id)
                .is_some_and(|h| h.user.as_deref() != Some(user));
            if !*granted || foreign {
                crate::metrics::rejected("foreign-cursor");
                continue;
            }
            let update = AwarenessUpdate {
                clients: [(*id, held.entry)].into_iter().collect(),
            };
            let owner = Holder {
                at: Owner::Conn(held.conn),
                user: Some(held.user),
            };
            if let Some(changes) = self.apply(update, owner) {
                // One id per answer in practice (a client has one per document).
                out = Some((held.conn, changes));
            }
        }
        out
    }

    /// The client ids each verified user holds through this gateway's connections: their
    /// claims are renewed on every tick.
    pub fn local_claims(&self) -> Vec<(Arc<str>, Vec<ClientID>)> {
        let mut by_user: HashMap<Arc<str>, Vec<ClientID>> = HashMap::new();
        for (id, holder) in &self.owners {
            if let (Owner::Conn(_), Some(user)) = (&holder.at, &holder.user) {
                by_user.entry(user.clone()).or_default().push(*id);
            }
        }
        by_user.into_iter().collect()
    }

    /// Whether connection `conn` of `user`, which introduced `introduced` client ids, may
    /// set the state of client `id`: one its user holds; a new one within
    /// [`MAX_CLIENTS_PER_CONN`] (for a verified user, once the engine's claim says so);
    /// for an anonymous connection, one relayed by another gateway (a client that
    /// reconnected here: there is no identity to check). Never another user's, and never
    /// one another local anonymous connection holds.
    fn may_claim(&self, conn: ConnId, user: &str, id: ClientID, introduced: usize) -> Claim {
        let anonymous = user == crate::principal::ANONYMOUS;
        let Some(holder) = self.owners.get(&id) else {
            return match self.held.get(&id) {
                Some(held) if held.conn == conn => Claim::Ask,
                Some(_) => Claim::Refused,
                None if introduced >= MAX_CLIENTS_PER_CONN => Claim::Refused,
                None if anonymous => Claim::New,
                None => Claim::Ask,
            };
        };
        match &holder.at {
            Owner::Conn(owner) if *owner == conn => Claim::Own,
            _ if !anonymous && holder.user.as_deref() == Some(user) => Claim::Own,
            Owner::Gateway(_) if anonymous => Claim::Own,
            _ => Claim::Refused,
        }
    }

    /// How many client ids connection `conn` holds or waits for.
    fn owned_by(&self, conn: ConnId) -> usize {
        let owned = self
            .owners
            .values()
            .filter(|holder| holder.at == Owner::Conn(conn))
            .count();
        owned + self.held.values().filter(|held| held.conn == conn).count()
    }

    /// Applies states relayed from another gateway; returns the changes to relay locally.
    /// Each state belongs to the user stamped in it; one for a client id held by another
    /// user is dropped (that gateway let a stranger's state through: an older gateway, or
    /// a claim lost with Redis). A removal counts only from the gateway holding the id.
    pub fn apply_remote(&mut self, gateway: &str, mut update: AwarenessUpdate) -> Option<Changes> {
        let mut users: HashMap<ClientID, Option<Arc<str>>> = HashMap::new();
        update.clients.retain(|id, entry| {
            let removal = &*entry.json == "null";
            let sender = crate::stamp::stamped_user(&entry.json).map(Arc::<str>::from);
            let allowed = match self.owners.get(id) {
                None => true,
                Some(holder) if removal => holder.at == Owner::Gateway(gateway.to_owned()),
                Some(Holder { user: None, .. }) => true,
                Some(Holder {
                    user: Some(owner), ..
                }) => sender.as_ref() == Some(owner),
            };
            if !allowed {
                crate::metrics::rejected("foreign-cursor");
            }
            users.insert(*id, sender);
            allowed
        });
        let owner = Owner::Gateway(gateway.to_owned());
        self.apply_with(update, |id| Holder {
            at: owner.clone(),
            user: users.get(&id).cloned().flatten(),
        })
    }

    /// Applies an update from `owner`. A state belongs to its newest sender (a client may
    /// reconnect elsewhere). Returns the changes, encoded, if any.
    fn apply(&mut self, update: AwarenessUpdate, owner: Holder) -> Option<Changes> {
        self.apply_with(update, |_| owner.clone())
    }

    fn apply_with(
        &mut self,
        update: AwarenessUpdate,
        holder: impl Fn(ClientID) -> Holder,
    ) -> Option<Changes> {
        if update.clients.is_empty() {
            return None;
        }
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
            self.owners.insert(id, holder(id));
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

    /// Removes the states a connection owned (and forgets its states waiting for a
    /// claim); returns the encoded removal to relay.
    pub fn remove_conn(&mut self, conn: ConnId) -> Option<Vec<u8>> {
        self.held.retain(|_, held| held.conn != conn);
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
            .filter(|(_, holder)| holder.at == *owner)
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
            .filter(|(_, holder)| matches!(holder.at, Owner::Gateway(_)))
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
            .filter(|(_, holder)| matches!(holder.at, Owner::Conn(_)))
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

    /// How many states wait for a claim (a gauge of what the engine is asked).
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Awareness states held (with or without data) and client ids with a known owner:
    /// what a soak watches return to zero.
    pub fn sizes(&self) -> (usize, usize) {
        (self.awareness.iter().count(), self.owners.len())
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

/// The user a verified cursor owner names; `None` for [`crate::principal::ANONYMOUS`].
fn verified(user: &str) -> Option<Arc<str>> {
    (user != crate::principal::ANONYMOUS).then(|| Arc::from(user))
}

#[cfg(test)]
#[path = "presence_tests.rs"]
mod tests;
