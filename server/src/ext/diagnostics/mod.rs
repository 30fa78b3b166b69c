//! Diagnostics' IO on the gateway: running checks and the external sources' door. What a
//! room decides (when to check, who is shown what, the messages, the engine's
//! `DiagnosticsCache`) is the room core's (`collab_room_core::ext::diagnostics`).
//!
//! - [`check`]: running one job: the version hash, the cache look-up or claim, the parse
//!   on the [`pool`], storing and publishing the result.
//! - [`pool`]: the bounded set of threads parses run on, off every room's task.
//! - [`http`]: `POST` / `DELETE /files/{F}/diagnostics` for external sources ([`input`]
//!   checks their bodies).

pub mod check;
pub mod http;
pub mod input;
pub mod pool;

pub use pool::CheckPool;
