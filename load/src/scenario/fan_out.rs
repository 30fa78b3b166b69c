//! `fan-out`: one writer types into one file that many observers watch.
//!
//! The writer (client 0) connects to the first target; observer `k` (1-based) takes target
//! [`target_of`]`(0, k, targets)`, so the observers are spread evenly over the
//! targets. Once everyone synced, the writer makes `--rate` edits per second for
//! `--duration` seconds (or `--edits` edits); observers never edit. Every edit should reach
//! every observer: `expected = edits x observers`. The run then waits up to
//! `--drain-timeout` for outstanding deliveries. Observers are light except `--replicas` of
//! them ([`crate::replicas`]): every observer counts and times every delivery, the sample
//! also applies them and takes part in the convergence check.

use std::time::{Duration, Instant};

use anyhow::bail;

use crate::client::{Behaviour, EditorPlan};
use crate::config::CommonArgs;
use crate::fleet::Fleet;
use crate::phase::Phase;
use crate::procstat::Watch;
use crate::progress;
use crate::replicas::ReplicaArgs;

use super::common::{RunLabel, client_ids, finish, target_of, unix_ms};
use crate::report::Report;

const NAME: &str = "fan-out";

/// Flags of `fan-out`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Observers of the file (they sync and receive, never edit).
    #[arg(long, default_value_t = 1500)]
    pub observers: usize,

    /// Edits per second of the writer.
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,

    /// Seconds the writer types (ignored with --edits).
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub duration: f64,

    /// Edits the writer makes (default: rate x duration).
    #[arg(long, value_name = "N")]
    pub edits: Option<u64>,

    /// Share of the writer's edits that delete a character instead of typing one.
    #[arg(long, default_value_t = 0.3)]
    pub delete_ratio: f64,

    #[command(flatten)]
    pub replicas: ReplicaArgs,
}

impl Args {
    fn check(&self) -> anyhow::Result<()> {
        if self.observers == 0 {
            bail!("--observers must be at least 1");
        }
        if !(self.rate.is_finite() && self.rate > 0.0) {
            bail!("--rate must be a positive number of edits per second");
        }
        if !(self.duration.is_finite() && self.duration > 0.0) {
            bail!("--duration must be a positive number of seconds");
        }
        if !(0.0..=1.0).contains(&self.delete_ratio) {
            bail!("--delete-ratio must be between 0 and 1");
        }
        Ok(())
    }

    fn edits(&self) -> u64 {
        self.edits
            .unwrap_or_else(|| (self.rate * self.duration).round().max(1.0) as u64)
    }
}

pub async fn run(args: Args) -> anyhow::Result<Report> {
    args.check()?;
    let targets = args.common.targets()?;
    let prefix = args.common.file_prefix();
    let started_unix_ms = unix_ms();
    let edits = args.edits();
    let editors = args.observers + 1;

    let mut watches: Vec<Watch> = args.common.pids.iter().map(|p| Watch::start(*p)).collect();
    watches.push(Watch::start(std::process::id()));
    let mut fleet = Fleet::new(1, args.common.framing, args.common.connect_concurrency);
    let progress = progress::start(NAME, fleet.shared().clone(), editors, watches);

    let file_id = format!("{prefix}/0");
    for (k, client_id) in client_ids(editors).into_iter().enumerate() {
        let behaviour = if k == 0 {
            Behaviour {
                edit_rate: args.rate,
                edit_limit: Some(edits),
                delete_ratio: args.delete_ratio,
                cursor_rate: 0.0,
                ..Behaviour::default()
            }
        } else {
            Behaviour {
                edit_rate: 0.0,
                edit_limit: Some(0),
                delete_ratio: 0.0,
                cursor_rate: 0.0,
                light: !args.replicas.is_replica(0, k, 1),
                ..Behaviour::default()
            }
        };
        let target = target_of(0, k, targets.len());
        fleet.spawn(EditorPlan {
            file: 0,
            target,
            url: args.common.framing.url(&targets[target], &file_id),
            file_id: file_id.clone(),
            client_id,
            behaviour,
        });
    }
    fleet.wait_synced(args.common.connect_timeout()).await;

    fleet.set_phase(Phase::Edit);
    let edit_started = Instant::now();
    let bound = Duration::from_secs_f64(2.0 * edits as f64 / args.rate + 30.0);
    fleet.wait_done_editing(bound).await;
    let done = finish(fleet, progress, edit_started, args.common.drain_timeout()).await;

    let settings = serde_json::json!({
        "observers": args.observers,
        "rate": args.rate,
        "duration": args.duration,
        "edits": edits,
        "delete_ratio": args.delete_ratio,
        "replicas": args.replicas.shown(),
        "file_prefix": prefix,
        "sandbox": args.common.sandbox,
        "token": args.common.token_shown(),
    });
    Ok(done.report(RunLabel {
        scenario: NAME,
        targets: &targets,
        started_unix_ms,
        settings,
        editors,
        files: 1,
    }))
}
