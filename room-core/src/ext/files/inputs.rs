//! The room core's files inputs: an outside change to merge into the document, and
//! file-state notices for the members that opted into `?ext=files` (the rules are
//! [`super::merge`]'s and [`super::notice`]'s; the keeper beside the actor decides when).

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use collab_protocol::Extension;
use collab_protocol::message::encode_update;
use yrs::{Text, Transact};

use super::merge::{Splice, merge};

use crate::core::RoomCore;
use crate::effect::{Effect, Effects};

/// The author of merged outside changes, on the log and in undo.
pub const SANDBOX_AUTHOR: &str = "sandbox";

impl RoomCore {
    /// The file changed outside from `base` (the text last synced) to `theirs`: the change
    /// is applied to the live document as an ordinary update authored by `sandbox`, relayed
    /// and appended. The diff gives up at `deadline` (the caller's clock: the core reads
    /// none). Returns whether the document changed.
    pub fn on_outside_change(
        &mut self,
        base: &str,
        theirs: &str,
        deadline: Instant,
        fx: &mut Effects,
    ) -> bool {
        let live = self.replica.text();
        let splices = merge(base, theirs, &live, deadline);
        if splices.is_empty() {
            return false;
        }
        let text = self.replica.text_ref();
        let update = {
            let mut txn = self.replica.doc().transact_mut();
            for splice in &splices {
                match splice {
                    Splice::Delete { at, len } => text.remove_range(&mut txn, *at, *len),
                    Splice::Insert { at, text: s } => text.insert(&mut txn, *at, s),
                }
            }
            txn.encode_update_v1()
        };
        self.replica.touched();
        self.answers.forget();
        self.doc_bytes += update.len();
        fx.broadcast(Bytes::from(encode_update(&update)), None);
        self.pending.force_reserve(update.len());
        fx.push(Effect::Append {
            author: Some(Arc::from(SANDBOX_AUTHOR)),
            update,
            undo: None,
        });
        true
    }

    /// Sends `notice` (a `file-state` message) to every member that opted into files, on
    /// this gateway and, through the file's channel, on the others; joiners get it too.
    pub fn tell_file_state(&mut self, notice: Extension, fx: &mut Effects) {
        self.file_notices.tell(notice, &self.members, fx);
    }

    /// Whether this room knows the file's state (told here or heard from another gateway).
    pub fn knows_file_state(&self) -> bool {
        self.file_notices.known()
    }
}
