//! The durable side of a file in Redis: its update log (a stream) and snapshot (a hash).
//!
//! [`RedisStore`] appends (one script that also publishes the update on the file's
//! channel), reads what a replica misses, and compacts with compare-and-set, all over one
//! shared multiplexed connection. The same append script records authored parts on their
//! authors' undo and redo lists, and pops them. Nothing here knows about sockets or rooms.
//!
//! Generic over the connection ([`Conn`]): the same store runs on one Redis server
//! (`ConnectionManager`) and on a Redis Cluster, where every call keeps to the file's slot
//! and the cluster client follows `MOVED`/`ASK` (and `Script` reloads a script a new slot
//! owner has never seen: `NOSCRIPT` -> `SCRIPT LOAD` -> `EVALSHA` again).

use collab_protocol::{FileId, Keys, UndoOp};
use futures_util::future::BoxFuture;
use redis::Script;

use super::conn::Conn;
use super::{scripts, value};
use crate::engine::compaction;
use crate::engine::error::EngineError;
use crate::engine::log::{AppendBatch, Appended, CompactOutcome};
use collab_room_core::ext::undo::{
    MAX_ITEM_BYTES, Popped, UndoCounts, UndoPolicy, UndoRecord, UndoStack,
};
use collab_room_core::tail::{LogHead, Tail};

use crate::engine::Store;

/// Log and snapshot access over a shared multiplexed connection.
#[derive(Clone)]
pub struct RedisStore<C> {
    conn: C,
    keys: Keys,
    /// Written as every entry's origin, so gateways skip their own updates.
    gateway_id: String,
    undo: UndoPolicy,
    append: Script,
    pop_undo: Script,
    undo_counts: Script,
    head: Script,
    read_since: Script,
    compact: Script,
    claim_cursors: Script,
}

/// The undo records of a batch as `(user, kind, item)` for the append script. Consecutive
/// edits of one user (a burst merged into one log entry) become one record: a stored
/// item is a concatenation of parts, so their parts are simply concatenated.
fn records(batch: &AppendBatch) -> Vec<(&str, &'static str, Vec<u8>)> {
    let mut out: Vec<(&str, &'static str, Vec<u8>)> = Vec::new();
    for part in batch.parts() {
        let (Some(user), Some(record)) = (&part.author, &part.undo) else {
            continue;
        };
        let (kind, item) = match record {
            UndoRecord::Edit(item) => ("e", item),
            UndoRecord::Undone(item) => ("u", item),
            UndoRecord::Redone(item) => ("r", item),
        };
        match out.last_mut() {
            Some((last, "e", parts)) if kind == "e" && *last == &**user => {
                parts.extend_from_slice(item)
            }
            _ => out.push((user, kind, item.clone())),
        }
    }
    out
}

/// Times a Redis round trip for the metrics.
async fn timed<T>(op: &'static str, call: impl Future<Output = T>) -> T {
    let started = std::time::Instant::now();
    let result = call.await;
    crate::metrics::redis_round_trip(op, started.elapsed());
    result
}

impl<C: Conn> RedisStore<C> {
    pub fn new(conn: C, keys: Keys, gateway_id: String, undo: UndoPolicy) -> Self {
        RedisStore {
            conn,
            keys,
            gateway_id,
            undo,
            append: Script::new(&scripts::append(C::FILE_PUBLISH)),
            pop_undo: Script::new(&scripts::pop_undo(C::FILE_PUBLISH)),
            undo_counts: Script::new(&scripts::undo_counts()),
            head: Script::new(&scripts::head()),
            read_since: Script::new(&scripts::read_since()),
            compact: Script::new(scripts::COMPACT),
            claim_cursors: Script::new(scripts::CLAIM_CURSORS),
        }
    }

    /// Appends the batch's update to the file's log, publishes it on the file's channel
    /// and records its authored parts on their authors' lists.
    async fn append_batch(
        &self,
        file: &FileId,
        batch: &AppendBatch,
    ) -> Result<Appended, EngineError> {
        let mut conn = self.conn.clone();
        let mut call = self.append.key(self.keys.log(file));
        call.key(self.keys.snap(file))
            .key(self.keys.channel(file))
            .arg(&self.gateway_id)
            .arg(batch.update())
            .arg(self.undo.capture.as_millis() as u64)
            .arg(self.undo.depth.max(1))
            .arg(self.undo.ttl.as_millis().max(1) as u64);
        call.arg(MAX_ITEM_BYTES)
            .arg(collab_room_core::digest::to_hex(batch.digest()));
        for (user, kind, item) in records(batch) {
            call.key(self.keys.undo(file, user))
                .key(self.keys.redo(file, user))
                .arg(kind)
                .arg(user)
                .arg(item);
        }
        let (pos, log_len): (u64, u64) = timed("append", call.invoke_async(&mut conn)).await?;
        Ok(Appended { pos, log_len })
    }

    async fn pop_item(&self, file: &FileId, user: &str, op: UndoOp) -> Result<Popped, EngineError> {
        let mut conn = self.conn.clone();
        let mut call = self.pop_undo.key(self.keys.undo(file, user));
        call.key(self.keys.redo(file, user))
            .key(self.keys.channel(file))
            .arg(match op {
                UndoOp::Undo => "u",
                UndoOp::Redo => "r",
            })
            .arg(&self.gateway_id)
            .arg(user);
        let reply: redis::Value = timed("pop-undo", call.invoke_async(&mut conn)).await?;
        value::parse_popped(reply)
    }

    /// Counts items, not list elements: the top item may span several (`scripts::ITEMS`).
    async fn read_counts(&self, file: &FileId, user: &str) -> Result<UndoCounts, EngineError> {
        let mut conn = self.conn.clone();
        let (undo, redo): (u64, u64) = self
            .undo_counts
            .key(self.keys.undo(file, user))
            .key(self.keys.redo(file, user))
            .invoke_async(&mut conn)
            .await?;
        Ok(UndoCounts { undo, redo })
    }

    async fn read_tail(&self, file: &FileId, since: u64) -> Result<Tail, EngineError> {
        let mut conn = self.conn.clone();
        let mut call = self.read_since.key(self.keys.log(file));
        call.key(self.keys.snap(file)).arg(since);
        let reply: redis::Value = timed("read", call.invoke_async(&mut conn)).await?;
        value::parse_tail(reply)
    }

    /// Merges the log into the snapshot and trims it, unless another gateway compacted
    /// first (compare-and-set on the snapshot position).
    async fn compact_log(&self, file: &FileId) -> Result<CompactOutcome, EngineError> {
        let tail = self.read_tail(file, 0).await?;
        let expected = tail.snapshot.as_ref().map_or(0, |(pos, _)| *pos);
        let new_pos = tail.head(0);
        if new_pos == expected {
            return Ok(CompactOutcome::NothingToDo);
        }
        let merged_entries = tail.entries.len();
        let state = tokio::task::spawn_blocking(move || compaction::merge(tail))
            .await
            .map_err(|e| EngineError::Corrupt(e.to_string()))??;
        let mut conn = self.conn.clone();
        let replaced: i64 = self
            .compact
            .key(self.keys.log(file))
            .key(self.keys.snap(file))
            .arg(expected)
            .arg(new_pos)
            .arg(state.as_slice())
            .invoke_async(&mut conn)
            .await?;
        Ok(if replaced == 1 {
            CompactOutcome::Compacted {
                pos: new_pos,
                entries: merged_entries,
                state_bytes: state.len(),
            }
        } else {
            CompactOutcome::LostRace
        })
    }
}

impl<C: Conn> UndoStack for RedisStore<C> {
    type Error = EngineError;

    fn pop<'a>(
        &'a self,
        file: &'a FileId,
        user: &'a str,
        op: UndoOp,
    ) -> BoxFuture<'a, Result<Popped, EngineError>> {
        Box::pin(self.pop_item(file, user, op))
    }

    fn counts<'a>(
        &'a self,
        file: &'a FileId,
        user: &'a str,
    ) -> BoxFuture<'a, Result<UndoCounts, EngineError>> {
        Box::pin(self.read_counts(file, user))
    }
}

