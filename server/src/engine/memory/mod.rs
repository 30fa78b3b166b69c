//! The in-memory engine: everything a Redis would hold (logs, snapshots, undo lists,
//! diagnostics, identity records, channels) kept in this process, behind the same traits
//! and with the same contract as [`crate::engine::redis`].
//!
//! What it is for: unit tests of the room actor, appender, registry and session that run
//! in milliseconds without a redis-server, and `--engine memory`, a single gateway whose
//! documents live as long as the process (nothing shared, nothing durable).
//!
//! One [`MemoryServer`] plays the Redis server; each [`connect`] to it is one gateway's
//! engine, so a test can run two gateways on one server and watch an update travel
//! between them through the bus. The contract kept, as the Lua scripts keep it:
//! - an append assigns the next position (1, 2, 3, ... per file), stores the entry,
//!   publishes it and records its authored parts on undo lists in one step (one lock);
//! - compaction merges outside the lock and replaces the snapshot only if it still
//!   covers the position it read (compare-and-set);
//! - a full room inbox turns a dropped update into a catch-up request, never silence.
//!
//! What it leaves out: heartbeats (gateways on one server share a process; a goodbye is
//! the only departure there is), durability, and forgetting files (a file's data stays
//! for the life of the process; compaction keeps its log short).
//!
//! - [`store`]: logs and snapshots ([`Store`](crate::engine::Store)).
//! - [`undo`]: per-user undo and redo lists (capture window, depth, expiry), recorded in
//!   the store's append step, popped and counted.
//! - [`bus`]: the channels: routes from files to rooms, delivery, goodbyes.
//! - [`directory`]: sessions, users and sandbox members, read and written, with change
//!   announcements and expiry.
//! - [`diagnostics`]: the diagnostics cache and its claims.
//! - [`shared`]: the server's clock and poison-proof locks.

pub mod bus;
pub mod cursors;
pub mod diagnostics;
pub mod directory;
pub mod shared;
pub mod store;
pub mod undo;

use std::sync::Arc;

use collab_room_core::ext::diagnostics::DiagPolicy;
use collab_room_core::ext::undo::UndoPolicy;
use futures_util::future::BoxFuture;

use super::Engine;
use super::changes::ChangeFeed;
use super::readiness::{NotReady, Readiness};

/// The process-wide stand-in for a Redis server. Cheap to clone; every clone is the
/// same server.
#[derive(Clone, Default)]
pub struct MemoryServer {
    /// Every file's log and snapshot.
    files: Arc<store::Files>,
    /// Every file's undo and redo lists.
    undo: Arc<undo::Files>,
    /// Diagnostics caches per file.
    diag: Arc<diagnostics::Caches>,
    channels: Arc<bus::Channels>,
    identity: Arc<directory::Identity>,
    clock: Arc<shared::Clock>,
    /// Claims on awareness client ids.
    cursors: Arc<cursors::Claims>,
}

impl MemoryServer {
    pub fn new() -> Self {
        MemoryServer::default()
    }

    /// Tests only: while `lose` holds, every publication on every channel is lost (the
    /// log keeps what was appended), as pub/sub loses messages in an outage.
    #[cfg(test)]
    pub fn lose_publications(&self, lose: bool) {
        let flag = &self.channels.lose_all;
        flag.store(lose, std::sync::atomic::Ordering::Release);
    }
}

/// Always ready: nothing outside the process can fail.
struct AlwaysReady;

impl Readiness for AlwaysReady {
    fn check(&self) -> BoxFuture<'_, Result<(), NotReady>> {
        Box::pin(async { Ok(()) })
    }
}

/// One gateway's engine on `server`: its store, bus, directory, identity writes and
/// diagnostics cache, announcing identity changes (live from the start). Needs a tokio
/// runtime (it starts the sweep that expires sessions and users).
pub fn connect(
    server: &MemoryServer,
    gateway_id: String,
    undo: UndoPolicy,
    diag: DiagPolicy,
) -> Engine {
    let gateway: Arc<str> = Arc::from(gateway_id.as_str());
    let store = store::MemoryStore {
        files: server.files.clone(),
        channels: server.channels.clone(),
        clock: server.clock.clone(),
        cursors: server.cursors.clone(),
        gateway: gateway.clone(),
        undo: undo::MemoryUndo {
            files: server.undo.clone(),
            channels: server.channels.clone(),
            clock: server.clock.clone(),
            gateway: gateway.clone(),
            policy: undo,
        },
    };
    let bus = bus::MemoryBus::new(server.channels.clone(), gateway_id);
    let diagnostics = diagnostics::MemoryDiagnostics {
        caches: server.diag.clone(),
        channels: server.channels.clone(),
        clock: server.clock.clone(),
        gateway,
        policy: diag,
    };
    let feed = ChangeFeed::new();
    server.identity.subscribe(feed.clone());
    feed.set_live(true);
    let sweep = tokio::spawn(directory::expire(server.identity.clone()));
    let directory = Arc::new(directory::MemoryDirectory::new(server.identity.clone()));
    Engine::new(
        Arc::new(store),
        Arc::new(bus),
        directory.clone(),
        directory,
        Arc::new(diagnostics),
        Arc::new(AlwaysReady),
        vec![sweep],
    )
    .with_changes(Some(feed))
}
