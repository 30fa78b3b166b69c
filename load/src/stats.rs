//! Counters of a run that are not propagation: traffic, errors, disconnects, and the
//! connect and sync times of every editor.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::tracker::new_histogram;

/// Error messages kept verbatim for the report; the rest are only counted.
const MAX_ERROR_SAMPLES: usize = 20;

/// Shared by all editors of a run.
pub struct Stats {
    pub connected: AtomicU64,
    pub synced: AtomicU64,
    pub connect_failures: AtomicU64,
    pub disconnects: AtomicU64,
    pub errors: AtomicU64,
    pub frames_sent: AtomicU64,
    pub frames_received: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub bytes_received: AtomicU64,
    /// Editors that made all their edits (with `--edits-per-editor`) or stopped editing.
    pub done_editing: AtomicU64,
    /// Editors told to expect a document ([`crate::doc_check`]) that had it once synced.
    pub expected_doc_synced: AtomicU64,
    times: Mutex<Times>,
    samples: Mutex<Vec<String>>,
}

struct Times {
    connect_us: Histogram<u64>,
    sync_us: Histogram<u64>,
    join_us: Histogram<u64>,
}

/// Connect and sync time histograms, copied out at the end.
pub struct TimesSnapshot {
    pub connect_us: Histogram<u64>,
    pub sync_us: Histogram<u64>,
    /// From the start of the connect to the gateway's step 2: connect and sync together.
    pub join_us: Histogram<u64>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            connected: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            connect_failures: AtomicU64::new(0),
            disconnects: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            frames_sent: AtomicU64::new(0),
            frames_received: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            bytes_received: AtomicU64::new(0),
            done_editing: AtomicU64::new(0),
            expected_doc_synced: AtomicU64::new(0),
            times: Mutex::new(Times {
                connect_us: new_histogram(),
                sync_us: new_histogram(),
                join_us: new_histogram(),
            }),
            samples: Mutex::new(Vec::new()),
        }
    }
}

impl Stats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub fn connect_time(&self, d: Duration) {
        let mut t = self.times.lock().unwrap_or_else(|p| p.into_inner());
        t.connect_us.saturating_record(micros(d));
    }

    pub fn sync_time(&self, d: Duration) {
        let mut t = self.times.lock().unwrap_or_else(|p| p.into_inner());
        t.sync_us.saturating_record(micros(d));
    }

    /// Time from the start of an editor's connect to its sync.
    pub fn join_time(&self, d: Duration) {
        let mut t = self.times.lock().unwrap_or_else(|p| p.into_inner());
        t.join_us.saturating_record(micros(d));
    }

    /// Counts an error and keeps its text if few have been kept so far.
    pub fn error(&self, what: impl Into<String>) {
        Stats::add(&self.errors, 1);
        self.sample(what.into());
    }

    /// Counts an unexpected disconnect and keeps its description.
    pub fn disconnect(&self, what: impl Into<String>) {
        Stats::add(&self.disconnects, 1);
        self.sample(what.into());
    }

    /// Counts a failed connect (handshake refused or timed out).
    pub fn connect_failure(&self, what: impl Into<String>) {
        Stats::add(&self.connect_failures, 1);
        self.sample(what.into());
    }

    fn sample(&self, what: String) {
        let mut s = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        if s.len() < MAX_ERROR_SAMPLES {
            s.push(what);
        }
    }

    pub fn samples(&self) -> Vec<String> {
        self.samples
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn times(&self) -> TimesSnapshot {
        let t = self.times.lock().unwrap_or_else(|p| p.into_inner());
        TimesSnapshot {
            connect_us: t.connect_us.clone(),
            sync_us: t.sync_us.clone(),
            join_us: t.join_us.clone(),
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}
