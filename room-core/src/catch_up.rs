//! How far a room's replica is level with the file's log, and the one log read at a time
//! that brings it up to date.
//!
//! Pub/sub may drop messages; the log does not. A gap in positions, a resubscription, an
//! overflowing inbox or a periodic head check that disagrees all end in one read of what
//! the replica lacks. Sans-IO: this says which read to run; the actor runs it beside the
//! room (so the room keeps relaying while Redis is slow) and hands back a [`Fetched`].

use std::collections::VecDeque;

use crate::digest::same_entry;
use crate::tail::{EntryMark, LogHead, Tail};

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

/// Most of this gateway's own appends remembered above the applied position (their
/// echoes not yet seen); past it the oldest are forgotten.
const MAX_WRITTEN: usize = 256;

/// The replica's log position and the state of the one read in flight.
#[derive(Debug, Default)]
pub struct CatchUp {
    /// Highest log position whose update (and all before it) the replica holds.
    applied: u64,
    /// The entry at `applied`, when the replica got it as an entry (not from a snapshot).
    /// After a failover to a replica that missed entries, the log can grow past `applied`
    /// again with other entries at the same positions: only the entry tells (see
    /// [`CatchUp::rewritten`]).
    applied_entry: Option<EntryMark>,
    /// This gateway's own appends above `applied`, in position order: where the store put
    /// them and what they were. Their echoes may have been lost (a failover), and the same
    /// gateway may append again at a lost position; the digest tells the two apart.
    written: VecDeque<(u64, EntryMark)>,
    reading: bool,
    /// A read was asked for while one ran: run it when that one ends.
    again: bool,
}

impl CatchUp {
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// The replica now holds everything up to `pos`, `entry` the entry at `pos` (`None`: a
    /// snapshot covered it).
    pub fn reached(&mut self, pos: u64, entry: Option<EntryMark>) {
        if pos <= self.applied {
            return;
        }
        self.applied = pos;
        self.applied_entry = entry;
        while self.written.front().is_some_and(|(at, _)| *at <= pos) {
            self.written.pop_front();
        }
    }

    /// Whether the log holds another entry at `pos` than the one this replica knows there:
    /// the one it applied at its position, or one this gateway appended above it. Then the
    /// log lost entries and others were appended in their place. An unknown entry on
    /// either side tells nothing.
    pub fn rewritten(&self, pos: u64, entry: Option<&EntryMark>) -> bool {
        let Some(log) = entry else {
            return false;
        };
        let applied = pos == self.applied
            && self
                .applied_entry
                .as_ref()
                .is_some_and(|ours| !same_entry(ours, log));
        applied
            || self
                .written_at(pos)
                .is_some_and(|ours| !same_entry(ours, log))
    }

    /// Whether this gateway remembers appends of its own above the applied position.
    pub fn has_written(&self) -> bool {
        !self.written.is_empty()
    }

    fn written_at(&self, pos: u64) -> Option<&EntryMark> {
        self.written
            .iter()
            .find(|(at, _)| *at == pos)
            .map(|(_, entry)| entry)
    }

    /// This gateway's append `entry` landed at `pos`. Returns whether that shows the log
    /// was rewritten: another entry is known at `pos` (an append of this gateway whose
    /// echo was lost, or the entry the replica applied there).
    pub fn wrote(&mut self, pos: u64, entry: EntryMark) -> bool {
        if self.rewritten(pos, Some(&entry)) {
            return true;
        }
        if pos > self.applied && self.written_at(pos).is_none() {
            if self.written.len() == MAX_WRITTEN {
                self.written.pop_front();
            }
            let at = self.written.partition_point(|(at, _)| *at < pos);
            self.written.insert(at, (pos, entry));
        }
        false
    }

    /// The replica holds nothing of the log (it was replaced, or the log went backwards).
    pub fn forget(&mut self) {
        self.applied = 0;
        self.applied_entry = None;
        self.written.clear();
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

    fn at(origin: &str, update: &[u8]) -> Option<EntryMark> {
        Some(EntryMark::of(origin, update))
    }

    fn named(origin: &str) -> Option<EntryMark> {
        Some(EntryMark {
            origin: origin.to_owned(),
            digest: None,
        })
    }

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
        log.reached(7, at("gw-a", b"x"));
        log.reached(3, at("gw-b", b"y"));
        assert_eq!(log.applied(), 7);
        assert!(
            !log.rewritten(7, at("gw-a", b"x").as_ref()),
            "an older position changes no entry"
        );
        log.forget();
        assert_eq!(log.applied(), 0);
        assert!(
            !log.rewritten(0, at("gw-a", b"x").as_ref()),
            "nothing applied, nothing rewritten"
        );
    }

