//! `awareness`: many editors move their cursors and never type.
//!
//! Each file first gets `--text-bytes` of code-like text ([`crate::seed`]), so cursors
//! point at real characters (y-monaco's format: relative positions into the text). Then
//! editor `i` opens file `i % --files` on a target chosen by [`target_of`] (so each
//! file spans the targets), checks it sees the seeded text, and once everyone synced moves
//! its cursor to a random position `--rate` times a second for `--duration` seconds.
//! Every move should reach every other editor of the file: expected deliveries are
//! `moves x (editors of the file - 1)`; a gateway that echoes a state to its sender (stock
//! servers do) is not counted for that. The run then waits up to `--drain-timeout` for
//! outstanding cursor deliveries.

use std::time::{Duration, Instant};

use anyhow::bail;

use crate::client::{Behaviour, EditorPlan};
use crate::config::CommonArgs;
use crate::fleet::Fleet;
use crate::phase::Phase;
use crate::procstat::Watch;
use crate::progress;
use crate::seed::{self, SeedPlan};

use super::common::{RunLabel, client_ids, finish, target_of, unix_ms};
use crate::report::Report;

const NAME: &str = "awareness";

/// Pace of the seeding connections, bytes per second (under a gateway's default 4 MiB/s).
const SEED_RATE: f64 = 4_000_000.0;

/// Flags of `awareness`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Simulated editors in total.
    #[arg(long, default_value_t = 500)]
    pub editors: usize,

    /// Files the editors are spread over (editor i opens file i % files).
    #[arg(long, default_value_t = 10)]
    pub files: usize,

    /// Cursor moves per second of each editor.
    #[arg(long, default_value_t = 1.0)]
    pub rate: f64,

    /// Seconds the editors move their cursors.
    #[arg(long, default_value_t = 60.0, value_name = "SECS")]
    pub duration: f64,

    /// Bytes of text written into each file before the editors join, for the cursors to
    /// point into.
    #[arg(long, default_value_t = 4000, value_name = "BYTES")]
    pub text_bytes: usize,
}

impl Args {
    fn check(&self) -> anyhow::Result<()> {
        if self.editors == 0 || self.files == 0 {
            bail!("--editors and --files must be at least 1");
        }
        if !(self.rate.is_finite() && self.rate > 0.0) {
            bail!("--rate must be a positive number of cursor moves per second");
        }
        if !(self.duration.is_finite() && self.duration > 0.0) {
            bail!("--duration must be a positive number of seconds");
        }
        if !(1..=1 << 20).contains(&self.text_bytes) {
            bail!("--text-bytes must be between 1 and 1 MiB");
        }
        Ok(())
    }
}

pub async fn run(args: Args) -> anyhow::Result<Report> {
    args.check()?;
    let targets = args.common.targets()?;
    let prefix = args.common.file_prefix();
    let started_unix_ms = unix_ms();
    let framing = args.common.framing;

    let mut expected = Vec::with_capacity(args.files);
    for file in 0..args.files {
        let file_id = format!("{prefix}/{file}");
        let writer = &targets[target_of(file, 0, targets.len())];
        let verifier = &targets[target_of(file, 1, targets.len())];
        let seeded = seed::seed(&SeedPlan {
            label: NAME.to_owned(),
            framing,
            writer_url: framing.url(writer, &file_id),
            verify_url: framing.url(verifier, &file_id),
            file_id,
            bytes: args.text_bytes,
            text: None,
            chunk_bytes: args.text_bytes,
            bytes_per_sec: SEED_RATE,
            timeout: args.common.connect_timeout(),
        })
        .await?;
        expected.push(seeded.expected);
    }

    let mut watches: Vec<Watch> = args.common.pids.iter().map(|p| Watch::start(*p)).collect();
    watches.push(Watch::start(std::process::id()));
    let mut fleet = Fleet::new(args.files, framing, args.common.connect_concurrency);
    let progress = progress::start(NAME, fleet.shared().clone(), args.editors, watches);
    for (i, client_id) in client_ids(args.editors).into_iter().enumerate() {
        let file = i % args.files;
        let target = target_of(file, i / args.files, targets.len());
        let file_id = format!("{prefix}/{file}");
        fleet.spawn(EditorPlan {
            file,
            target,
            url: framing.url(&targets[target], &file_id),
            file_id,
            client_id,
            behaviour: Behaviour {
                cursor_rate: args.rate,
                expect_doc: Some(expected[file]),
                ..Behaviour::default()
            },
        });
    }
    fleet.wait_synced(args.common.connect_timeout()).await;

    fleet.set_phase(Phase::Edit);
    let moves_started = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(args.duration)).await;
    let done = finish(fleet, progress, moves_started, args.common.drain_timeout()).await;

    let settings = serde_json::json!({
        "editors": args.editors,
        "files": args.files,
        "rate": args.rate,
        "duration": args.duration,
        "text_bytes": args.text_bytes,
        "file_prefix": prefix,
        "sandbox": args.common.sandbox,
        "token": args.common.token_shown(),
    });
    Ok(done.report(RunLabel {
        scenario: NAME,
        targets: &targets,
        started_unix_ms,
        settings,
        editors: args.editors,
        files: args.files,
    }))
}
