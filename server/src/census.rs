//! How many entries each of the gateway's long-lived tables holds, read when `/metrics` is
//! scraped (`collab_table_entries{table}`), plus what the allocator holds
//! ([`crate::allocator`]).
//!
//! Why: memory that grows with visits is either something kept (a route, a cache entry, a
//! cursor owner, a task whose room closed) or the allocator holding freed memory. A soak
//! (`collab-load soak`) reads these after each round: every table back at its baseline
//! once the rooms close rules out the first, and then RSS is the allocator's. Reading a
//! length costs a lock or an atomic load per table per scrape, nothing on the hot path;
//! the label values are the fixed names in [`TABLES`].
//!
//! Room tables live inside each room's task: each room reports its sizes to a
//! [`RoomTotals`] ([`crate::room::tally`]), so the gauges are sums over open rooms without
//! asking any room at scrape time.

use std::sync::Arc;

use collab_protocol::FileId;
use dashmap::DashMap;

use crate::access::revocation::Revocations;
use crate::engine::{Bus, Directory};
use crate::pending::PendingAppends;
use crate::room::RoomHandle;
use crate::room::tally::RoomTotals;

/// Every table name the census reports, in the order it reports them.
pub const TABLES: &[&str] = &[
    "rooms",
    "sessions",
    "room_members",
    "room_outboxes",
    "room_posts",
    "room_file_keepers",
    "awareness_states",
    "cursor_owners",
    "held_cursors",
    "routes",
    "subscriptions",
    "resubscribing",
    "gateways_seen",
    "identity_cache_keys",
    "identity_cache_recent",
    "revocation_grants",
    "pending_append_bytes",
    "tasks",
];

/// The parts whose tables the census reads.
pub struct Census {
    pub registry: Arc<DashMap<FileId, RoomHandle>>,
    pub rooms: Arc<RoomTotals>,
    pub bus: Arc<dyn Bus>,
    pub directory: Arc<dyn Directory>,
    pub revocations: Option<Arc<Revocations>>,
    pub pending: Arc<PendingAppends>,
}

impl Census {
    /// Every table's size now, named as in [`TABLES`]; `sessions` is the live count.
    pub fn sizes(&self, sessions: usize) -> Vec<(&'static str, usize)> {
        let mut sizes = vec![("rooms", self.registry.len()), ("sessions", sessions)];
        sizes.extend(self.rooms.sizes());
        sizes.extend(self.bus.tables());
        sizes.extend(self.directory.tables());
        sizes.push((
            "revocation_grants",
            self.revocations.as_ref().map_or(0, |r| r.len()),
        ));
        sizes.push(("pending_append_bytes", self.pending.bytes()));
        let tasks = tokio::runtime::Handle::try_current()
            .map_or(0, |handle| handle.metrics().num_alive_tasks());
        sizes.push(("tasks", tasks));
        sizes
    }

    /// Sets the gauges from [`Census::sizes`] and the allocator's figures.
    pub fn record(&self, sessions: usize) {
        for (table, size) in self.sizes(sessions) {
            metrics::gauge!("collab_table_entries", "table" => table).set(size as f64);
        }
        metrics::gauge!("collab_allocator", "allocator" => crate::allocator::NAME).set(1.0);
        if let Some(arenas) = crate::allocator::arenas() {
            metrics::gauge!("collab_allocator_arenas").set(arenas as f64);
        }
        for (kind, bytes) in crate::allocator::stats() {
            metrics::gauge!("collab_allocator_bytes", "kind" => kind).set(bytes as f64);
        }
    }
}
