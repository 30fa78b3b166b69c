//! From touches to reported changes: coalesce a burst on one path, look at the file once it
//! has been quiet, report it if it differs from what subscribers know.
//!
//! A touched path is due [`Settle::quiet`] after its last touch, or [`Settle::max_wait`]
//! after its first (a file rewritten without pause is still reported). When it is due, under
//! the path's lock (so never halfway through one of the agent's PUTs), the file is hashed:
//! - a file: `changed` with its ETag, unless [`Known`] already has that ETag (the agent's own
//!   PUT, or a burst that ended where it began);
//! - missing: `deleted` if [`Known`] has it (the agent read, wrote or reported it), so a
//!   temp file created and renamed away, or a directory, is never reported; known files
//!   below it are looked at too (a directory removed or moved away);
//! - a directory (created, or moved in): its files are touched as new, since files made in a
//!   new directory before inotify watched it have no events of their own;
//! - a symlink or special file: nothing (the target's own events report it).

use std::collections::HashMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;

use super::Change;
use super::watch::{self, Touch};
use crate::etag;
use crate::known::Known;
use crate::locks::Locks;

/// Most files one new directory may add to the feed in one look.
const MAX_SCAN: usize = 100_000;

/// Touches taken from the channel before the deadlines are recomputed.
const DRAIN_BATCH: usize = 1024;

/// The settle stage's configuration and shared state.
pub struct Settle {
    pub root: PathBuf,
    pub known: Arc<Known>,
    pub locks: Arc<Locks>,
    pub out: broadcast::Sender<Change>,
    /// Quiet time after the last touch before a file is looked at.
    pub quiet: Duration,
    /// Longest a touched file waits to be looked at, however busy it is.
    pub max_wait: Duration,
}

/// One event's `data`, fields in the contract's order.
#[derive(serde::Serialize)]
struct ChangeEvent<'a> {
    path: &'a str,
    /// The quoted ETag; `null` for `deleted`.
    etag: Option<String>,
    kind: &'static str,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    first: Instant,
    last: Instant,
}

/// What a look at a path found.
enum Look {
    File(String),
    Missing,
    Dir(Vec<String>),
    Other,
}

impl Settle {
    /// Runs until the watcher's channel closes.
    pub async fn run(self, mut touches: mpsc::Receiver<Touch>) {
        let mut pending: HashMap<String, Pending> = HashMap::new();
        loop {
            let next = pending.values().map(|p| self.due(p)).min();
            tokio::select! {
                touch = touches.recv() => {
                    let Some(touch) = touch else { return };
                    let now = Instant::now();
                    self.note(&mut pending, touch, now);
                    for _ in 0..DRAIN_BATCH {
                        match touches.try_recv() {
                            Ok(touch) => self.note(&mut pending, touch, now),
                            Err(_) => break,
                        }
                    }
                }
                () = sleep_until(next), if next.is_some() => {
                    let now = Instant::now();
                    let mut ready: Vec<(String, Pending)> = pending
                        .iter()
                        .filter(|(_, p)| self.due(p) <= now)
                        .map(|(path, p)| (path.clone(), *p))
                        .collect();
                    ready.sort_by_key(|(_, p)| self.due(p));
                    for (path, _) in ready {
                        pending.remove(&path);
                        self.look_and_report(&path, &mut pending).await;
                    }
                }
            }
        }
    }

    fn due(&self, p: &Pending) -> Instant {
        (p.last + self.quiet).min(p.first + self.max_wait)
    }

    fn note(&self, pending: &mut HashMap<String, Pending>, touch: Touch, now: Instant) {
        match touch {
            Touch::Path { path } => touch_path(pending, path, now),
            Touch::Rescan => {
                tracing::warn!(
                    "file events were lost (inotify queue overflow); rechecking known files"
                );
                for path in self.known.all() {
                    touch_path(pending, path, now);
                }
            }
        }
    }

    async fn look_and_report(&self, path: &str, pending: &mut HashMap<String, Pending>) {
        let full = self.root.join(path);
        let _guard = self.locks.lock(full.clone()).await;
        let root = self.root.clone();
        let look = match tokio::task::spawn_blocking(move || look(&root, &full)).await {
            Ok(Ok(look)) => look,
            Ok(Err(err)) => {
                tracing::debug!(path, error = %err.kind(), "could not look at a changed file");
                return;
            }
            Err(_) => return,
        };
        let now = Instant::now();
        let current = match look {
            Look::File(hex) => Some(hex),
            Look::Missing => {
                for below in self.known.under(path) {
                    touch_path(pending, below, now);
                }
                None
            }
            Look::Dir(files) => {
                for file in files {
                    touch_path(pending, file, now);
                }
                return;
            }
            Look::Other => return,
        };
        // Unknown reads as "no file": a file that appears is reported, one that goes away
        // was never of interest to a subscriber.
        if self.known.get(path) == current {
            return;
        }
        self.known.set(path, current.clone());
        let kind = if current.is_some() {
            "changed"
        } else {
            "deleted"
        };
        tracing::debug!(path, kind, "change");
        let event = ChangeEvent {
            path,
            etag: current.as_deref().map(etag::quote),
            kind,
        };
        match serde_json::to_string(&event) {
            // No subscriber is fine: the change is still recorded as known.
            Ok(json) => drop(self.out.send(Arc::from(json))),
            Err(err) => tracing::warn!(error = %err, "could not encode a change"),
        }
    }
}

fn touch_path(pending: &mut HashMap<String, Pending>, path: String, now: Instant) {
    pending
        .entry(path)
        .and_modify(|p| p.last = now)
        .or_insert(Pending {
            first: now,
            last: now,
        });
}

async fn sleep_until(deadline: Option<Instant>) {
    if let Some(deadline) = deadline {
        tokio::time::sleep_until(deadline).await;
    }
}

/// Looks at one path (blocking IO).
fn look(root: &Path, full: &Path) -> std::io::Result<Look> {
    let meta = match std::fs::symlink_metadata(full) {
        Ok(meta) => meta,
        Err(err) if matches!(err.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
            return Ok(Look::Missing);
        }
        Err(err) => return Err(err),
    };
    if meta.is_dir() {
        let mut files = Vec::new();
        scan(root, full, &mut files);
        if files.len() >= MAX_SCAN {
            tracing::warn!("a new directory holds over {MAX_SCAN} files; not all are reported");
        }
        return Ok(Look::Dir(files));
    }
    if !meta.is_file() {
        return Ok(Look::Other);
    }
    let mut file = match std::fs::File::open(full) {
        Ok(file) => file,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(Look::Missing),
        Err(err) => return Err(err),
    };
    Ok(Look::File(etag::of_reader(&mut file)?))
}

/// Every regular file below `dir` (links not followed), relative to the root.
fn scan(root: &Path, dir: &Path, files: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if files.len() >= MAX_SCAN {
            return;
        }
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        if kind.is_dir() {
            scan(root, &path, files);
        } else if kind.is_file()
            && let Some(rel) = watch::relative(root, &path)
        {
            files.push(rel);
        }
    }
}
