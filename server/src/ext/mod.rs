//! The extensions' IO on the gateway, one folder per extension, beside their sans-IO home
//! in the room core (`collab_room_core::ext`): only what needs a runtime, HTTP or the
//! engine lives here.
//!
//! - [`diagnostics`]: the check pool, one check's run (cache look-up or claim, parse,
//!   store and publish) and the HTTP door for external sources.
//! - Undo needs nothing here: the room's actor and appender run its pops and count reads
//!   against the engine's `UndoStack`.
//! - The files extension of the next issue lands as `ext/files/` in both crates.

pub mod diagnostics;
