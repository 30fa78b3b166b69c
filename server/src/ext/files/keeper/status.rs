//! The keeper's state in a word, for the status page ([`crate::room::published`]): read
//! from its flags, never from the text (comparing texts after every input would cost a
//! copy of the document each time).

use crate::room::published::{FileStatus, FileSyncStatus};

use super::Keeper;

impl Keeper {
    pub fn status(&self) -> FileStatus {
        let state = if self.failed {
            FileSyncStatus::Failed
        } else if self.schedule.in_flight() {
            FileSyncStatus::Saving
        } else if self.schedule.is_dirty() {
            FileSyncStatus::Dirty
        } else if self.busy {
            FileSyncStatus::Checking
        } else {
            FileSyncStatus::Saved
        };
        FileStatus {
            state,
            last_write: self.last_write,
            writer: self.holder,
        }
    }
}
