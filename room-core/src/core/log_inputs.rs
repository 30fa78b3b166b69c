//! The room core's log inputs: a catch-up asked for, a finished read of the log, a log
//! that went backwards (Redis lost entries this replica has). The position bookkeeping is
//! [`crate::catch_up`]'s.

use crate::catch_up::Fetched;
use crate::core::RoomCore;
use crate::effect::{Effect, Effects};
use crate::tail::{EntryMark, Tail};

impl RoomCore {
    /// The bus says messages may have been lost (a resubscription, an overflow).
    pub fn on_catch_up_requested(&mut self, fx: &mut Effects) {
        self.catch_up(fx);
    }

    /// Compares the log head with the replica's position (a dropped last message shows
    /// no gap until the next one).
    pub(crate) fn check_head(&mut self, fx: &mut Effects) {
        if let Some(read) = self.log.check_head() {
            fx.push(Effect::ReadLog(read));
        }
    }

    /// Reads what this replica missed from the log.
    pub(crate) fn catch_up(&mut self, fx: &mut Effects) {
        crate::metrics::catch_up();
        if let Some(read) = self.log.read_tail() {
            fx.push(Effect::ReadLog(read));
        }
    }

    /// A log read asked for with [`Effect::ReadLog`] finished.
    pub fn on_fetched(&mut self, fetched: Fetched, fx: &mut Effects) {
        let behind = match fetched {
            Fetched::Tail { since, tail }
                if tail.log_head < since
                    || self.log.rewritten(since, tail.at_since.as_ref())
                    || self.contradicts_own(&tail) =>
            {
                self.log.finished(false);
                return self.restore_lost_log(fx);
            }
            Fetched::Head(head) if self.log.rewritten(head.pos, head.last.as_ref()) => {
                self.log.finished(false);
                return self.restore_lost_log(fx);
            }
            Fetched::Tail { since, tail } => {
                self.apply_tail(tail, true, fx);
                if std::mem::take(&mut self.overflowed) {
                    tracing::info!("redis answers again: storing the whole document");
                    self.append_whole_state(fx);
                }
                if self.applied() > since {
                    tracing::debug!(from = since, to = self.applied(), "caught up from the log");
                }
                false
            }
            Fetched::Head(head) => head.pos != self.applied(),
            Fetched::Failed => false,
        };
        if self.log.finished(behind) {
            self.catch_up(fx);
        }
        let reading = self.log.is_reading();
        for (request, outcome) in self.undos.retry(reading, &self.replica, &self.members, fx) {
            self.follow_undo(request, outcome, fx);
        }
    }

    /// Whether a read entry takes the place of one this gateway appended (an append whose
    /// echo was lost and the log then lost too).
    fn contradicts_own(&self, tail: &Tail) -> bool {
        self.log.has_written()
            && tail.entries.iter().any(|e| {
                self.log
                    .rewritten(e.pos, Some(&EntryMark::of(&e.origin, &e.update)))
            })
    }

    /// The appender stored this gateway's update `update_digest` at `pos`. Another entry
    /// known at that position (an own append whose echo a failover lost) means the log
    /// lost it: restore it from this replica.
    pub fn on_stored(&mut self, pos: u64, update_digest: u64, fx: &mut Effects) {
        let entry = EntryMark {
            origin: self.settings.gateway_id.to_string(),
            digest: Some(update_digest),
        };
        if self.log.wrote(pos, entry) {
            self.restore_lost_log(fx);
        }
    }

    /// The appender saw an append land at or below the applied position: the log lost
    /// entries this replica has (see [`RoomCore::restore_lost_log`]).
    pub fn on_log_went_backwards(&mut self, fx: &mut Effects) {
        self.restore_lost_log(fx);
    }

    /// Redis lost entries this replica had seen (a restart without persistence, a failover
    /// to a lagging replica): positions start again below ours, or other writers' entries
    /// took ours. Re-read what is there, and give the log this replica's whole state, so
    /// the document in Redis is whole again.
    pub(crate) fn restore_lost_log(&mut self, fx: &mut Effects) {
        tracing::warn!(
            applied = self.applied(),
            "the log in redis went backwards; restoring it from this replica"
        );
        self.log.forget();
        self.append_whole_state(fx);
        self.catch_up(fx);
    }
}
