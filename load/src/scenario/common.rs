//! What the scenarios have in common: fresh client ids, which target an editor uses, the
//! start time, and the end of an edit phase turned into a report.
//!
//! Its own module, not part of `scenario/mod.rs`: that file dispatches to the scenarios and
//! the scenarios use these, so with them in `mod.rs` each scenario and its parent would
//! import each other.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::fleet::Fleet;
use crate::phase::Phase;
use crate::procstat::{ProcReport, Watch};
use crate::progress::Progress;
use crate::report::{Report, RunInfo};
use crate::shared::Shared;
use crate::target::Target;

/// What an editing scenario measured once its edits were made.
pub(crate) struct Finished {
    pub edit_seconds: f64,
    pub drain_seconds: f64,
    pub servers: Vec<ProcReport>,
    pub harness: Option<ProcReport>,
    pub shared: Arc<Shared>,
}

/// What a report says about an editing run besides the fleet's figures.
pub(crate) struct RunLabel<'a> {
    pub scenario: &'static str,
    pub targets: &'a [Target],
    pub started_unix_ms: u64,
    pub settings: serde_json::Value,
    pub editors: usize,
    pub files: usize,
}

impl Finished {
    /// The report of the run `label` describes, which ended with these figures.
    pub(crate) fn report(self, label: RunLabel<'_>) -> Report {
        let info = RunInfo {
            scenario: label.scenario.to_owned(),
            targets: label.targets.iter().map(|t| t.base.clone()).collect(),
            started_unix_ms: label.started_unix_ms,
            settings: label.settings,
            editors: label.editors as u64,
            files: label.files as u64,
            edit_seconds: self.edit_seconds,
            drain_seconds: self.drain_seconds,
            servers: self.servers,
            harness: self.harness,
        };
        Report::new(info, &self.shared)
    }
}

/// Ends the edit phase begun at `edit_started`: waits (at most `drain_timeout`) for every
/// delivery, then stops the progress line and the fleet.
pub(crate) async fn finish(
    fleet: Fleet,
    progress: Progress,
    edit_started: Instant,
    drain_timeout: Duration,
) -> Finished {
    fleet.set_phase(Phase::Drain);
    let edit_seconds = edit_started.elapsed().as_secs_f64();

    let drain_started = Instant::now();
    fleet.wait_delivered(drain_timeout).await;
    let drain_seconds = drain_started.elapsed().as_secs_f64();

    let mut watches = progress.finish().await;
    let harness = watches.pop().map(|w| w.report());
    let shared = fleet.shared().clone();
    fleet.stop(Duration::from_secs(5)).await;
    Finished {
        edit_seconds,
        drain_seconds,
        servers: watches.iter().map(Watch::report).collect(),
        harness,
        shared,
    }
}

/// `n` distinct random 32-bit Yjs client ids (yjs 13 clients use 32-bit ids).
pub fn client_ids(n: usize) -> Vec<u32> {
    let mut seen = HashSet::with_capacity(n);
    let mut ids = Vec::with_capacity(n);
    while ids.len() < n {
        let id = rand::random::<u32>();
        if id != 0 && seen.insert(id) {
            ids.push(id);
        }
    }
    ids
}

/// Which target the `k`-th editor of file `file` uses: round-robin within each file, with
/// a per-file offset, so every file with two or more editors spans several targets and the
/// editors of all files are spread evenly.
pub fn target_of(file: usize, k: usize, targets: usize) -> usize {
    (file + k) % targets.max(1)
}

pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_distinct_and_nonzero() {
        let ids = client_ids(10_000);
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 10_000);
        assert!(!ids.contains(&0));
    }

    #[test]
    fn every_shared_file_spans_targets() {
        for file in 0..100 {
            let used: HashSet<_> = (0..10).map(|k| target_of(file, k, 2)).collect();
            assert_eq!(used.len(), 2);
        }
        let per_target = (0..100)
            .map(|f| target_of(f, 0, 2))
            .filter(|t| *t == 0)
            .count();
        assert_eq!(per_target, 50);
    }
}
