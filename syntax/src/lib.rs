//! Syntax-error markers for Monaco, from tree-sitter, kept incremental per file. Sans-IO:
//! the gateway owns the text, calls in from a bounded worker pool, and ships the result
//! as a `diagnostics` message (`source: "syntax"`).
//!
//! How a check flows:
//! - [`language`]: the path's extension picks a grammar, or none (no markers).
//! - [`checker`]: a [`SyntaxChecker`] per open file keeps the last text and tree; a new
//!   text is diffed against it, the edit applied to the tree, and the parse reruns
//!   incrementally within [`Limits`] (bytes, time). Skipped or stopped parses drop state.
//!   [`check_once`] is the stateless full parse every check must agree with.
//! - `markers`: a walk over error-holding subtrees turns outermost ERROR and MISSING
//!   nodes into [`Marker`]s, in document order.
//! - `position`: byte offsets become 1-based Monaco lines (split at `\r\n`, `\n`, `\r`)
//!   and UTF-16 columns; tree-sitter's own rows and byte columns are never shown.
//! - [`version`]: the SHA-256 naming the text the markers belong to.

pub mod checker;
pub mod language;
mod markers;
mod position;
pub mod version;

pub use checker::{Limits, Skipped, SyntaxChecker, check_once};
pub use collab_protocol::Marker;
pub use language::Language;
pub use version::version;
