//! One open file on this gateway: a sans-IO core and the actor task that runs it.
//!
//! - [`core`]: the room's state (replica, presence, members with their principal, log
//!   position, answer cache) and the rule for every input, returning [`effect`]s.
//! - [`apply`]: one update applied to the replica, timed, off the gateway's other tasks.
//! - [`answer`]: the sync step 2 answer shared by joiners that ask alike.
//! - [`undo`]: server-side undo in the room: capture, requests, applying popped items.
//! - [`diagnostics`]: when the text is checked, which markers watchers get, posts' versions.
//! - [`catch_up`]: how far the replica is level with the log, one read at a time.
//! - [`actor`]: the task around the core: channels, timers, send queues, running effects.
//! - [`appender`]: authored appends to the log, batched, and compaction.
//! - [`handle`]: the room's address, its commands, and what all rooms share.
//! - [`member`]: a connection as its room knows it (principal, opt-ins, read-only notice).

pub mod actor;
pub mod answer;
pub mod appender;
pub mod apply;
pub mod catch_up;
pub mod core;
pub mod diagnostics;
pub mod effect;
pub mod handle;
pub mod member;
pub mod undo;

#[cfg(test)]
mod actor_tests;
#[cfg(test)]
mod appender_tests;
#[cfg(test)]
mod core_cursor_tests;
#[cfg(test)]
mod core_diagnostics_tests;
#[cfg(test)]
mod core_tests;
#[cfg(test)]
mod core_undo_tests;
#[cfg(test)]
mod test_support;

pub use actor::spawn;
pub use handle::{JoinError, RoomCmd, RoomContext, RoomHandle};
