//! The in-memory engine's logs and snapshots: [`MemoryStore`], the
//! [`Store`](crate::engine::Store) of one gateway on a [`super::MemoryServer`].
//!
//! Mirrors the Redis scripts: positions are derived from the log (the last entry's, or
//! the snapshot's when compaction emptied it), an append stores, publishes and records
//! undo ([`super::undo`]) in one step under the server's lock, a read returns the snapshot only when it
//! covers positions after the reader's, and compaction is compare-and-set on the
//! snapshot's position.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use collab_protocol::envelope::Kind;
use collab_protocol::{FileId, UndoOp};
use futures_util::future::BoxFuture;

use super::bus::Channels;
use super::shared::{Clock, lock};
use super::undo::MemoryUndo;
use crate::engine::Store;
use crate::engine::compaction;
use crate::engine::error::EngineError;
use crate::engine::log::{AppendBatch, Appended, CompactOutcome};
use collab_room_core::ext::undo::{Popped, UndoCounts, UndoStack};
use collab_room_core::tail::{EntryMark, LogEntry, LogHead, Tail};

/// What the server holds of one file.
#[derive(Debug, Default)]
pub struct FileData {
    /// Entries not yet compacted, in position order.
    entries: VecDeque<LogEntry>,
    /// `(position covered, v1 state)`.
    snapshot: Option<(u64, Vec<u8>)>,
}

impl FileData {
    fn snapshot_pos(&self) -> u64 {
        self.snapshot.as_ref().map_or(0, |(pos, _)| *pos)
    }

    fn head(&self) -> LogHead {
        match self.entries.back() {
            Some(last) => LogHead {
                pos: last.pos,
                last: Some(EntryMark::of(&last.origin, &last.update)),
            },
            None => LogHead {
                pos: self.snapshot_pos(),
                last: None,
            },
        }
    }

    /// What a replica at `since` lacks (the Redis `read_since` script).
    fn tail(&self, since: u64) -> Tail {
        let spos = self.snapshot_pos();
        let at_since = (since > 0 && since > spos)
            .then(|| self.entries.iter().find(|e| e.pos == since))
            .flatten()
            .map(|e| EntryMark::of(&e.origin, &e.update));
        let (snapshot, from) = match &self.snapshot {
            Some((pos, state)) if *pos > since => (Some((*pos, state.clone())), *pos),
            _ => (None, since),
        };
        Tail {
            snapshot,
            entries: self
                .entries
                .iter()
                .filter(|e| e.pos > from)
                .cloned()
                .collect(),
            log_head: self.head().pos,
            at_since,
        }
    }
}

/// Every file's data, under one lock: an append and what it publishes are one step.
pub type Files = Mutex<HashMap<FileId, FileData>>;

/// One gateway's access to the server's logs, snapshots and undo lists.
pub struct MemoryStore {
    pub files: Arc<Files>,
    /// Where appends (and undo count notices) are published.
    pub channels: Arc<Channels>,
    pub clock: Arc<Clock>,
    /// Claims on awareness client ids.
    pub cursors: Arc<super::cursors::Claims>,
    /// Written as every entry's origin, so gateways skip their own updates.
    pub gateway: Arc<str>,
    /// The undo lists an append records on.
    pub undo: MemoryUndo,
}

impl MemoryStore {
    fn append_now(&self, file: &FileId, batch: &AppendBatch) -> Appended {
        let now = self.clock.now_ms();
        let mut files = lock(&self.files);
        let data = files.entry(file.clone()).or_default();
        let pos = data.head().pos + 1;
        let update = batch.update().to_vec();
        let payload = Bytes::copy_from_slice(&update);
        data.entries.push_back(LogEntry {
            pos,
            origin: self.gateway.to_string(),
            update,
        });
        let kind = Kind::Update { pos };
        self.channels.deliver(file, &self.gateway, kind, payload);
        // Still under the files' lock: the lists change in the same step as the log.
        self.undo.record(file, batch, now);
        Appended {
            pos,
            log_len: data.entries.len() as u64,
        }
    }

    fn read(&self, file: &FileId, since: u64) -> Tail {
        let files = lock(&self.files);
        files
            .get(file)
            .map_or_else(Tail::default, |data| data.tail(since))
    }

    async fn compact_log(&self, file: &FileId) -> Result<CompactOutcome, EngineError> {
        let tail = self.read(file, 0);
        let expected = tail.snapshot.as_ref().map_or(0, |(pos, _)| *pos);
        let new_pos = tail.head(0);
        if new_pos == expected {
            return Ok(CompactOutcome::NothingToDo);
        }
        let merged_entries = tail.entries.len();
        let state = tokio::task::spawn_blocking(move || compaction::merge(tail))
            .await
            .map_err(|e| EngineError::Corrupt(e.to_string()))??;
        let mut files = lock(&self.files);
        let data = files.entry(file.clone()).or_default();
        if data.snapshot_pos() != expected {
            return Ok(CompactOutcome::LostRace);
        }
        let state_bytes = state.len();
        data.snapshot = Some((new_pos, state));
        data.entries.retain(|e| e.pos > new_pos);
        Ok(CompactOutcome::Compacted {
            pos: new_pos,
            entries: merged_entries,
            state_bytes,
        })
    }
}

impl Store for MemoryStore {
    fn append<'a>(
        &'a self,
        file: &'a FileId,
        batch: &'a AppendBatch,
    ) -> BoxFuture<'a, Result<Appended, EngineError>> {
        let appended = self.append_now(file, batch);
        Box::pin(async move { Ok(appended) })
    }

    fn head<'a>(&'a self, file: &'a FileId) -> BoxFuture<'a, Result<LogHead, EngineError>> {
        let files = lock(&self.files);
        let head = files
            .get(file)
            .map_or(LogHead { pos: 0, last: None }, FileData::head);
        Box::pin(async move { Ok(head) })
    }

    fn read_since<'a>(
        &'a self,
        file: &'a FileId,
        since: u64,
    ) -> BoxFuture<'a, Result<Tail, EngineError>> {
        let tail = self.read(file, since);
        Box::pin(async move { Ok(tail) })
    }

    fn compact<'a>(
        &'a self,
        file: &'a FileId,
    ) -> BoxFuture<'a, Result<CompactOutcome, EngineError>> {
        Box::pin(self.compact_log(file))
    }

    fn claim_cursors<'a>(
        &'a self,
        file: &'a FileId,
        user: &'a str,
        ids: &'a [u64],
        ttl_ms: u64,
    ) -> BoxFuture<'a, Result<Vec<bool>, EngineError>> {
        let granted = self
            .cursors
            .claim(file, user, ids, self.clock.now_ms(), ttl_ms);
        Box::pin(async move { Ok(granted) })
    }
}

impl UndoStack for MemoryStore {
    type Error = EngineError;

    fn pop<'a>(
        &'a self,
        file: &'a FileId,
        user: &'a str,
        op: UndoOp,
    ) -> BoxFuture<'a, Result<Popped, EngineError>> {
        let popped = self.undo.pop(file, user, op);
        Box::pin(async move { Ok(popped) })
    }

    fn counts<'a>(
        &'a self,
        file: &'a FileId,
        user: &'a str,
    ) -> BoxFuture<'a, Result<UndoCounts, EngineError>> {
        let counts = self.undo.counts(file, user);
        Box::pin(async move { Ok(counts) })
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
