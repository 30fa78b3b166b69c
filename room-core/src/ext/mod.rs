//! Extension messages (wire type 100) and the extensions behind them: one home per
//! extension, dispatched by type here.
//!
//! The rule that unknown types are ignored, never fatal, lives in [`dispatch`] alone, so a
//! newer client can talk to an older gateway. A feature sees what it needs of the room
//! through [`Context`] and answers with [`Reply`]s that the room core turns into effects:
//! it never does IO and never sees a socket. [`opt_in`] parses `?ext=`, the unsolicited
//! messages a connection asked for.
//!
//! Each extension is one folder holding its wire-side request handling, its room-core
//! inputs and effects, its engine interface and its logic:
//! - [`undo`]: server-side undo and redo per user (`UndoStack` in the engine);
//! - [`diagnostics`]: syntax and external markers per version of the text
//!   (`DiagnosticsCache` in the engine). Diagnostics flow from the gateway to clients
//!   only; a client's `diagnostics` message is ignored.
//! - `files/` is the next one's place, in the same shape.
//!
//! What needs IO (threads, HTTP, the engines' Redis implementations) stays in the gateway
//! crate, in the folder of the same name (`collab_server::ext::diagnostics`) or behind the
//! engine traits (`collab_server::engine::redis`).

pub mod context;
pub mod diagnostics;
pub mod opt_in;
pub mod undo;

use collab_protocol::{Extension, UndoOp};

pub use context::{Context, Reply};
pub use opt_in::{Feature, OptIns};

/// Hands one client extension message to the feature that owns its type.
pub fn dispatch(message: Extension, cx: Context<'_>) -> Vec<Reply> {
    match message {
        Extension::Undo => undo::request(UndoOp::Undo, &cx),
        Extension::Redo => undo::request(UndoOp::Redo, &cx),
        // Gateways send errors and undo states; from a client they mean nothing.
        Extension::Error { .. } => ignored("error"),
        Extension::UndoState { .. } => ignored("undo-state"),
        Extension::Diagnostics { .. } => ignored("diagnostics"),
        Extension::Unknown => ignored("unknown"),
    }
}

/// A type this gateway does not act on: ignored, never fatal.
fn ignored(kind: &'static str) -> Vec<Reply> {
    tracing::debug!(kind, "ignored an extension message");
    Vec::new()
}
