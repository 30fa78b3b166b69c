//! What a feature module sees of the room, and what it may ask of it.

use collab_protocol::{Extension, UndoOp};

use crate::principal::Principal;

/// What a feature sees of the room when one of its messages arrives.
pub struct Context<'a> {
    /// Who sent the message.
    pub principal: &'a Principal,
}

/// What a feature asks the room to do in answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// An extension message for the connection that sent the request.
    ToSender(Extension),
    /// Undo or redo the sender's user's last change (the core asks the engine for it).
    Undo(UndoOp),
}
