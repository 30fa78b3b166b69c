//! The engine seam: what rooms need from shared storage, as two interfaces, and what
//! access control reads, as a third.
//!
//! A room talks to "a store" (the durable log and snapshot of its file) and to "a bus"
//! (pub/sub between gateways), never to Redis itself, so another engine (Redis Cluster,
//! sharded pub/sub) is a sibling folder of [`redis`] rather than an edit of rooms or sessions
//! ([`cluster`] is one).
//! [`crate::access`] reads the platform's identity records through a [`Directory`], so a
//! session never touches Redis either.
//!
//! - [`log`]: the engine-neutral types that cross the seam on the way in (authored batches).
//! - [`tail`]: what a read brings back (tails, entries, the head).
//! - [`error`]: the one error type every engine reports.
//! - [`inbox`]: a room's side of the bus: where its channel's messages and signals land.
//! - [`compaction`]: merging a tail into one state, the same for every engine.
//! - [`directory`]: the identity reads (session -> user -> standing in a sandbox).
//! - [`changes`]: the engine's announcements that identity records changed (in Redis,
//!   `CLIENT TRACKING` invalidation pushes), so revocation re-reads only what changed.
//! - [`file_state`]: what gateways share about a file's source (ETag, base, write lease)
//!   and the one-time seed of a new document from it.
//! - [`identity_admin`]: writing sessions, users and sandbox members (the admin API's side).
//! - The extensions' engine interfaces live in their homes in the room core, and are
//!   implemented here: `UndoStack` (per-user undo and redo lists: records, counts,
//!   limits; `collab_room_core::ext::undo`) and `DiagnosticsCache` (cached markers per
//!   file, source and version, with the claim that makes gateways holding one file check
//!   each version once; `collab_room_core::ext::diagnostics`).
//! - [`readiness`]: whether the engine can serve what this gateway uses now (`/readyz`).
//! - [`redis`]: the single-Redis engine; its parts are generic over their connection
//!   ([`redis::conn::Conn`]), so they also serve
//! - [`cluster`]: the Redis Cluster engine (`--redis-cluster`): sharded pub/sub per file,
//!   resubscription after slot moves, readiness per slot in use, metrics per node.
//! - [`memory`]: everything in process memory (unit tests; `--engine memory`, a single
//!   gateway with nothing shared or durable).
//!
//! The contract every engine keeps: an update's log position and its publication are one
//! atomic step ([`Store::append`]); positions of a file are the contiguous integers 1, 2,
//! 3, ..., so a subscriber sees a gap; and whatever pub/sub drops shows as a gap or as a
//! catch-up signal in the room's [`inbox::RoomSignals`], never as silence.

pub mod changes;
pub mod cluster;
pub mod compaction;
pub mod directory;
pub mod error;
pub mod file_state;
pub mod identity_admin;
pub mod inbox;
pub mod log;
pub mod memory;
pub mod readiness;
pub mod redis;

use std::sync::Arc;

use collab_protocol::FileId;
use collab_protocol::envelope::Kind;
use collab_room_core::ext::diagnostics::DiagnosticsCache;
use collab_room_core::ext::undo::UndoStack;
use collab_room_core::tail::{LogHead, Tail};
use futures_util::future::BoxFuture;
use tokio::task::JoinHandle;

pub use changes::{Change, ChangeFeed, Record};
pub use directory::{Directory, MemberRole, Rechecked, SandboxAddress, Standing};
pub use error::EngineError;
pub use file_state::{FileRecord, FileState};
pub use identity_admin::{IdentityAdmin, UserRecord};
pub use inbox::{RoomSignals, RoomSink};
pub use log::{AppendBatch, Appended, Authored, CompactOutcome, MergeFailed};

pub use readiness::{NotReady, Readiness};