    #[test]
    fn another_writer_at_the_applied_position_means_the_log_was_rewritten() {
        let mut log = CatchUp::default();
        log.reached(4, named("gw-a"));
        assert!(!log.rewritten(4, named("gw-a").as_ref()));
        assert!(log.rewritten(4, named("gw-b").as_ref()));
        assert!(
            !log.rewritten(5, named("gw-b").as_ref()),
            "another position tells nothing"
        );
        assert!(!log.rewritten(4, None), "a snapshot's head tells nothing");
        log.reached(5, None);
        assert!(
            !log.rewritten(5, named("gw-b").as_ref()),
            "a position reached from a snapshot has no known entry"
        );
        log.reached(6, named("gw-b"));
        assert!(log.rewritten(6, named("gw-a").as_ref()));
    }

    #[test]
    fn the_same_writers_other_entry_at_the_applied_position_is_a_rewrite() {
        let mut log = CatchUp::default();
        log.reached(4, at("gw-a", b"lost"));
        assert!(!log.rewritten(4, at("gw-a", b"lost").as_ref()));
        assert!(
            log.rewritten(4, at("gw-a", b"again").as_ref()),
            "the name is the same, the content is not"
        );
        assert!(
            !log.rewritten(4, named("gw-a").as_ref()),
            "an entry of an older gateway falls back to the writer's name"
        );
    }

    #[test]
    fn an_own_append_whose_echo_was_lost_is_recognised_by_content() {
        let mut log = CatchUp::default();
        log.reached(1, at("gw-a", b"before"));
        assert!(!log.wrote(2, EntryMark::of("gw-a", b"lost")));
        // The echo of 2 never came; a failover lost the entry, and this gateway appended
        // again at 2. Its own report, or any read of position 2, shows the other entry.
        assert!(log.rewritten(2, at("gw-a", b"again").as_ref()));
        assert!(log.wrote(2, EntryMark::of("gw-a", b"again")));
        assert!(!log.rewritten(2, at("gw-a", b"lost").as_ref()));
        assert!(
            log.rewritten(2, named("gw-b").as_ref()),
            "another writer's entry without a digest is another entry"
        );
        assert!(
            !log.rewritten(2, named("gw-a").as_ref()),
            "an own-named entry without a digest tells nothing (the old rule)"
        );
        assert!(!log.wrote(3, EntryMark::of("gw-a", b"next")));
        assert!(
            !log.wrote(3, EntryMark::of("gw-a", b"next")),
            "a repeat is no rewrite"
        );
    }

    #[test]
    fn own_appends_are_forgotten_once_the_replica_passes_them() {
        let mut log = CatchUp::default();
        assert!(!log.wrote(2, EntryMark::of("gw-a", b"two")));
        assert!(!log.wrote(3, EntryMark::of("gw-a", b"three")));
        log.reached(2, at("gw-a", b"two"));
        assert!(log.has_written(), "3 is still above the replica");
        log.reached(3, at("gw-a", b"three"));
        assert!(!log.has_written());
        assert!(
            log.wrote(3, EntryMark::of("gw-a", b"other")),
            "a report at the applied position with other content"
        );
        assert!(!log.wrote(3, EntryMark::of("gw-a", b"three")));
        log.forget();
        assert!(!log.wrote(3, EntryMark::of("gw-a", b"other")), "forgotten");
    }

    #[test]
    fn remembered_appends_are_bounded() {
        let mut log = CatchUp::default();
        for pos in 1..=(MAX_WRITTEN as u64 + 10) {
            assert!(!log.wrote(pos, EntryMark::of("gw-a", &pos.to_le_bytes())));
        }
        assert_eq!(log.written.len(), MAX_WRITTEN);
        assert!(
            !log.rewritten(1, at("gw-a", b"other").as_ref()),
            "forgotten"
        );
        let last = MAX_WRITTEN as u64 + 10;
        assert!(log.rewritten(last, at("gw-a", b"other").as_ref()));
    }
}
