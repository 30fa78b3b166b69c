//! Extension messages (wire type 100): one module per feature, dispatched by type here.
//!
//! The rule that unknown types are ignored, never fatal, lives in [`dispatch`] alone, so a
//! newer client can talk to an older gateway. A feature module sees what it needs of the
//! room through [`Context`] and answers with [`Reply`]s that the room core turns into
//! effects: it never does IO and never sees a socket. Each feature is a module beside
//! [`opt_in`] ([`undo`]), each one arm in [`dispatch`]. Diagnostics flow from the gateway
//! to clients only ([`crate::room::diagnostics`]); a client's `diagnostics` message is ignored.

pub mod context;
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
        Extension::FileState { .. } => ignored("file-state"),
        Extension::Unknown => ignored("unknown"),
    }
}

/// A type this gateway does not act on: ignored, never fatal.
fn ignored(kind: &'static str) -> Vec<Reply> {
    tracing::debug!(kind, "ignored an extension message");
    Vec::new()
}
