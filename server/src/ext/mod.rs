//! The extensions' IO on the gateway, one folder per extension, beside their sans-IO home
//! in the room core (`collab_room_core::ext`): only what needs a runtime, HTTP or the
//! engine lives here.
//!
//! - [`diagnostics`]: the check pool, one check's run (cache look-up or claim, parse,
//!   store and publish) and the HTTP door for external sources.
//! - Undo needs nothing here: the room's actor and appender run its pops and count reads
//!   against the engine's `UndoStack`.
//! - [`files`]: the file sources (a directory, the sandbox's agent), seeding once, and
//!   the keeper that writes back and merges outside changes under the file's lease.

pub mod diagnostics;
pub mod files;
