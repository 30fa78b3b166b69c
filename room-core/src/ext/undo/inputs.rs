//! The room core's undo inputs: a popped item comes back from the engine, a joiner's
//! counts are read (the rules are [`crate::ext::undo::desk`]'s).

use crate::ext::undo::{Popped, UndoCounts};
use crate::presence::ConnId;

use crate::core::RoomCore;
use crate::effect::{Effects, PopRequest};
use crate::ext::undo::desk::{self as undo, Outcome};

impl RoomCore {
    /// The engine popped (or failed to pop) the item an undo or redo request asked for.
    pub fn on_popped(
        &mut self,
        request: PopRequest,
        popped: Result<Popped, String>,
        fx: &mut Effects,
    ) {
        let outcome = self
            .undos
            .on_popped(&request, popped, &self.replica, &self.members, fx);
        self.follow_undo(request, outcome, fx);
    }

    /// What an undo's outcome asks of the room: the result goes to the log like an edit.
    pub(crate) fn follow_undo(&mut self, request: PopRequest, outcome: Outcome, fx: &mut Effects) {
        match outcome {
            Outcome::Done => {}
            Outcome::CatchUp => self.catch_up(fx),
            Outcome::Applied { update, record } => {
                self.doc_bytes += update.len();
                self.append(request.conn, request.user, update, record, fx);
            }
            Outcome::Reload => self.reload(fx),
        }
    }

    /// A joiner that opted into undo gets its user's counts.
    pub fn on_undo_counts(&mut self, conn: ConnId, counts: UndoCounts, fx: &mut Effects) {
        undo::tell_counts(&self.members, conn, counts, fx);
    }
}
