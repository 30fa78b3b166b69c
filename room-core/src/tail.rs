//! What a read of a file's log brings back: the snapshot and entries a replica lacks, and
//! the log's head. Plain data, the same for every engine; the room core applies it.

pub use crate::digest::EntryMark;

/// One log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub pos: u64,
    pub origin: String,
    pub update: Vec<u8>,
}

/// What a replica lacks: the snapshot (if the log was compacted past the replica's
/// position) and the entries after it.
#[derive(Debug, Default)]
pub struct Tail {
    /// `(position covered, v1 state)`.
    pub snapshot: Option<(u64, Vec<u8>)>,
    pub entries: Vec<LogEntry>,
    /// The log's head when it was read.
    pub log_head: u64,
    /// The entry at `since` itself, when the log still holds it: a replica that
    /// remembers another entry there knows the log was rewritten below it.
    pub at_since: Option<EntryMark>,
}

impl Tail {
    /// The log position a replica holds after applying this tail.
    pub fn head(&self, since: u64) -> u64 {
        let snap = self.snapshot.as_ref().map_or(since, |(pos, _)| *pos);
        self.entries.last().map_or(snap, |e| e.pos).max(since)
    }
}

/// The end of a file's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogHead {
    /// The last entry's position, or the snapshot's when compaction emptied the log.
    pub pos: u64,
    /// The last entry (`None` when the position is the snapshot's).
    pub last: Option<EntryMark>,
}
