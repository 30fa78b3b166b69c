//! Diagnostics on the gateway: syntax errors found with tree-sitter (`collab-syntax`),
//! computed once per version of a file's text, cached in the engine, and markers pushed
//! by external tools over HTTP.
//!
//! - [`job`]: what a room hands out to be checked and what comes back (plain data).
//! - [`check`]: running one job: the version hash, the cache look-up or claim, the parse
//!   on the [`pool`], storing and publishing the result.
//! - [`pool`]: the bounded set of threads parses run on, off every room's task.
//! - [`message`]: the `diagnostics` message as JSON and as a frame.
//! - [`http`]: `POST` / `DELETE /files/{F}/diagnostics` for external sources ([`input`]
//!   checks their bodies).
//!
//! A room decides *when* to check ([`crate::ext::diagnostics::desk`]); nothing here touches a
//! socket or a room's state.

pub mod cache;
pub mod desk;
mod inputs;
pub mod job;
pub mod message;

#[cfg(test)]
mod core_tests;

pub use cache::{DiagPolicy, DiagnosticsCache, Lookup};
pub use job::{CheckDone, CheckJob, Settings, SyntaxOutcome};

/// The source name of the gateway's own syntax markers.
pub const SYNTAX: &str = "syntax";
