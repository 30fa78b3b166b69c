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

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesOrdered;

use crate::engine::Store;
use crate::engine::error::EngineError;
use crate::engine::log::{AppendBatch, Appended, Authored, CompactOutcome};

use super::beside::{Beside, Results};
use super::handle::RoomContext;
use collab_room_core::effect::PopRequest;

/// What a room hands its appender, in order.
#[derive(Debug)]
pub enum Job {
    /// An authored update, with the log position the room had applied when it was
    /// handed over: the log's head was at least that, so the append must land above it.
    Append(Authored, u64),
    /// Pop a user's undo or redo item once everything queued before is stored.
    Pop(PopRequest),
}

/// Most bytes of updates merged into one log entry.
const MAX_BATCH_BYTES: usize = 1 << 20;

/// Starts the appender of `file`'s room; it ends when the returned sender is dropped.
pub fn spawn(file: FileId, ctx: Arc<RoomContext>, reports: Results) -> mpsc::UnboundedSender<Job> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(append_in_order(file, ctx, rx, reports));
    tx
}

/// Most appends of one file in flight at once. Redis runs a connection's commands in the
/// order they arrive, so appends sent in order land in order, and with four in flight an
/// edit no longer waited for the previous append's round trip (edit-storm p99 halved).
/// But with four, the Redis Cluster chaos test lost edits in 1 of 6 seeds (master kill -9,
/// slot moves), and with one it passed: until that is understood, appends stay serial.
const IN_FLIGHT: usize = 1;

/// An append that went to Redis, and what to do once it landed.
struct Flight {
    batch: AppendBatch,
    /// The room's applied position when the batch was handed over: it must land above.
    floor: u64,
    /// Bytes of pending appends to release once it is stored.
    bytes: usize,
}

type Landing = BoxFuture<'static, (Flight, Result<Appended, EngineError>)>;

async fn append_in_order(
    file: FileId,
    ctx: Arc<RoomContext>,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    reports: Results,
) {
    let compacting = Arc::new(AtomicBool::new(false));
    let mut flying: FuturesOrdered<Landing> = FuturesOrdered::new();
    let mut held = None;
    let landed = |flight: Flight, result| {
        let (file, ctx, compacting, reports) = (&file, &ctx, &compacting, &reports);
        async move {
            let appended = match result {
                Ok(appended) => appended,
                // Appends sent after this one may have landed meanwhile: this one then
                // lands after them, which yrs copes with (a replica keeps an update until
                // its predecessors arrive); only a failure can reorder them.
                Err(error) => {
                    tracing::warn!(file = %file, %error, "append failed; retrying");
                    append_until_stored(file, ctx, &flight.batch).await
                }
            };
            compact_if_due(file, ctx, &appended, compacting);
            let pos = appended.pos;
            if pos <= flight.floor {
                tracing::warn!(file = %file, pos, applied = flight.floor, "an append landed below what the room applied");
                reports.send(Beside::WentBackwards);
            } else {
                reports.send(Beside::Stored(pos, flight.batch.digest()));
            }
            ctx.pending.release(flight.bytes);
        }
    };
    loop {
        let job = match held.take() {
            Some(job) => Some(job),
            None if flying.len() >= IN_FLIGHT => {
                if let Some((flight, result)) = flying.next().await {
                    landed(flight, result).await;
                }
                continue;
            }
            None => tokio::select! {
                biased;
                Some((flight, result)) = flying.next(), if !flying.is_empty() => {
                    landed(flight, result).await;
                    continue;
                }
                job = jobs.recv() => job,
            },
        };
        let Some(Job::Append(first, mut floor)) = job else {
            // A pop runs once everything queued before it is stored; the end of the jobs
            // waits for what is in flight.
            while let Some((flight, result)) = flying.next().await {
                landed(flight, result).await;
            }
            match job {
                Some(Job::Pop(request)) => {
                    let result = ctx.undo.pop(&file, &request.user, request.op).await;
                    let popped = (request, result.map_err(|e| e.to_string()));
                    reports.send(Beside::Popped(Box::new(popped)));
                    continue;
                }
                _ => return,
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
        let batches: Vec<AppendBatch> = if parts.len() == 1 {
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
        let last = batches.len() - 1;
        for (n, batch) in batches.into_iter().enumerate() {
            let bytes = if n == last { bytes } else { 0 };
            flying.push_back(send(
                &file,
                &ctx,
                Flight {
                    batch,
                    floor,
                    bytes,
                },
            ));
        }
    }
}

/// The append of `flight`'s batch; its command goes out when the future is first polled.
fn send(file: &FileId, ctx: &Arc<RoomContext>, flight: Flight) -> Landing {
    let (file, store) = (file.clone(), ctx.store.clone());
    Box::pin(async move {
        let result = store.append(&file, &flight.batch).await;
        (flight, result)
    })
}

/// Starts a compaction in the background when this append made the log long enough.
fn compact_if_due(
    file: &FileId,
    ctx: &Arc<RoomContext>,
    appended: &Appended,
    compacting: &Arc<AtomicBool>,
) {
    if compaction_due(appended.log_len, ctx.config.compact_after)
        && !compacting.swap(true, Ordering::AcqRel)
    {
        let store = ctx.store.clone();
        tokio::spawn(compact(file.clone(), store, compacting.clone()));
    }
}

/// Appends `batch`, retrying until Redis takes it.
async fn append_until_stored(
    file: &FileId,
    ctx: &Arc<RoomContext>,
    batch: &AppendBatch,
) -> Appended {
    let mut backoff = Duration::from_millis(50);
    loop {
        match ctx.store.append(file, batch).await {
            Ok(appended) => return appended,
            Err(error) => {
                tracing::warn!(file = %file, %error, "append failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
    }
}

/// Whether the append that made the log `log_len` entries long should start a compaction.
///
/// Every gateway writing to a file sees the log grow past `compact_after`; had each of them
/// compacted on every append past it, two gateways compacted every file at once, and one of
/// them always lost the race after reading and merging the whole log (half of all
/// compactions in an edit-storm, with Redis busy for each). Redis gives each length to
/// exactly one append, so only the append that crosses the threshold starts one, and, in
/// case that gateway died or failed, every `compact_after / 4` entries after it another.
pub(super) fn compaction_due(log_len: u64, compact_after: u64) -> bool {
    let every = (compact_after / 4).max(1);
    log_len > compact_after && (log_len - compact_after - 1).is_multiple_of(every)
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
