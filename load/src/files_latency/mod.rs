//! `files-latency`: what the files feature (`--files dir`) costs in time and what a Redis
//! loss costs in typing (issue 21's figures).
//!
//! It starts its own `redis-server` and two gateways with `--files dir` on a temporary
//! folder, through collab-harness (loopback only, free ports, never 6379), and measures in
//! turn ([`phases`]):
//!
//! - keystroke -> disk: a writer on the first gateway appends one character every
//!   `--pace-ms` for `--duration`; the file is polled (read every `--poll-ms`, not
//!   watched: a poll sees what a reader of the file sees) and each character is timed from
//!   its send to the first read that holds it. Over the same typing, the gateways'
//!   `collab_file_writes_total{outcome="written"}` gives the writes per minute, which must
//!   stay within 60000 / `--write-back-max-ms` (plus one for the window's edges);
//! - outside write -> editors: `--outside` times a line of a file is rewritten on disk
//!   (temp file and rename, as editors save), timed until an observer on the second gateway
//!   has it in its document;
//! - RPO: `--rpo-runs` times, type for `--rpo-secs` (each run a little longer, so the
//!   stops spread over one `--write-back-max-ms` cycle), kill -9 both gateways, FLUSHALL,
//!   start a gateway, open the file: the characters lost and the span of typing they
//!   cover; the median over the runs.
//!
//! The pure arithmetic is in [`measure`], the report in [`report`].

pub mod measure;
mod phases;
pub mod report;
mod rig;

use anyhow::Context;

pub use report::FilesReport;
pub use rig::Args;
use rig::Rig;

pub async fn run(args: Args) -> anyhow::Result<FilesReport> {
    args.check()?;
    let mut rig = Rig::start(&args).await?;
    eprintln!(
        "collab-load files-latency: redis {} and gateways {} {} on {}",
        rig.redis.url(),
        rig.gateways[0].addr(),
        rig.gateways[1].addr(),
        rig.root.display()
    );
    let typing = phases::keystrokes(&rig, &args)
        .await
        .context("keystroke -> disk")?;
    let outside = phases::outside(&rig, &args)
        .await
        .context("outside write")?;
    let mut rpo_runs = Vec::new();
    for i in 0..args.rpo_runs {
        let loss = phases::rpo(&mut rig, &args, i)
            .await
            .with_context(|| format!("RPO run {}", i + 1))?;
        eprintln!(
            "collab-load files-latency: RPO run {}: lost {} of {}",
            i + 1,
            loss.lost,
            loss.typed
        );
        rpo_runs.push(loss);
    }
    let mut report = FilesReport {
        write_back_ms: args.write_back_ms,
        write_back_max_ms: args.write_back_max_ms,
        pace_ms: args.pace_ms,
        poll_ms: args.poll_ms,
        keystroke_to_disk: typing.latency,
        keystrokes_typed: typing.typed,
        keystrokes_on_disk: typing.landed,
        writes: typing.writes,
        outside_to_editors: outside,
        outside_requested: args.outside,
        rpo_runs,
        rpo_median_lost: 0.0,
        rpo_median_span_ms: 0.0,
        rpo_max_lost: 0,
    };
    report.summarize_rpo();
    Ok(report)
}
