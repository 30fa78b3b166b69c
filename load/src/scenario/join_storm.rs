//! `join-storm`: many editors open one large document at the same moment.
//!
//! Seed phase ([`crate::seed`]): one connection on the first target writes `--doc-bytes` of
//! code-like text in chunks, paced for the gateway's default limits, and a second
//! connection on the last target syncs until it sees all of it. Both close; after
//! `--settle` seconds (longer than the gateways' room grace) no gateway has the file open.
//!
//! Storm: `--joiners` editors, spread over the targets like the observers of `fan-out`,
//! wait at a barrier ([`Fleet::gated`]) and are let through together (the connect
//! concurrency is raised to the joiner count). Each counts the time from the start of its
//! connect to the gateway's step 2 received and checked (anything but the seeded document
//! is an error in the report). `--full-joiners` of them apply the step 2 into a doc and
//! compare the text with the seeded one, then drop their copy; the others are light: they
//! decode the step 2 and compare its ids and length with the seeder's
//! ([`crate::doc_check`]), so the harness does not integrate one 20 MB document per
//! joiner on the cores the gateways need. The run ends once every joiner synced
//! or failed, or at `--connect-timeout`. CPU and peak RSS of the `--pid` servers cover
//! the storm alone.

use std::time::{Duration, Instant};

use anyhow::bail;

use crate::client::{Behaviour, EditorPlan};
use crate::config::CommonArgs;
use crate::fleet::Fleet;
use crate::phase::Phase;
use crate::procstat::Watch;
use crate::progress;
use crate::report::Percentiles;
use crate::report::sections::JoinStormReport;
use crate::seed::{self, SeedPlan};
use crate::stats::Stats;

use super::common::{RunLabel, client_ids, finish, target_of, unix_ms};
use crate::report::Report;

const NAME: &str = "join-storm";

/// Time the spawned joiners get to reach the barrier before it opens.
const GATHER: Duration = Duration::from_millis(100);

/// Flags of `join-storm`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Editors that join the document at the same moment.
    #[arg(long, default_value_t = 150)]
    pub joiners: usize,

    /// Bytes of text in the document (ASCII lines, so also its length in UTF-16 units).
    #[arg(long, default_value_t = 20_000_000, value_name = "BYTES")]
    pub doc_bytes: usize,

    /// Bytes of text per seeding update (one frame each; gateways refuse frames over
    /// their --max-frame-bytes, 16 MiB by default).
    #[arg(long, default_value_t = 1 << 20, value_name = "BYTES")]
    pub chunk_bytes: usize,

    /// Pace of the seeding connection, bytes per second (gateways allow 4 MiB/s per
    /// client by default).
    #[arg(long, default_value_t = 4_000_000.0, value_name = "BYTES_PER_SEC")]
    pub seed_rate: f64,

    /// Seconds between seeding and the storm with no connection open: longer than the
    /// gateways' room grace (2 s by default), so that every gateway loads the document
    /// from Redis when the storm hits.
    #[arg(long, default_value_t = 3.0, value_name = "SECS")]
    pub settle: f64,

    /// Joiners that apply the document into a doc and compare its text with the seeded
    /// one; the others check the decoded update's ids and length only.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub full_joiners: usize,
}

impl Args {
    fn check(&self) -> anyhow::Result<()> {
        if self.joiners == 0 {
            bail!("--joiners must be at least 1");
        }
        if self.doc_bytes == 0 || u32::try_from(self.doc_bytes).is_err() {
            bail!("--doc-bytes must be between 1 and {}", u32::MAX);
        }
        if !(1024..=8 << 20).contains(&self.chunk_bytes) {
            bail!("--chunk-bytes must be between 1 KiB and 8 MiB");
        }
        if !(self.seed_rate.is_finite() && self.seed_rate >= 1024.0) {
            bail!("--seed-rate must be at least 1024 bytes per second");
        }
        if !(self.settle.is_finite() && self.settle >= 0.0) {
            bail!("--settle must be 0 or more seconds");
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
    let file_id = format!("{prefix}/0");
    let last = targets.len() - 1;

    let plan = SeedPlan {
        label: NAME.to_owned(),
        framing,
        file_id: file_id.clone(),
        writer_url: framing.url(&targets[0], &file_id),
        verify_url: framing.url(&targets[last], &file_id),
        bytes: args.doc_bytes,
        text: None,
        chunk_bytes: args.chunk_bytes,
        bytes_per_sec: args.seed_rate,
        timeout: Duration::from_secs_f64(args.doc_bytes as f64 / args.seed_rate)
            + args.common.connect_timeout(),
    };
    eprintln!(
        "collab-load {NAME}: seeding {} bytes into {file_id} via {}, verifying via {}",
        args.doc_bytes, plan.writer_url, plan.verify_url
    );
    let seeded = seed::seed(&plan).await?;
    eprintln!(
        "collab-load {NAME}: seeded {} units in {} updates, {:.1} s; storm in {} s",
        seeded.len, seeded.chunks, seeded.seconds, args.settle
    );
    tokio::time::sleep(Duration::from_secs_f64(args.settle)).await;

    let mut watches: Vec<Watch> = args.common.pids.iter().map(|p| Watch::start(*p)).collect();
    watches.push(Watch::start(std::process::id()));
    let mut fleet = Fleet::gated(1, framing);
    let progress = progress::start(NAME, fleet.shared().clone(), args.joiners, watches);
    for (k, client_id) in client_ids(args.joiners).into_iter().enumerate() {
        let behaviour = Behaviour {
            expect_doc: Some(seeded.expected),
            forget_doc_after_sync: true,
            light: k >= args.full_joiners,
            ..Behaviour::default()
        };
        let target = target_of(0, k, targets.len());
        fleet.spawn(EditorPlan {
            file: 0,
            target,
            url: framing.url(&targets[target], &file_id),
            file_id: file_id.clone(),
            client_id,
            behaviour,
        });
    }
    tokio::time::sleep(GATHER).await;
    let gate_opened = Instant::now();
    fleet.open_gate(args.common.connect_concurrency.max(args.joiners));
    fleet.wait_synced(args.common.connect_timeout()).await;
    let storm_seconds = gate_opened.elapsed().as_secs_f64();

    fleet.set_phase(Phase::Edit);
    let done = finish(fleet, progress, gate_opened, args.common.drain_timeout()).await;

    let servers_peak_rss_kib = if done.servers.is_empty() {
        None
    } else {
        done.servers.iter().map(|s| s.peak_rss_kib).sum()
    };
    let join_storm = JoinStormReport {
        joiners: args.joiners as u64,
        doc_len: u64::from(seeded.len),
        seed_updates: seeded.chunks,
        seed_seconds: seeded.seconds,
        settle_seconds: args.settle,
        synced_full_doc: Stats::get(&done.shared.stats.expected_doc_synced),
        storm_seconds,
        sync_ms: Percentiles::from_micros(&done.shared.stats.times().join_us),
        servers_peak_rss_kib,
    };
    let settings = serde_json::json!({
        "joiners": args.joiners,
        "doc_bytes": args.doc_bytes,
        "chunk_bytes": args.chunk_bytes,
        "seed_rate": args.seed_rate,
        "settle": args.settle,
        "full_joiners": args.full_joiners.min(args.joiners),
        "file_prefix": prefix,
        "sandbox": args.common.sandbox,
        "token": args.common.token_shown(),
    });
    let mut report = done.report(RunLabel {
        scenario: NAME,
        targets: &targets,
        started_unix_ms,
        settings,
        editors: args.joiners,
        files: 1,
    });
    report.join_storm = Some(join_storm);
    Ok(report)
}
