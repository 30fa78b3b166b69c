//! A fleet of simulated editors moving through the phases of a run together
//! ([`crate::phase`]). The scenario decides when to move on; every editor watches the phase.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

use crate::client::{self, EditorPlan};
use crate::framing::Framing;
use crate::phase::Phase;
use crate::shared::Shared;
use crate::stats::Stats;
use crate::timeline::Timeline;
use crate::tracker::Tracker;

/// The longest the drain waits for every editor to take in the end of editing (editors
/// see a phase change within milliseconds; one that is reconnecting never does).
const QUIESCE: Duration = Duration::from_secs(1);

/// The editors of one run.
pub struct Fleet {
    shared: Arc<Shared>,
    phase: watch::Sender<Phase>,
    editors: Vec<JoinHandle<()>>,
}

impl Fleet {
    /// A fleet over `files` files; no editor yet.
    pub fn new(files: usize, framing: Framing, connect_concurrency: usize) -> Fleet {
        Fleet::with_permits(files, framing, connect_concurrency.max(1))
    }

    /// A fleet whose editors wait, once spawned, until [`Fleet::open_gate`]: a barrier
    /// that lets them all start connecting at the same moment.
    pub fn gated(files: usize, framing: Framing) -> Fleet {
        Fleet::with_permits(files, framing, 0)
    }

    /// Lets `connect_concurrency` editors of a [`Fleet::gated`] fleet connect at once.
    pub fn open_gate(&self, connect_concurrency: usize) {
        self.shared
            .connect_limit
            .add_permits(connect_concurrency.max(1));
    }

    fn with_permits(files: usize, framing: Framing, permits: usize) -> Fleet {
        let (phase, phase_rx) = watch::channel(Phase::Connect);
        Fleet {
            shared: Arc::new(Shared {
                tracker: Tracker::new(files),
                stats: Stats::default(),
                framing,
                phase: phase_rx,
                connect_limit: Semaphore::new(permits),
                timeline: Timeline::default(),
            }),
            phase,
            editors: Vec::new(),
        }
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub fn len(&self) -> usize {
        self.editors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.editors.is_empty()
    }

    /// Starts one editor; it connects at once (within the connect limit).
    pub fn spawn(&mut self, plan: EditorPlan) {
        let shared = self.shared.clone();
        self.editors.push(tokio::spawn(client::run(shared, plan)));
    }

    pub fn set_phase(&self, phase: Phase) {
        self.phase.send_if_modified(|p| {
            let moved = phase > *p;
            if moved {
                *p = phase;
            }
            moved
        });
    }

    /// Waits until every editor has synced or failed, or `timeout`; returns whether all
    /// editors synced.
    pub async fn wait_synced(&self, timeout: Duration) -> bool {
        let n = self.editors.len() as u64;
        let stats = &self.shared.stats;
        let settled = || {
            let ok = Stats::get(&stats.synced);
            let failed = Stats::get(&stats.connect_failures) + Stats::get(&stats.disconnects);
            (ok >= n, ok + failed >= n)
        };
        poll_until(timeout, || settled().1).await;
        settled().0
    }

    /// Waits until every editor finished its edits, or `timeout`.
    pub async fn wait_done_editing(&self, timeout: Duration) -> bool {
        let n = self.editors.len() as u64;
        let stats = &self.shared.stats;
        poll_until(timeout, || Stats::get(&stats.done_editing) >= n).await
    }

    /// Waits until no delivery is outstanding, or `timeout`. Every editor first takes in
    /// the end of editing (for at most [`QUIESCE`]): one whose edit tick won the race
    /// against the phase change records its last edit after the phase changed, and an
    /// outstanding count read before that would end the drain with the edit undelivered.
    pub async fn wait_delivered(&self, timeout: Duration) -> bool {
        let n = self.editors.len() as u64;
        let stats = &self.shared.stats;
        poll_until(timeout.min(QUIESCE), || {
            Stats::get(&stats.done_editing) >= n
        })
        .await;
        let tracker = &self.shared.tracker;
        poll_until(timeout, || tracker.outstanding() == (0, 0)).await
    }

    /// Moves to `Stop` and waits (up to `timeout`) for every editor to close.
    pub async fn stop(self, timeout: Duration) {
        self.set_phase(Phase::Stop);
        let deadline = tokio::time::Instant::now() + timeout;
        for handle in self.editors {
            let abort = handle.abort_handle();
            if tokio::time::timeout_at(deadline, handle).await.is_err() {
                abort.abort();
            }
        }
    }
}

/// Polls `done` every 20 ms until it holds or `timeout` passes; returns whether it held.
async fn poll_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