/// The durable side of a file: its update log and snapshot.
pub trait Store: Send + Sync + 'static {
    /// Appends one log entry (the batch's merged update) and publishes it with its
    /// position, atomically; in the same step, records each authored part on its
    /// author's undo and redo lists ([`UndoRecord`], popped through [`UndoStack`]).
    fn append<'a>(
        &'a self,
        file: &'a FileId,
        batch: &'a AppendBatch,
    ) -> BoxFuture<'a, Result<Appended, EngineError>>;

    /// The position of the last update in the file's log (0 for a new file) and who wrote
    /// it.
    fn head<'a>(&'a self, file: &'a FileId) -> BoxFuture<'a, Result<LogHead, EngineError>>;

    /// Everything after position `since` (0: the whole file).
    fn read_since<'a>(
        &'a self,
        file: &'a FileId,
        since: u64,
    ) -> BoxFuture<'a, Result<Tail, EngineError>>;

    /// Merges the log into the snapshot and trims it, unless another gateway compacted
    /// first.
    fn compact<'a>(
        &'a self,
        file: &'a FileId,
    ) -> BoxFuture<'a, Result<CompactOutcome, EngineError>>;

    /// Claims awareness client ids of the file for `user` for `ttl_ms`, or renews the
    /// claims `user` already holds (`collab:{F}:cursor:{id}`): per id, in order, whether
    /// it is `user`'s. The first user to claim an id holds it until its claim lapses.
    fn claim_cursors<'a>(
        &'a self,
        file: &'a FileId,
        user: &'a str,
        ids: &'a [u64],
        ttl_ms: u64,
    ) -> BoxFuture<'a, Result<Vec<bool>, EngineError>>;
}

/// Pub/sub between gateways: a file's channel, routed to its room, and gateway liveness.
pub trait Bus: Send + Sync + 'static {
    /// This gateway's id, the origin of everything it publishes.
    fn gateway_id(&self) -> &str;

    /// Routes the file's channel to `sink` and subscribes to it. Returns once the
    /// subscription is confirmed: anything published later reaches the sink or, if
    /// dropped, is announced by a position gap or a catch-up signal.
    fn join<'a>(
        &'a self,
        file: &'a FileId,
        sink: RoomSink,
    ) -> BoxFuture<'a, Result<(), EngineError>>;

    /// Unroutes and unsubscribes the room `room_id` of `file` (a newer room of the same
    /// file keeps its route).
    fn leave(&self, file: &FileId, room_id: u64);

    /// Awareness and control envelopes (updates go out with their log entry, through Store::append).
    fn publish<'a>(
        &'a self,
        file: &'a FileId,
        kind: Kind,
        payload: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), EngineError>>;

    /// Tells other gateways this one is leaving, so its clients' cursors go at once.
    fn say_goodbye(&self) -> BoxFuture<'_, ()>;

    /// Entries of the bus's own tables (routes, subscriptions, gateways heard), for the
    /// census ([`crate::census`]); none by default.
    fn tables(&self) -> Vec<(&'static str, usize)> {
        Vec::new()
    }
}

/// A connected engine: both halves, the identity directory and its admin writes, the
/// diagnostics cache, and the background tasks (heartbeats, subscription upkeep, identity tracking) that serve them,
/// aborted when the engine is dropped.
pub struct Engine {
    pub store: Arc<dyn Store>,
    /// The per-user undo and redo lists (the same engine object as the store).
    pub undo: Arc<dyn UndoStack<Error = EngineError>>,
    pub bus: Arc<dyn Bus>,
    pub directory: Arc<dyn Directory>,
    pub identity_admin: Arc<dyn IdentityAdmin>,
    pub diagnostics: Arc<dyn DiagnosticsCache<Error = EngineError>>,
    pub readiness: Arc<dyn Readiness>,
    /// Announcements of changed identity records, when the engine can make them (its
    /// [`ChangeFeed::is_live`] says whether it currently does); `None`: it never will, and
    /// revocation must poll.
    pub changes: Option<ChangeFeed>,
    /// The files' source records and write leases (`--files`).
    pub files: Option<Arc<dyn FileState>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Engine {
    /// Bundles an engine's parts with the tasks that must stop when it goes (announcing
    /// no identity changes until [`Engine::with_changes`]).
    pub fn new<S: Store + UndoStack<Error = EngineError>>(
        store: Arc<S>,
        bus: Arc<dyn Bus>,
        directory: Arc<dyn Directory>,
        identity_admin: Arc<dyn IdentityAdmin>,
        diagnostics: Arc<dyn DiagnosticsCache<Error = EngineError>>,
        readiness: Arc<dyn Readiness>,
        tasks: Vec<JoinHandle<()>>,
    ) -> Self {
        Engine {
            store: store.clone(),
            undo: store,
            bus,
            directory,
            identity_admin,
            diagnostics,
            readiness,
            changes: None,
            files: None,
            tasks,
        }
    }

    /// The engine keeps files' source records and leases in `files`.
    pub fn with_files(mut self, files: Arc<dyn FileState>) -> Self {
        self.files = Some(files);
        self
    }

    /// The engine announces identity changes on `changes`.
    pub fn with_changes(mut self, changes: Option<ChangeFeed>) -> Self {
        self.changes = changes;
        self
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
