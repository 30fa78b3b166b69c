//! Extension messages (wire type 100): one module per feature, dispatched by type here.
//!
//! The rule that unknown types are ignored, never fatal, lives in [`dispatch`] alone, so a
//! newer client can talk to an older gateway. A feature module sees what it needs of the
//! room through [`Context`] and answers with [`Reply`]s that the room core turns into
//! effects: it never does IO and never sees a socket. Server-side undo and diagnostics are
//! to be modules beside [`opt_in`], each one arm in [`dispatch`].

pub mod opt_in;

use collab_protocol::Extension;

use crate::access::Principal;
use crate::replica::Replica;

pub use opt_in::{Feature, OptIns};

/// What a feature sees of the room when one of its messages arrives.
pub struct Context<'a> {
    /// Who sent the message.
    pub principal: &'a Principal,
    /// What the sender opted into.
    pub opt_ins: OptIns,
    /// The room's copy of the file.
    pub replica: &'a Replica,
}

/// What a feature asks the room to do in answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// An extension message for the connection that sent the request.
    ToSender(Extension),
}

/// Hands one client extension message to the feature that owns its type.
pub fn dispatch(message: Extension, _cx: Context<'_>) -> Vec<Reply> {
    match message {
        // Gateways send errors; one from a client means nothing to a gateway.
        Extension::Error { .. } => ignored("error"),
        Extension::Unknown => ignored("unknown"),
    }
}

/// A type this gateway does not act on: ignored, never fatal.
fn ignored(kind: &'static str) -> Vec<Reply> {
    tracing::debug!(kind, "ignored an extension message");
    Vec::new()
}
