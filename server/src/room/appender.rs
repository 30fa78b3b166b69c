//! A room's appender: accepted updates, with their authors, go to the log in order, and
//! undo requests pop their item in that same order.
//!
//! Runs as its own task so the room never waits on Redis. Whatever queued up while an
//! append was in flight becomes one log entry (merged), but the store receives each
//! update with its author, so per-user undo records are written in the same atomic
//! script. An undo request queued behind a user's edits pops only once those edits (and
//! their undo items) are stored, so "type, then undo at once" undoes what was typed.
//! Retries appends while Redis is unreachable and compacts when the log grows.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use collab_protocol::FileId;
use tokio::sync::mpsc;

use crate::engine::Store;
use crate::engine::log::{AppendBatch, Authored, CompactOutcome};

use super::handle::RoomContext;
use collab_room_core::effect::PopRequest;
use collab_room_core::ext::undo::Popped;

/// What a room hands its appender, in order.
#[derive(Debug)]
pub enum Job {
    /// An authored update, with the log position the room had applied when it was
    /// handed over: the log's head was at least that, so the append must land above it.
    Append(Authored, u64),
    /// Pop a user's undo or redo item once everything queued before is stored.
    Pop(PopRequest),
}

/// A pop's outcome, for the room.
pub type PopResult = (PopRequest, Result<Popped, String>);

/// Most bytes of updates merged into one log entry.
const MAX_BATCH_BYTES: usize = 1 << 20;

/// Where the appender reports back to its room.
pub struct Reports {
    /// Pops' results.
    pub popped: mpsc::UnboundedSender<PopResult>,
    /// An append landed at or below a position the room had already applied: the log in
    /// Redis went backwards (a failover to a replica that missed acknowledged appends)
    /// even though its head may since have passed the room's position again.
    pub went_backwards: mpsc::UnboundedSender<()>,
    /// Each stored entry's position and the digest of its bytes, so the room recognises
    /// its own entries by content even when their echoes are lost.
    pub stored: mpsc::UnboundedSender<(u64, u64)>,
}

/// Starts the appender of `file`'s room; it ends when the returned sender is dropped.
pub fn spawn(file: FileId, ctx: Arc<RoomContext>, reports: Reports) -> mpsc::UnboundedSender<Job> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(append_in_order(file, ctx, rx, reports));
    tx
}

async fn append_in_order(
    file: FileId,
    ctx: Arc<RoomContext>,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    reports: Reports,
) {
    let compacting = Arc::new(AtomicBool::new(false));
    let mut held = None;
    while let Some(job) = match held.take() {
        Some(job) => Some(job),
        None => jobs.recv().await,
    } {
        let (first, mut floor) = match job {
            Job::Append(first, applied) => (first, applied),
            Job::Pop(request) => {
                let result = ctx.undo.pop(&file, &request.user, request.op).await;
                let _ = reports
                    .popped
                    .send((request, result.map_err(|e| e.to_string())));
                continue;
            }
        };
        let mut bytes = first.update.len();
        let mut parts = vec![first];
        while bytes < MAX_BATCH_BYTES {
            match jobs.try_recv() {
                Ok(Job::Append(next, applied)) => {
                    bytes += next.update.len();
                    floor = floor.max(applied);
                    parts.push(next);
                }
                Ok(pop) => {
                    held = Some(pop);
                    break;
                }
                Err(_) => break,
            }
        }
        let batches = if parts.len() == 1 {
            parts.into_iter().map(AppendBatch::single).collect()
        } else {
            match AppendBatch::merge(parts) {
                Ok(merged) => vec![merged],
                Err(failed) => {
                    let error = failed.error;
                    tracing::error!(file = %file, %error, "merging updates failed; appending one by one");
                    failed.parts.into_iter().map(AppendBatch::single).collect()
                }
            }
        };
        for batch in &batches {
            let pos = append_until_stored(&file, &ctx, batch, &compacting).await;
            if pos <= floor {
                tracing::warn!(file = %file, pos, applied = floor, "an append landed below what the room applied");
                let _ = reports.went_backwards.send(());
            } else {
                let _ = reports.stored.send((pos, batch.digest()));
            }
        }
        ctx.pending.release(bytes);
    }
}

/// Appends `batch`, retrying until Redis takes it; returns its log position.
async fn append_until_stored(
    file: &FileId,
    ctx: &Arc<RoomContext>,
    batch: &AppendBatch,
    compacting: &Arc<AtomicBool>,
) -> u64 {
    let mut backoff = Duration::from_millis(50);
    loop {
        match ctx.store.append(file, batch).await {
            Ok(appended) => {
                if appended.log_len > ctx.config.compact_after
                    && !compacting.swap(true, Ordering::AcqRel)
                {
                    let store = ctx.store.clone();
                    tokio::spawn(compact(file.clone(), store, compacting.clone()));
                }
                return appended.pos;
            }
            Err(error) => {
                tracing::warn!(file = %file, %error, "append failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
    }
}

async fn compact(file: FileId, store: Arc<dyn Store>, compacting: Arc<AtomicBool>) {
    match store.compact(&file).await {
        Ok(CompactOutcome::Compacted {
            pos,
            entries,
            state_bytes,
        }) => {
            crate::metrics::compaction("compacted");
            tracing::debug!(file = %file, pos, entries, state_bytes, "compacted the log");
        }
        Ok(outcome) => {
            crate::metrics::compaction(match outcome {
                CompactOutcome::LostRace => "lost-race",
                _ => "nothing-to-do",
            });
            tracing::debug!(file = %file, ?outcome, "compaction skipped");
        }
        Err(error) => {
            crate::metrics::compaction("failed");
            tracing::warn!(file = %file, %error, "compaction failed");
        }
    }
    compacting.store(false, Ordering::Release);
}
