//! Diagnostics, in one home: syntax errors found with tree-sitter (`collab-syntax`),
//! computed once per version of a file's text, cached in the engine, and markers pushed
//! by external tools.
//!
//! - [`desk`]: the room's side: when the text is checked, which markers each watcher is
//!   shown, which versions posts may name; its inputs to
//!   [`RoomCore`](crate::core::RoomCore) (the timer, a finished check, stored markers, a
//!   post) sit beside it.
//! - [`job`]: what a room hands out to be checked and what comes back (plain data).
//! - [`message`]: the `diagnostics` message as JSON and as a frame.
//! - [`post`]: an external tool's post and the room's word on it.
//! - [`cache`]: the engine's interface, [`DiagnosticsCache`] (look-up or claim, store,
//!   latest, clear); the Redis implementation is the gateway's.
//!
//! Running a check (hash, cache, parse on a bounded pool) and the HTTP door for external
//! tools need threads and IO: they are the gateway's (`collab_server::ext::diagnostics`).

pub mod cache;
pub mod desk;
mod inputs;
pub mod job;
pub mod message;
pub mod post;

#[cfg(test)]
mod core_tests;

pub use cache::{DiagPolicy, DiagnosticsCache, Lookup};
pub use job::{CheckDone, CheckJob, Settings, SyntaxOutcome};

/// The source name of the gateway's own syntax markers.
pub const SYNTAX: &str = "syntax";
