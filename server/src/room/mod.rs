//! One open file on this gateway: a sans-IO core and the actor task that runs it.
//!
//! - [`core`]: the room's state (replica, presence, members with their principal, log
//!   position, answer cache) and the rule for every input, returning [`effect`]s.
//! - [`apply`]: one update applied to the replica, through the runner the shell gives.
//! - [`runtime`]: that runner (timed, big updates off the gateway's other tasks) and the
//!   clock cursors' ages are read from: what the core asks of the runtime.
//! - [`answer`]: the sync step 2 answer shared by joiners that ask alike.
//! - [`undo`]: server-side undo in the room: capture, requests, applying popped items.
//! - [`diagnostics`]: when the text is checked, which markers watchers get, posts' versions.
//! - [`catch_up`]: how far the replica is level with the log, one read at a time.
//! - [`actor`]: the task around the core: channels, timers, send queues, running effects.
//! - [`appender`]: authored appends to the log, batched, and compaction.
//! - [`handle`]: the room's address, its commands, and what all rooms share.
//! - [`member`]: a connection as its room knows it (principal, opt-ins, read-only notice).

pub mod actor;
pub mod appender;
pub mod handle;
pub mod runtime;

pub use actor::spawn;
pub use handle::{JoinError, RoomCmd, RoomContext, RoomHandle};
