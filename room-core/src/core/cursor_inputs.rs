//! The room core's inputs about cursor ownership: the engine's answer to a claim of client
//! ids, and the renewal of the claims this gateway's users hold.
//!
//! A verified user's first state for a client id this gateway does not hold waits for the
//! claim (see [`crate::presence`]); granted, it is applied and relayed as if it had just
//! arrived; refused, it is dropped (`foreign-cursor`), whoever else holds the id.

use yrs::ClientID;

use super::RoomCore;
use crate::effect::{Effect, Effects};
use collab_protocol::envelope::Kind;

impl RoomCore {
    /// The engine's answer to [`Effect::ClaimCursors`] for `user`: per client id, whether
    /// it is `user`'s (an engine error answers "no" for every id).
    pub fn on_cursors_claimed(
        &mut self,
        user: &str,
        results: &[(ClientID, bool)],
        fx: &mut Effects,
    ) {
        if let Some((conn, changes)) = self.presence.claimed(user, results) {
            let except = self.members.contains_key(&conn).then_some(conn);
            fx.broadcast_states(&changes, except);
            fx.publish(Kind::Awareness, changes.encoded);
        }
    }

    /// Renews the claims of the client ids this gateway's connections hold, so they last
    /// while their users are here (and [`crate::presence::CURSOR_CLAIM_TTL`] after).
    pub(super) fn renew_cursor_claims(&mut self, fx: &mut Effects) {
        for (user, ids) in self.presence.local_claims() {
            fx.push(Effect::ClaimCursors { user, ids });
        }
    }
}
