//! The room actor's report of its tables' sizes to the census: after an input, at most
//! every [`REPORT_EVERY`] (counting a room's cursors walks them all, which after every
//! input was 1.2% of a busy gateway's CPU); the room's periodic tick reports too, and its
//! share is taken back when it ends.

use std::time::{Duration, Instant};

use super::Actor;
use crate::room::tally::RoomSizes;

/// Least time between two reports of one room.
const REPORT_EVERY: Duration = Duration::from_millis(250);

impl Actor {
    pub(super) fn report_sizes(&mut self) {
        let now = Instant::now();
        if self
            .sizes_reported
            .is_some_and(|at| now.duration_since(at) < REPORT_EVERY)
        {
            return;
        }
        self.sizes_reported = Some(now);
        let sizes = RoomSizes {
            core: self.core.sizes(),
            outboxes: self.outboxes.len(),
            posts: self.posts.len(),
            file_keeper: self.files.is_some(),
        };
        self.tally.report(sizes);
    }
}
