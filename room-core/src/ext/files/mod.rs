//! Files, the room core's side: where a file lives besides Redis (a directory, or the
//! sandbox's file agent), kept in step with the live document both ways. Sans-IO: the
//! gateway's `collab_server::ext::files` reads and writes the source and holds the write
//! lease; this folder decides what the bytes mean and what the document does with them.
//!
//! - [`text`]: the file's bytes as the document's text (UTF-8 within `--max-file-bytes`,
//!   kept exactly: CRLF, BOM) and the seed update that opens a fresh file with it.
//! - [`merge`]: an outside change (the file moved from the base, the text last synced, to
//!   `theirs`) carried over to the live text as splices, so typing made meanwhile survives.
//! - [`schedule`]: when to write back (edits settled, at least every `--write-back-max-ms`,
//!   one write in flight, the next with the latest text).
//! - [`notice`]: the file's last `file-state`, for joiners that opted in (`?ext=files`)
//!   and, through the file's channel, for the members of every gateway holding the file.
//! - the core's inputs: applying a merge as an ordinary update authored by `sandbox`, and
//!   telling opted-in members the file's state.

mod inputs;
pub mod merge;
pub mod notice;
pub mod schedule;
pub mod text;

pub use inputs::SANDBOX_AUTHOR;
pub use merge::{DIFF_BUDGET, Splice, merge};
pub use schedule::Schedule;
