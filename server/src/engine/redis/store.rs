//! The durable side of a file: its update log and snapshot in Redis.
//!
//! Rooms append accepted updates ([`Store::append`], which also publishes them on the
//! file's channel in the same atomic script), read what they miss ([`Store::read_since`])
//! and compact ([`Store::compact`]). Nothing here knows about sockets or rooms.

mod compaction;
mod scripts;
mod value;

use collab_protocol::{FileId, Keys};
use redis::Script;
use redis::aio::ConnectionManager;
use thiserror::Error;

pub use compaction::CompactOutcome;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("unexpected reply from redis: {0}")]
    Reply(String),
    #[error("stored update cannot be merged: {0}")]
    Corrupt(String),
}

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
}

impl Tail {
    /// The log position a replica holds after applying this tail.
    pub fn head(&self, since: u64) -> u64 {
        let snap = self.snapshot.as_ref().map_or(since, |(pos, _)| *pos);
        self.entries.last().map_or(snap, |e| e.pos).max(since)
    }
}

/// Result of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub pos: u64,
    pub log_len: u64,
}

/// Log and snapshot access over a shared multiplexed connection.
#[derive(Clone)]
pub struct Store {
    conn: ConnectionManager,
    keys: Keys,
    append: Script,
    head: Script,
    read_since: Script,
    compact: Script,
}

/// Times a Redis round trip for the metrics.
async fn timed<T>(op: &'static str, call: impl Future<Output = T>) -> T {
    let started = std::time::Instant::now();
    let result = call.await;
    crate::metrics::redis_round_trip(op, started.elapsed());
    result
}

impl Store {
    pub fn new(conn: ConnectionManager, keys: Keys) -> Self {
        Store {
            conn,
            keys,
            append: Script::new(&scripts::append()),
            head: Script::new(&scripts::head()),
            read_since: Script::new(&scripts::read_since()),
            compact: Script::new(scripts::COMPACT),
        }
    }

    /// Appends `update` to the file's log and publishes it on the file's channel.
    pub async fn append(
        &self,
        file: &FileId,
        origin: &str,
        update: &[u8],
    ) -> Result<Appended, StoreError> {
        let mut conn = self.conn.clone();
        let mut call = self.append.key(self.keys.log(file));
        call.key(self.keys.snap(file))
            .key(self.keys.channel(file))
            .arg(origin)
            .arg(update);
        let (pos, log_len): (u64, u64) = timed("append", call.invoke_async(&mut conn)).await?;
        Ok(Appended { pos, log_len })
    }

    /// The position of the last update in the file's log (0 for a new file).
    pub async fn head(&self, file: &FileId) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        let mut call = self.head.key(self.keys.log(file));
        call.key(self.keys.snap(file));
        Ok(timed("head", call.invoke_async(&mut conn)).await?)
    }

    /// Everything after position `since` (0: the whole file).
    pub async fn read_since(&self, file: &FileId, since: u64) -> Result<Tail, StoreError> {
        let mut conn = self.conn.clone();
        let mut call = self.read_since.key(self.keys.log(file));
        call.key(self.keys.snap(file)).arg(since);
        let reply: redis::Value = timed("read", call.invoke_async(&mut conn)).await?;
        value::parse_tail(reply)
    }

    /// Merges the log into the snapshot and trims it, unless another gateway compacted
    /// first (compare-and-set on the snapshot position).
    pub async fn compact(&self, file: &FileId) -> Result<CompactOutcome, StoreError> {
        let tail = self.read_since(file, 0).await?;
        let expected = tail.snapshot.as_ref().map_or(0, |(pos, _)| *pos);
        let new_pos = tail.head(0);
        if new_pos == expected {
            return Ok(CompactOutcome::NothingToDo);
        }
        let merged_entries = tail.entries.len();
        let state = tokio::task::spawn_blocking(move || compaction::merge(tail))
            .await
            .map_err(|e| StoreError::Corrupt(e.to_string()))??;
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

    /// Round trip to Redis, for readiness.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        Ok(())
    }
}
