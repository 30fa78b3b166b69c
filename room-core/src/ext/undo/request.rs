//! The undo feature's requests: `{"type":"undo"}` and `{"type":"redo"}` from a connection.
//!
//! Only a writer may undo: a read-only member is answered with the same `read-only` error
//! as its dropped edits. A writer's request becomes [`Reply::Undo`]; the room core pops the
//! user's item from the engine and applies it (see [`crate::ext::undo`]).

use collab_protocol::{Extension, UndoOp, close};

use crate::ext::context::{Context, Reply};

/// Answers an undo or redo request.
pub fn request(op: UndoOp, cx: &Context<'_>) -> Vec<Reply> {
    if !cx.principal.may_write() {
        crate::metrics::rejected("read-only");
        let error = Extension::error(
            close::FORBIDDEN,
            "read-only",
            format!(
                "this connection may read the file but not {} changes",
                op.name()
            ),
        );
        return vec![Reply::ToSender(error)];
    }
    vec![Reply::Undo(op)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::principal::{Access, Principal};

    #[test]
    fn a_writer_asks_the_room_and_a_reader_is_refused() {
        let writer = Principal::anonymous();
        let reader = Principal {
            verified: true,
            access: Access::ReadOnly,
            ..Principal::anonymous()
        };
        let cx = |principal| Context { principal };
        assert_eq!(
            request(UndoOp::Undo, &cx(&writer)),
            vec![Reply::Undo(UndoOp::Undo)]
        );
        match request(UndoOp::Redo, &cx(&reader)).as_slice() {
            [Reply::ToSender(Extension::Error { code, reason, .. })] => {
                assert_eq!((*code, reason.as_str()), (4403, "read-only"));
            }
            other => panic!("expected a read-only error, got {other:?}"),
        }
    }
}
