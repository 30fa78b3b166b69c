//! What a room shows outside without being asked: the people in it, how many edits it
//! made, the state of its file. The room's task writes it as those change (a short lock,
//! never held across an await) and readers such as the status page ([`crate::status`])
//! copy it out.
//!
//! Why published rather than asked for: a status page polled every second must never
//! queue behind a busy room's commands, nor make a room do work for it. Writing costs the
//! room an uncontended lock per join, leave and file-state change, and one atomic add per
//! edit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use collab_room_core::presence::ConnId;

use crate::access::{ANONYMOUS, Access, Principal};

/// A room's published facts; one per room, shared by its handle.
#[derive(Debug, Default)]
pub struct Published {
    /// Accepted edits authored through this room (its clients', undo results, merged
    /// outside changes), since it opened.
    edits: AtomicU64,
    facts: Mutex<Facts>,
}

#[derive(Debug, Default, Clone)]
struct Facts {
    people: HashMap<ConnId, Person>,
    file: Option<FileStatus>,
}

/// One connection's person, as the file's other viewers see it on its cursor.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Person {
    /// The name on the cursor: the user record's `name`, else the user id (which the
    /// cursor then shows too), or `anonymous` for connections without a verified
    /// identity (their cursors carry whatever the client wrote).
    pub name: Arc<str>,
    pub color: Option<Arc<str>>,
    pub read_only: bool,
}

impl Person {
    fn of(principal: &Principal) -> Person {
        let name = match (&principal.name, principal.verified) {
            (Some(name), true) => name.clone(),
            (None, true) => principal.user.clone(),
            (_, false) => Arc::from(ANONYMOUS),
        };
        Person {
            name,
            color: principal.color.clone().filter(|_| principal.verified),
            read_only: !principal.may_write(),
        }
    }
}

/// Where a room's file stands with its source (`--files dir|sandbox`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStatus {
    pub state: FileSyncStatus,
    /// When this gateway last wrote the file, if it did since the room opened.
    pub last_write: Option<Instant>,
    /// Whether this gateway held the file's write lease at its last job (the lease holder
    /// writes; the others' state is what they last did or heard).
    pub writer: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileSyncStatus {
    /// Nothing waits to be written.
    Saved,
    /// Edits wait for the next write.
    Dirty,
    /// A write is on its way.
    Saving,
    /// A read of the source is on its way (at open, or after an outside change).
    Checking,
    /// The last job failed; it is retried.
    Failed,
}

impl FileSyncStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FileSyncStatus::Saved => "saved",
            FileSyncStatus::Dirty => "dirty",
            FileSyncStatus::Saving => "saving",
            FileSyncStatus::Checking => "checking",
            FileSyncStatus::Failed => "failed",
        }
    }
}

/// A copy of a room's facts at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub edits: u64,
    /// One entry per connection.
    pub people: Vec<Person>,
    pub file: Option<FileStatus>,
}

impl Published {
    fn facts(&self) -> MutexGuard<'_, Facts> {
        // Nothing panics while holding it; a poisoned lock still holds whole facts.
        self.facts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn joined(&self, conn: ConnId, principal: &Principal) {
        self.facts().people.insert(conn, Person::of(principal));
    }

    pub fn left(&self, conn: ConnId) {
        self.facts().people.remove(&conn);
    }

    pub fn access_changed(&self, conn: ConnId, access: Access) {
        if let Some(person) = self.facts().people.get_mut(&conn) {
            person.read_only = access == Access::ReadOnly;
        }
    }

    pub fn edited(&self) {
        self.edits.fetch_add(1, Ordering::Relaxed);
    }

    pub fn edits(&self) -> u64 {
        self.edits.load(Ordering::Relaxed)
    }

    /// Records the file's status; a status equal to the last one costs a compare.
    pub fn file(&self, status: FileStatus) {
        let mut facts = self.facts();
        if facts.file != Some(status) {
            facts.file = Some(status);
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        let facts = self.facts().clone();
        Snapshot {
            edits: self.edits(),
            people: facts.people.into_values().collect(),
            file: facts.file,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(name: Option<&str>, verified: bool, access: Access) -> Principal {
        Principal {
            user: Arc::from("u-secret-id"),
            name: name.map(Arc::from),
            color: Some(Arc::from("#123456")),
            access,
            verified,
        }
    }

    #[test]
    fn people_show_as_their_cursors_do() {
        let published = Published::default();
        published.joined(1, &principal(Some("Ann"), true, Access::ReadWrite));
        published.joined(2, &principal(None, true, Access::ReadOnly));
        published.joined(3, &principal(Some("Claimed"), false, Access::ReadWrite));
        let mut names: Vec<(String, bool)> = published
            .snapshot()
            .people
            .iter()
            .map(|p| (p.name.to_string(), p.read_only))
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                ("Ann".to_owned(), false),
                ("anonymous".to_owned(), false),
                ("u-secret-id".to_owned(), true),
            ]
        );
        published.access_changed(2, Access::ReadWrite);
        published.left(1);
        published.left(3);
        let people = published.snapshot().people;
        assert_eq!(people.len(), 1);
        assert!(!people[0].read_only);
    }

    #[test]
    fn edits_and_file_state_are_kept() {
        let published = Published::default();
        published.edited();
        published.edited();
        let status = FileStatus {
            state: FileSyncStatus::Dirty,
            last_write: None,
            writer: true,
        };
        published.file(status);
        let snapshot = published.snapshot();
        assert_eq!(snapshot.edits, 2);
        assert_eq!(snapshot.file, Some(status));
    }
}
