//! How far a room's replica is level with the file's log, and the one log read at a time
//! that brings it up to date.
//!
//! Pub/sub may drop messages; the log does not. A gap in positions, a resubscription, an
//! overflowing inbox or a periodic head check that disagrees all end in one read of what
//! the replica lacks. Sans-IO: this says which read to run; the actor runs it beside the
//! room (so the room keeps relaying while Redis is slow) and hands back a [`Fetched`].

use crate::tail::{LogHead, Tail};

use crate::effect::LogRead;

/// What a read of the log brought back.
#[derive(Debug)]
pub enum Fetched {
    /// Everything after `since`.
    Tail { since: u64, tail: Tail },
    /// The log's head position and who wrote it.
    Head(LogHead),
    /// Redis did not answer; a later check retries.
    Failed,
}

/// The replica's log position and the state of the one read in flight.
#[derive(Debug, Default)]
pub struct CatchUp {
    /// Highest log position whose update (and all before it) the replica holds.
    applied: u64,
    /// The gateway that wrote the entry at `applied`, when the replica got it as an entry
    /// (not from a snapshot). After a failover to a replica that missed entries, the log
    /// can grow past `applied` again with other writers at the same positions: only who
    /// wrote them tells (see [`CatchUp::rewritten`]).
    applied_by: Option<String>,
    reading: bool,
    /// A read was asked for while one ran: run it when that one ends.
    again: bool,
}

impl CatchUp {
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// The replica now holds everything up to `pos`, the entry at `pos` written by
    /// `origin` (`None`: a snapshot covered it).
    pub fn reached(&mut self, pos: u64, origin: Option<&str>) {
        if pos <= self.applied {
            return;
        }
        self.applied = pos;
        match (origin, &mut self.applied_by) {
            (Some(origin), Some(by)) => {
                by.clear();
                by.push_str(origin);
            }
            (Some(origin), None) => self.applied_by = Some(origin.to_owned()),
            (None, _) => self.applied_by = None,
        }
    }

    /// Whether the log holds another writer's entry at the replica's position `pos` than
    /// the one the replica applied there: the log lost entries and others were appended in
    /// their place. Unknown writers on either side tell nothing.
    pub fn rewritten(&self, pos: u64, origin: Option<&str>) -> bool {
        pos == self.applied
            && matches!((origin, &self.applied_by), (Some(log), Some(ours)) if log != ours)
    }

    /// The replica holds nothing of the log (it was replaced, or the log went backwards).
    pub fn forget(&mut self) {
        self.applied = 0;
        self.applied_by = None;
    }

    /// A read of what the replica lacks, unless one runs already (then it runs again after).
    pub fn read_tail(&mut self) -> Option<LogRead> {
        if self.reading {
            self.again = true;
            return None;
        }
        self.reading = true;
        Some(LogRead::Since(self.applied))
    }

    /// A read of the head only, unless any read runs already (it tells as much).
    pub fn check_head(&mut self) -> Option<LogRead> {
        if self.reading {
            return None;
        }
        self.reading = true;
        Some(LogRead::Head)
    }

    /// Whether a read is in flight (what waits for the log waits for its end).
    pub fn is_reading(&self) -> bool {
        self.reading
    }

    /// The read in flight ended. `behind`: what it brought shows the replica is behind.
    /// Returns whether a read of the tail is due now.
    pub fn finished(&mut self, behind: bool) -> bool {
        self.reading = false;
        std::mem::take(&mut self.again) || behind
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_read_at_a_time_and_a_request_meanwhile_runs_after() {
        let mut log = CatchUp::default();
        log.reached(4, None);
        assert_eq!(log.read_tail(), Some(LogRead::Since(4)));
        assert_eq!(log.read_tail(), None, "a read is in flight");
        assert_eq!(log.check_head(), None, "a read is in flight");
        assert!(log.finished(false), "the request made meanwhile is due");
        assert_eq!(log.read_tail(), Some(LogRead::Since(4)));
        assert!(!log.finished(false));
        assert_eq!(log.check_head(), Some(LogRead::Head));
        assert!(
            log.finished(true),
            "a head ahead of the replica calls for a read"
        );
    }

    #[test]
    fn positions_only_move_forward_until_forgotten() {
        let mut log = CatchUp::default();
        log.reached(7, Some("gw-a"));
        log.reached(3, Some("gw-b"));
        assert_eq!(log.applied(), 7);
        assert!(
            !log.rewritten(7, Some("gw-a")),
            "an older position changes no writer"
        );
        log.forget();
        assert_eq!(log.applied(), 0);
        assert!(
            !log.rewritten(0, Some("gw-a")),
            "nothing applied, nothing rewritten"
        );
    }

    #[test]
    fn another_writer_at_the_applied_position_means_the_log_was_rewritten() {
        let mut log = CatchUp::default();
        log.reached(4, Some("gw-a"));
        assert!(!log.rewritten(4, Some("gw-a")));
        assert!(log.rewritten(4, Some("gw-b")));
        assert!(
            !log.rewritten(5, Some("gw-b")),
            "another position tells nothing"
        );
        assert!(!log.rewritten(4, None), "a snapshot's head tells nothing");
        log.reached(5, None);
        assert!(
            !log.rewritten(5, Some("gw-b")),
            "a position reached from a snapshot has no known writer"
        );
        log.reached(6, Some("gw-b"));
        assert!(log.rewritten(6, Some("gw-a")));
    }
}
