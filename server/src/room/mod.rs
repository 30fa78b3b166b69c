//! One open file on this gateway: the actor task around a sans-IO room core.
//!
//! The core (`collab_room_core::core::RoomCore`: replica, presence, members, log position,
//! the extensions' desks) decides; this module runs it:
//! - [`actor`]: the task around the core: channels, timers, the clock, send queues,
//!   external posts waiting for their answer, running the core's effects.
//! - [`beside`]: the one channel through which tasks beside a room hand it their results.
//! - [`appender`]: authored appends to the log, batched, undo pops in order after them,
//!   and compaction.
//! - [`runtime`]: what the core asks of the runtime: how an apply runs (timed, a big
//!   update off the gateway's other tasks) and the clock cursors' ages are read from.
//! - [`handle`]: the room's address, its commands, and what all rooms share.
//! - [`published`]: what a room shows outside without being asked (people, edits, file
//!   state), for the status page.
//! - [`tally`]: the sizes of the open rooms' tables, summed for the census.

pub mod actor;
pub mod appender;
pub mod beside;
pub mod handle;
pub mod published;
pub mod runtime;
pub mod tally;

pub use actor::spawn;
pub use handle::{JoinError, Joining, RoomCmd, RoomContext, RoomHandle};

#[cfg(test)]
mod actor_tests;
#[cfg(test)]
mod appender_tests;
#[cfg(test)]
mod footprint_tests;
