//! When a file is written back: after edits settle, at least every max interval while
//! someone keeps typing, and never two writes at once.
//!
//! Inputs: an edit at `now`, a write finished (or failed), a flush request; the output is
//! "write the latest text now" ([`Schedule::poll`]). A write starts only when none is in
//! flight; edits made while one is in flight make the file dirty again, and the next write
//! (with the text of that moment) follows when the current one returns: a slow source gets
//! fewer, later writes, never a queue of them (Hocuspocus #1110). Sans-IO: the caller owns
//! the clock.

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Schedule {
    settle: Duration,
    max: Duration,
    /// The first edit not yet in a write, and the last one.
    dirty: Option<(Instant, Instant)>,
    in_flight: bool,
    /// Write as soon as nothing is in flight (room closing, gateway stopping).
    flush: bool,
}

impl Schedule {
    pub fn new(settle: Duration, max: Duration) -> Self {
        Schedule {
            settle,
            max: max.max(settle),
            dirty: None,
            in_flight: false,
            flush: false,
        }
    }

    /// The text changed at `now`.
    pub fn on_edit(&mut self, now: Instant) {
        self.dirty = Some(match self.dirty {
            Some((first, _)) => (first, now),
            None => (now, now),
        });
    }

    /// Write whatever is dirty as soon as no write is in flight.
    pub fn flush(&mut self) {
        self.flush = true;
    }

    /// When [`Schedule::poll`] will next say "write" (`None`: not while nothing changes).
    pub fn due(&self) -> Option<Instant> {
        if self.in_flight {
            return None;
        }
        let (first, last) = self.dirty?;
        if self.flush {
            return Some(first.min(last));
        }
        Some((last + self.settle).min(first + self.max))
    }

    /// Whether to start a write now; if so the dirt goes with it and a write is in flight.
    pub fn poll(&mut self, now: Instant) -> bool {
        match self.due() {
            Some(due) if due <= now => {
                self.dirty = None;
                self.in_flight = true;
                true
            }
            _ => false,
        }
    }

    /// The write in flight returned. `retry_at`: it did not write what it took (failed, or
    /// another gateway holds the file), try again then.
    pub fn on_written(&mut self, retry_at: Option<Instant>) {
        self.in_flight = false;
        if let Some(at) = retry_at {
            // Due at `at` at the earliest, whatever was typed before (no tight retries).
            let from = at.checked_sub(self.settle).unwrap_or(at);
            let last = self.dirty.map_or(from, |(_, last)| last.max(from));
            self.dirty = Some((from, last));
        }
        if self.dirty.is_none() {
            self.flush = false;
        }
    }

    pub fn is_dirty(&self) -> bool {
        self.dirty.is_some()
    }

    pub fn in_flight(&self) -> bool {
        self.in_flight
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn schedule() -> (Schedule, Instant) {
        (Schedule::new(100 * MS, 500 * MS), Instant::now())
    }

    #[test]
    fn writes_after_edits_settle() {
        let (mut s, t0) = schedule();
        assert!(!s.poll(t0));
        s.on_edit(t0);
        s.on_edit(t0 + 50 * MS);
        assert_eq!(s.due(), Some(t0 + 150 * MS));
        assert!(!s.poll(t0 + 149 * MS));
        assert!(s.poll(t0 + 150 * MS));
        assert!(!s.is_dirty() && s.in_flight());
    }

    #[test]
    fn continuous_typing_is_written_at_least_every_max() {
        let (mut s, t0) = schedule();
        let mut writes = Vec::new();
        for ms in (0..2000).step_by(20) {
            let now = t0 + ms * MS;
            s.on_edit(now);
            if s.poll(now) {
                writes.push(ms);
                s.on_written(None);
            }
        }
        assert_eq!(writes, vec![500, 1020, 1540]);
    }

    #[test]
    fn one_write_in_flight_and_the_next_only_after_it_returns() {
        let (mut s, t0) = schedule();
        s.on_edit(t0);
        assert!(s.poll(t0 + 100 * MS));
        // A slow write: edits keep coming far past the max interval.
        for ms in (110..3000).step_by(10) {
            s.on_edit(t0 + ms * MS);
            assert!(
                !s.poll(t0 + ms * MS),
                "a second write while one is in flight"
            );
        }
        s.on_written(None);
        // Overdue by the max bound: the latest text goes at once, and only one write.
        assert!(s.poll(t0 + 3000 * MS));
        assert!(!s.poll(t0 + 3001 * MS));
    }

    #[test]
    fn a_failed_write_retries_then() {
        let (mut s, t0) = schedule();
        s.on_edit(t0);
        assert!(s.poll(t0 + 100 * MS));
        s.on_written(Some(t0 + 1000 * MS));
        assert!(s.is_dirty());
        assert!(!s.poll(t0 + 999 * MS));
        assert!(s.poll(t0 + 1000 * MS));
    }

    #[test]
    fn a_flush_writes_at_once() {
        let (mut s, t0) = schedule();
        s.on_edit(t0);
        s.flush();
        assert!(s.poll(t0));
        s.on_written(None);
        assert!(!s.is_dirty() && !s.poll(t0 + 10_000 * MS));
    }
}