impl<C: Conn> Store for RedisStore<C> {
    fn append<'a>(
        &'a self,
        file: &'a FileId,
        batch: &'a AppendBatch,
    ) -> BoxFuture<'a, Result<Appended, EngineError>> {
        Box::pin(self.append_batch(file, batch))
    }

    fn head<'a>(&'a self, file: &'a FileId) -> BoxFuture<'a, Result<LogHead, EngineError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let mut call = self.head.key(self.keys.log(file));
            call.key(self.keys.snap(file));
            let reply: redis::Value = timed("head", call.invoke_async(&mut conn)).await?;
            value::parse_head(reply)
        })
    }

    fn read_since<'a>(
        &'a self,
        file: &'a FileId,
        since: u64,
    ) -> BoxFuture<'a, Result<Tail, EngineError>> {
        Box::pin(self.read_tail(file, since))
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
        Box::pin(async move {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let mut call = self.claim_cursors.prepare_invoke();
            for id in ids {
                call.key(self.keys.cursor(file, *id));
            }
            call.arg(user).arg(ttl_ms.max(1));
            let mut conn = self.conn.clone();
            let granted: Vec<i64> = timed("claim_cursors", call.invoke_async(&mut conn)).await?;
            Ok(granted.into_iter().map(|g| g == 1).collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::engine::log::Authored;

    fn part(user: &str, record: Option<UndoRecord>) -> Authored {
        Authored {
            author: Some(Arc::from(user)),
            update: vec![0, 0],
            undo: record,
        }
    }

    #[test]
    fn consecutive_edits_of_one_user_are_one_record() {
        let parts = vec![
            part("ann", Some(UndoRecord::Edit(vec![1]))),
            part("ann", Some(UndoRecord::Edit(vec![2]))),
            part("bob", Some(UndoRecord::Edit(vec![3]))),
            part("bob", None),
            part("ann", Some(UndoRecord::Undone(vec![4]))),
            part("ann", Some(UndoRecord::Edit(vec![5]))),
        ];
        let batch = AppendBatch::merge(parts).expect("merges");
        let got = records(&batch);
        assert_eq!(
            got,
            vec![
                ("ann", "e", vec![1, 2]),
                ("bob", "e", vec![3]),
                ("ann", "u", vec![4]),
                ("ann", "e", vec![5]),
            ]
        );
    }
}
