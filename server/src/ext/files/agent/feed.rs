//! The change feeds: one `GET /changes` connection per sandbox that rooms of this gateway
//! watch, shared by those rooms, closed when the last of them stops watching.
//!
//! A feed connects once its sandbox's address is known ([`super::book`]), moves when the
//! address moves, and reconnects with backoff (100 ms doubling to 5 s) when the agent goes
//! away or falls silent (it pings every 15 s). Changes made while no subscription was open
//! are not replayed, so after every (re)connect each file the rooms hold is announced as
//! "version unknown", and each room checks its file.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use collab_protocol::FileId;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::{broadcast, watch};

use super::book::AddressBook;
use super::client::AgentClient;
use super::sse::{Reader, Said};
use crate::ext::files::source::{Etag, SourceChange, Watch};
use crate::sandbox_ip::SandboxIp;

/// Announcements buffered per room before it lags (and then checks its file anyway).
const FEED_CAPACITY: usize = 256;
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// No byte for this long (the agent pings every 15 s): the feed is dead, reconnect.
const SILENCE: Duration = Duration::from_secs(45);

/// The files of one sandbox that rooms watch, with how many watches each.
type Held = Arc<Mutex<HashMap<FileId, usize>>>;

struct Feed {
    held: Held,
    tx: broadcast::Sender<SourceChange>,
    task: tokio::task::AbortHandle,
}

pub struct Feeds {
    client: AgentClient,
    book: Arc<AddressBook>,
    by_sandbox: Mutex<HashMap<String, Feed>>,
}

/// Keeps one file of one sandbox watched; dropping it unwatches.
struct Hold {
    feeds: Arc<Feeds>,
    sandbox: String,
    file: FileId,
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.feeds.unwatch(&self.sandbox, &self.file);
    }
}

impl Feeds {
    pub fn new(client: AgentClient, book: Arc<AddressBook>) -> Feeds {
        Feeds {
            client,
            book,
            by_sandbox: Mutex::default(),
        }
    }

    /// Watches `file` of `sandbox`, starting the sandbox's feed if none runs.
    pub fn watch(self: &Arc<Self>, sandbox: &str, file: &FileId) -> Watch {
        let mut feeds = self.by_sandbox.lock().unwrap_or_else(|e| e.into_inner());
        let feed = feeds.entry(sandbox.to_owned()).or_insert_with(|| {
            let held = Held::default();
            let (tx, _) = broadcast::channel(FEED_CAPACITY);
            let task = tokio::spawn(run(
                sandbox.to_owned(),
                self.client.clone(),
                self.book.clone(),
                held.clone(),
                tx.clone(),
            ))
            .abort_handle();
            Feed { held, tx, task }
        });
        *feed
            .held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(file.clone())
            .or_default() += 1;
        let changes = feed.tx.subscribe();
        let hold = Hold {
            feeds: self.clone(),
            sandbox: sandbox.to_owned(),
            file: file.clone(),
        };
        Watch::new(changes, Some(Box::new(hold)))
    }

    fn unwatch(&self, sandbox: &str, file: &FileId) {
        let mut feeds = self.by_sandbox.lock().unwrap_or_else(|e| e.into_inner());
        let Some(feed) = feeds.get(sandbox) else {
            return;
        };
        let empty = {
            let mut held = feed.held.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(count) = held.get_mut(file) {
                *count -= 1;
                if *count == 0 {
                    held.remove(file);
                }
            }
            held.is_empty()
        };
        if empty {
            feed.task.abort();
            feeds.remove(sandbox);
            tracing::debug!(
                sandbox,
                "no room watches the sandbox's files: its feed closes"
            );
        }
    }

    /// How many feeds run (for tests).
    pub fn len(&self) -> usize {
        self.by_sandbox
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One sandbox's feed, until aborted.
async fn run(
    sandbox: String,
    client: AgentClient,
    book: Arc<AddressBook>,
    held: Held,
    tx: broadcast::Sender<SourceChange>,
) {
    let mut moved = book.subscribe();
    let mut backoff = MIN_BACKOFF;
    let mut quiet_failures = false;
    loop {
        moved.mark_unchanged();
        let Some((ip, until)) = book.lookup(&sandbox) else {
            // No owner admitted here yet (or its record expired): wait to learn one.
            let _ = tokio::time::timeout(MAX_BACKOFF, moved.changed()).await;
            continue;
        };
        match client.changes(ip).await {
            Ok(body) => {
                tracing::debug!(%sandbox, "the sandbox's change feed is open");
                quiet_failures = false;
                backoff = MIN_BACKOFF;
                let end = follow(body, &sandbox, ip, until, &book, &mut moved, &held, &tx).await;
                tracing::debug!(%sandbox, end, "the sandbox's change feed ended; reconnecting");
            }
            Err(error) => {
                if quiet_failures {
                    tracing::debug!(%sandbox, %error, "the sandbox's change feed failed again");
                } else {
                    tracing::warn!(%sandbox, %error, "the sandbox's change feed failed; retrying");
                    quiet_failures = true;
                }
            }
        }
        let _ = tokio::time::timeout(backoff, moved.changed()).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Reads one feed connection until it ends, falls silent, or the address moves or expires.
#[allow(clippy::too_many_arguments)]
async fn follow(
    mut body: Incoming,
    sandbox: &str,
    ip: SandboxIp,
    until: Option<Instant>,
    book: &AddressBook,
    moved: &mut watch::Receiver<u64>,
    held: &Held,
    tx: &broadcast::Sender<SourceChange>,
) -> &'static str {
    let mut reader = Reader::default();
    loop {
        let expiry = async {
            match until {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        let frame = tokio::select! {
            frame = tokio::time::timeout(SILENCE, body.frame()) => frame,
            changed = moved.changed() => {
                if changed.is_err() || book.lookup(sandbox).map(|(now, _)| now) != Some(ip) {
                    return "the address moved";
                }
                continue;
            }
            () = expiry => return "the owner's record expired",
        };
        let data = match frame {
            Err(_) => return "silent too long",
            Ok(None) => return "closed by the agent",
            Ok(Some(Err(_))) => return "broken",
            Ok(Some(Ok(frame))) => match frame.into_data() {
                Ok(data) => data,
                Err(_) => continue,
            },
        };
        let said = match reader.push(&data) {
            Ok(said) => said,
            Err(why) => return why,
        };
        for said in said {
            match said {
                Said::Connected => resync(held, tx),
                Said::Change { path, etag } => {
                    let Ok(file) = FileId::parse(&format!("{sandbox}/{path}")) else {
                        continue;
                    };
                    let etag = etag.map(Etag);
                    let _ = tx.send(SourceChange { file, etag });
                }
            }
        }
    }
}

/// Every held file, announced as "version unknown": each room checks its file.
fn resync(held: &Held, tx: &broadcast::Sender<SourceChange>) {
    let files: Vec<FileId> = held
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .keys()
        .cloned()
        .collect();
    for file in files {
        let _ = tx.send(SourceChange { file, etag: None });
    }
}
