//! The sizes of the tables inside open rooms, summed over the gateway for the census
//! ([`crate::census`]): a room reports its sizes after each input it handles
//! ([`RoomTally::report`]) and takes its share back when its task ends (the tally is
//! dropped with the actor), so a scrape reads a few atomics and asks no room.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use collab_room_core::core::Sizes;

/// Sums of the open rooms' tables.
#[derive(Default)]
pub struct RoomTotals {
    members: AtomicI64,
    outboxes: AtomicI64,
    posts: AtomicI64,
    file_keepers: AtomicI64,
    awareness_states: AtomicI64,
    cursor_owners: AtomicI64,
    held_cursors: AtomicI64,
    /// Rooms open now and rooms ended since start: the churn that leaves freed memory
    /// behind, which the trimmer ([`crate::trimmer`]) waits for.
    open: AtomicI64,
    ended: AtomicU64,
    /// Told when the last open room ends.
    idle: tokio::sync::Notify,
}

/// Rooms open now and rooms ended so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomChurn {
    pub open: u64,
    pub ended: u64,
}

/// What one room reports of itself to [`RoomTotals`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoomSizes {
    pub core: Sizes,
    pub outboxes: usize,
    pub posts: usize,
    pub file_keeper: bool,
}

impl RoomTotals {
    /// The sums, named as in [`crate::census::TABLES`].
    pub fn sizes(&self) -> [(&'static str, usize); 7] {
        let load = |counter: &AtomicI64| counter.load(Ordering::Relaxed).max(0) as usize;
        [
            ("room_members", load(&self.members)),
            ("room_outboxes", load(&self.outboxes)),
            ("room_posts", load(&self.posts)),
            ("room_file_keepers", load(&self.file_keepers)),
            ("awareness_states", load(&self.awareness_states)),
            ("cursor_owners", load(&self.cursor_owners)),
            ("held_cursors", load(&self.held_cursors)),
        ]
    }

    /// Rooms open now and rooms ended so far.
    pub fn churn(&self) -> RoomChurn {
        RoomChurn {
            open: self.open.load(Ordering::Relaxed).max(0) as u64,
            ended: self.ended.load(Ordering::Relaxed),
        }
    }

    /// Returns once the last open room has ended (at once when that happened since the
    /// previous call and nobody was waiting).
    pub async fn last_room_ended(&self) {
        self.idle.notified().await
    }

    fn add(&self, sizes: &RoomSizes, sign: i64) {
        let add = |counter: &AtomicI64, n: usize| {
            if n > 0 {
                counter.fetch_add(sign * n as i64, Ordering::Relaxed);
            }
        };
        add(&self.members, sizes.core.members);
        add(&self.outboxes, sizes.outboxes);
        add(&self.posts, sizes.posts);
        add(&self.file_keepers, usize::from(sizes.file_keeper));
        add(&self.awareness_states, sizes.core.awareness_states);
        add(&self.cursor_owners, sizes.core.cursor_owners);
        add(&self.held_cursors, sizes.core.held_cursors);
    }
}

/// One room's last report; handing in new sizes moves the totals by the difference, and
/// dropping it takes the room's share back.
pub struct RoomTally {
    totals: Arc<RoomTotals>,
    last: RoomSizes,
}

impl RoomTally {
    pub fn new(totals: Arc<RoomTotals>) -> Self {
        totals.open.fetch_add(1, Ordering::Relaxed);
        RoomTally {
            totals,
            last: RoomSizes::default(),
        }
    }

    pub fn report(&mut self, now: RoomSizes) {
        if now != self.last {
            self.totals.add(&self.last, -1);
            self.totals.add(&now, 1);
            self.last = now;
        }
    }
}

impl Drop for RoomTally {
    fn drop(&mut self) {
        self.report(RoomSizes::default());
        self.totals.ended.fetch_add(1, Ordering::Relaxed);
        if self.totals.open.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.totals.idle.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(members: usize, outboxes: usize) -> RoomSizes {
        RoomSizes {
            core: Sizes {
                members,
                awareness_states: members,
                ..Sizes::default()
            },
            outboxes,
            ..RoomSizes::default()
        }
    }

    #[test]
    fn a_tally_moves_the_totals_and_takes_its_share_back_when_dropped() {
        let totals = Arc::new(RoomTotals::default());
        let mut a = RoomTally::new(totals.clone());
        let mut b = RoomTally::new(totals.clone());
        a.report(sizes(3, 3));
        b.report(sizes(2, 1));
        a.report(sizes(1, 2));
        assert_eq!(totals.members.load(Ordering::Relaxed), 3);
        assert_eq!(totals.outboxes.load(Ordering::Relaxed), 3);
        drop(a);
        assert_eq!(totals.members.load(Ordering::Relaxed), 2);
        drop(b);
        assert_eq!(totals.members.load(Ordering::Relaxed), 0);
        assert_eq!(totals.awareness_states.load(Ordering::Relaxed), 0);
        assert_eq!(totals.outboxes.load(Ordering::Relaxed), 0);
        let churn = totals.churn();
        assert_eq!((churn.open, churn.ended), (0, 2), "both rooms ended");
    }
}
