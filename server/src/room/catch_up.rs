//! How far a room's replica is level with the file's log, and the one log read at a time
//! that brings it up to date.
//!
//! Pub/sub may drop messages; the log does not. A gap in positions, a resubscription, an
//! overflowing inbox or a periodic head check that disagrees all end in one read of what
//! the replica lacks. Sans-IO: this says which read to run; the actor runs it beside the
//! room (so the room keeps relaying while Redis is slow) and hands back a [`Fetched`].

use crate::engine::log::Tail;

use super::effect::LogRead;

/// What a read of the log brought back.
#[derive(Debug)]
pub enum Fetched {
    /// Everything after `since`.
    Tail { since: u64, tail: Tail },
    /// The log's head position.
    Head(u64),
    /// Redis did not answer; a later check retries.
    Failed,
}

/// The replica's log position and the state of the one read in flight.
#[derive(Debug, Default)]
pub struct CatchUp {
    /// Highest log position whose update (and all before it) the replica holds.
    applied: u64,
    reading: bool,
    /// A read was asked for while one ran: run it when that one ends.
    again: bool,
}

impl CatchUp {
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// The replica now holds everything up to `pos`.
    pub fn reached(&mut self, pos: u64) {
        self.applied = self.applied.max(pos);
    }

    /// The replica holds nothing of the log (it was replaced, or the log went backwards).
    pub fn forget(&mut self) {
        self.applied = 0;
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
        log.reached(4);
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
        log.reached(7);
        log.reached(3);
        assert_eq!(log.applied(), 7);
        log.forget();
        assert_eq!(log.applied(), 0);
    }
}
