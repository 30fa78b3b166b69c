//! Changes to the platform's identity records, as an engine announces them: which records
//! (a session, a user, a sandbox's members) may have changed since the gateway read them,
//! or "anything may have" when the engine lost track (a reconnect, a flush).
//!
//! The engine fills a [`ChangeFeed`] from whatever tells it about changes (in Redis,
//! server-assisted client-side caching: `CLIENT TRACKING` invalidation pushes, see
//! [`super::redis::tracking`]); [`crate::access::revocation`] drains it and re-reads only
//! the live grants that depend on what changed. The feed coalesces: a burst of changes to
//! one record is one entry, and past [`MAX_PENDING`] distinct records it collapses into
//! [`Change::All`], so a flood of platform writes costs bounded memory. Whether the feed is
//! live ([`ChangeFeed::is_live`]) tells the reader how much to trust silence: while it is
//! not, changes may go unannounced and the reader must poll at its old pace.

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

/// Distinct records remembered before the feed says [`Change::All`] instead.
pub const MAX_PENDING: usize = 10_000;

/// One identity record, by what it names.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Record {
    /// A session, by its token (never shown: see the `Debug` impl).
    Session(String),
    /// A user's own record, by user id.
    User(String),
    /// A sandbox's member list, by sandbox id.
    Members(String),
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Record::Session(_) => f.write_str("Session(..)"),
            Record::User(id) => f.debug_tuple("User").field(id).finish(),
            Record::Members(sandbox) => f.debug_tuple("Members").field(sandbox).finish(),
        }
    }
}

/// What may have changed since the last [`ChangeFeed::next`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// These records (each once).
    Records(HashSet<Record>),
    /// Anything: re-read everything.
    All,
}

#[derive(Default)]
struct Pending {
    records: HashSet<Record>,
    all: bool,
}

struct Inner {
    pending: Mutex<Pending>,
    notify: Notify,
    live: AtomicBool,
}

/// The engine's side and the reader's side of one stream of changes. Cheap to clone.
#[derive(Clone)]
pub struct ChangeFeed {
    inner: Arc<Inner>,
}

impl Default for ChangeFeed {
    fn default() -> Self {
        ChangeFeed::new()
    }
}

impl ChangeFeed {
    /// A feed that is not live yet.
    pub fn new() -> Self {
        ChangeFeed {
            inner: Arc::new(Inner {
                pending: Mutex::new(Pending::default()),
                notify: Notify::new(),
                live: AtomicBool::new(false),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.inner
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Announces that `record` may have changed. Never blocks.
    pub fn changed(&self, record: Record) {
        {
            let mut pending = self.lock();
            if !pending.all {
                pending.records.insert(record);
                if pending.records.len() > MAX_PENDING {
                    pending.records = HashSet::new();
                    pending.all = true;
                }
            }
        }
        self.inner.notify.notify_one();
    }

    /// Announces that anything may have changed. Never blocks.
    pub fn everything_changed(&self) {
        {
            let mut pending = self.lock();
            pending.records = HashSet::new();
            pending.all = true;
        }
        self.inner.notify.notify_one();
    }

    /// Whether changes are being announced right now (the engine hears its source).
    pub fn is_live(&self) -> bool {
        self.inner.live.load(Ordering::Acquire)
    }

    /// Sets [`ChangeFeed::is_live`]; a change of state wakes the reader with
    /// [`Change::All`] (whatever happened while the source was unheard went unannounced).
    pub fn set_live(&self, live: bool) {
        if self.inner.live.swap(live, Ordering::AcqRel) != live {
            self.everything_changed();
        }
    }

    /// Waits for the next changes and takes them all (one reader per feed).
    pub async fn next(&self) -> Change {
        loop {
            if let Some(change) = self.take() {
                return change;
            }
            self.inner.notify.notified().await;
        }
    }

    /// The changes announced so far, if any, without waiting.
    pub fn take(&self) -> Option<Change> {
        let mut pending = self.lock();
        if pending.all {
            *pending = Pending::default();
            return Some(Change::All);
        }
        if pending.records.is_empty() {
            return None;
        }
        Some(Change::Records(std::mem::take(&mut pending.records)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coalesces_and_collapses_into_all() {
        let feed = ChangeFeed::new();
        assert_eq!(feed.take(), None);
        feed.changed(Record::User("u1".into()));
        feed.changed(Record::User("u1".into()));
        feed.changed(Record::Members("sb1".into()));
        let Some(Change::Records(records)) = feed.take() else {
            panic!("records expected");
        };
        assert_eq!(records.len(), 2);
        assert_eq!(feed.take(), None);
        for n in 0..=MAX_PENDING {
            feed.changed(Record::User(format!("u{n}")));
        }
        assert_eq!(feed.take(), Some(Change::All));
        assert_eq!(feed.take(), None);
    }

    #[test]
    fn going_live_or_dead_is_a_change_of_everything() {
        let feed = ChangeFeed::new();
        feed.set_live(true);
        assert!(feed.is_live());
        assert_eq!(feed.take(), Some(Change::All));
        feed.set_live(true);
        assert_eq!(feed.take(), None);
        feed.set_live(false);
        assert_eq!(feed.take(), Some(Change::All));
    }

    #[test]
    fn a_token_never_shows_in_debug() {
        let shown = format!("{:?}", Record::Session("secret-token".into()));
        assert!(!shown.contains("secret-token"), "{shown}");
    }

    #[tokio::test]
    async fn next_wakes_on_a_change() {
        let feed = ChangeFeed::new();
        let reader = feed.clone();
        let waiting = tokio::spawn(async move { reader.next().await });
        tokio::task::yield_now().await;
        feed.changed(Record::Members("sb1".into()));
        let got = waiting.await.expect("reader");
        assert!(matches!(got, Change::Records(r) if r.contains(&Record::Members("sb1".into()))));
    }
}
