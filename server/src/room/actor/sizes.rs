//! The room actor's report of its tables' sizes to the census (after each input).

use super::Actor;
use crate::room::tally::RoomSizes;

impl Actor {
    pub(super) fn report_sizes(&mut self) {
        let sizes = RoomSizes {
            core: self.core.sizes(),
            outboxes: self.outboxes.len(),
            posts: self.posts.len(),
            file_keeper: self.files.is_some(),
        };
        self.tally.report(sizes);
    }
}
