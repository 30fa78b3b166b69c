//! Named presets of a load run, one file each. A scenario turns its flags into editor
//! plans (which file, which target, what behaviour), drives the fleet's phases and builds
//! the report: `edit-storm`, `fan-out`, `idle`, `join-storm`, `awareness`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Subcommand;

use crate::config::CommonArgs;
use crate::fleet::Fleet;
use crate::phase::Phase;
use crate::procstat::{ProcReport, Watch};
use crate::progress::Progress;
use crate::report::{Report, RunInfo};
use crate::shared::Shared;
use crate::target::Target;

pub mod awareness;
pub mod edit_storm;
pub mod fan_out;
pub mod idle;
pub mod join_storm;

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

/// The scenarios this build knows.
#[derive(Debug, Clone, Subcommand)]
pub enum Scenario {
    /// Many editors typing into many files across the targets (default: 1,000 editors on
    /// 100 files, 1 edit/s each, 60 s).
    EditStorm(edit_storm::Args),
    /// One writer, many observers of one file spread over the targets (default: 1 writer
    /// at 10 edits/s, 1,500 observers, 30 s); propagation writer -> observers.
    FanOut(fan_out::Args),
    /// Many connections that sync once and stay idle (default 20,000); the gateways' RSS
    /// per connection.
    Idle(idle::Args),
    /// Many editors open one large document at the same moment (default: 150 joiners,
    /// 20 MB of text seeded first); time from connect to synced, servers' peak RSS.
    JoinStorm(join_storm::Args),
    /// Many editors move their cursors and never type (default: 500 editors on 10 files,
    /// 1 move/s each, 60 s); cursor propagation.
    Awareness(awareness::Args),
}

impl Scenario {
    /// The flags every scenario shares.
    pub fn common(&self) -> &CommonArgs {
        match self {
            Scenario::EditStorm(args) => &args.common,
            Scenario::FanOut(args) => &args.common,
            Scenario::Idle(args) => &args.common,
            Scenario::JoinStorm(args) => &args.common,
            Scenario::Awareness(args) => &args.common,
        }
    }

    pub async fn run(self) -> anyhow::Result<Report> {
        match self {
            Scenario::EditStorm(args) => edit_storm::run(args).await,
            Scenario::FanOut(args) => fan_out::run(args).await,
            Scenario::Idle(args) => idle::run(args).await,
            Scenario::JoinStorm(args) => join_storm::run(args).await,
            Scenario::Awareness(args) => awareness::run(args).await,
        }
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
