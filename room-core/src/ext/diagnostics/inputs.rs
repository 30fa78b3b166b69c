//! The room core's diagnostics inputs: the check timer, a finished check, the stored
//! markers read at open, and external posts (the rules are [`crate::ext::diagnostics::desk`]'s).
//! Time comes in as `now`: the core reads no clock.

use std::time::Instant;

use bytes::Bytes;

use crate::ext::diagnostics::CheckDone;

use crate::core::RoomCore;
use crate::effect::{Effect, Effects};
use crate::ext::diagnostics::post::PostCheck;

impl RoomCore {
    /// When the next diagnostics check is due, for the actor's timer; call after every
    /// input, so that changes are timed when they happen.
    pub fn diagnostics_due(&mut self, now: Instant) -> Option<Instant> {
        self.diag.due(self.replica.version(), now)
    }

    /// The timer fired: posts that waited too long are refused, and the text goes out to
    /// be versioned and checked, if that is still due.
    pub fn on_diagnostics_due(&mut self, now: Instant, fx: &mut Effects) {
        self.diag.expire_posts(now, fx);
        if self.diagnostics_due(now).is_some_and(|due| due <= now) {
            let job = self.diag.start(self.replica.text());
            fx.push(Effect::Check(job));
        }
    }

    /// A check asked for with [`Effect::Check`] finished (at `now`).
    pub fn on_checked(&mut self, done: Option<CheckDone>, now: Instant, fx: &mut Effects) {
        self.diag.on_checked(done, &self.members, fx, now);
    }

    /// The stored markers asked for with [`Effect::LoadDiagnostics`].
    pub fn on_diagnostics_loaded(&mut self, messages: Vec<Bytes>, fx: &mut Effects) {
        self.diag.on_loaded(messages, &self.members, fx);
    }

    /// Whether external posts wait for the room's word (the room must not close yet).
    pub fn posts_waiting(&self) -> bool {
        self.diag.posts_waiting()
    }

    /// An external tool posts (or removes) markers (at `now`): is its version this
    /// file's? The answer goes out as [`Effect::AnswerPost`].
    pub fn on_post(&mut self, post: PostCheck, now: Instant, fx: &mut Effects) {
        self.diag.on_post(post, now, fx);
    }
}
