//! What the latency tools (`undo-latency`, `diag-latency`) share: the seeding flags, the
//! seed of one big file and the two connections (writer and observer) that probe it, the
//! histograms and their percentiles, the server watches, and the report's table rows and
//! JSON. Each tool keeps only what it probes and how it judges an answer.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use serde::Serialize;

use crate::config::CommonArgs;
use crate::framing::Framing;
use crate::probe_side::{Hears, Side};
use crate::procstat::{ProcReport, Watch};
use crate::seed::{self, SeedPlan, Seeded};
use crate::target::FileUrl;

/// How the file is seeded, and how long one probe step may take.
#[derive(Debug, Clone, clap::Args)]
pub struct SeedArgs {
    /// Bytes of text per seeding update (a gateway's undo item stops growing at 64 KiB).
    #[arg(long, default_value_t = 64 * 1024, value_name = "BYTES")]
    pub chunk_bytes: usize,

    /// Pace of the seeding connection, bytes per second.
    #[arg(long, default_value_t = 2_000_000.0, value_name = "BYTES_PER_SEC")]
    pub seed_rate: f64,

    /// Longest one step (a probe reaching the observer, the answer to it) may take.
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub step_timeout: f64,
}

impl SeedArgs {
    pub fn check(&self) -> anyhow::Result<()> {
        if !(1024..=8 << 20).contains(&self.chunk_bytes) {
            bail!("--chunk-bytes must be between 1 KiB and 8 MiB");
        }
        if !(self.seed_rate.is_finite() && self.seed_rate >= 1024.0) {
            bail!("--seed-rate must be at least 1024 bytes per second");
        }
        if !(self.step_timeout.is_finite() && self.step_timeout > 0.0) {
            bail!("--step-timeout must be a positive number of seconds");
        }
        Ok(())
    }

    /// `--step-timeout`.
    pub fn step(&self) -> Duration {
        Duration::from_secs_f64(self.step_timeout)
    }
}

/// Where a probed file is and what goes into it.
pub struct ProbedFile<'a> {
    /// The tool, for messages (`undo-latency`).
    pub label: &'a str,
    pub framing: Framing,
    pub file_id: &'a str,
    pub writer_url: &'a FileUrl,
    /// A plain connection (no extension) that checks the seed arrived whole.
    pub verify_url: &'a FileUrl,
    pub bytes: usize,
    /// The text to seed; generated code-like lines when `None`.
    pub text: Option<Arc<str>>,
}

/// Seeds the file at `--seed-rate` and waits until a reader has all of it.
pub async fn seed(
    file: &ProbedFile<'_>,
    seeding: &SeedArgs,
    common: &CommonArgs,
) -> anyhow::Result<Seeded> {
    let plan = SeedPlan {
        label: file.label.to_owned(),
        framing: file.framing,
        file_id: file.file_id.to_owned(),
        writer_url: file.writer_url.clone(),
        verify_url: file.verify_url.clone(),
        bytes: file.bytes,
        text: file.text.clone(),
        chunk_bytes: seeding.chunk_bytes,
        bytes_per_sec: seeding.seed_rate,
        timeout: Duration::from_secs_f64(file.bytes as f64 / seeding.seed_rate)
            + common.connect_timeout(),
    };
    seed::seed(&plan).await
}

/// Opens the writer and the observer, each with a fresh `H` to listen with.
pub async fn open_pair<H: Hears>(
    file: &ProbedFile<'_>,
    observer_url: &FileUrl,
    heard: impl Fn() -> H,
) -> anyhow::Result<(Side<H>, Side<H>)> {
    let writer = Side::open(file.framing, file.writer_url, file.file_id, heard())
        .await
        .context("writer")?;
    let observer = Side::open(file.framing, observer_url, file.file_id, heard())
        .await
        .context("observer")?;
    Ok((writer, observer))
}

/// CPU and RSS of the servers (`--pid`) over the probes.
pub struct Watches(Vec<Watch>);

impl Watches {
    pub fn start(pids: &[u32]) -> Watches {
        Watches(pids.iter().map(|p| Watch::start(*p)).collect())
    }

    pub fn finish(mut self) -> Vec<ProcReport> {
        for w in &mut self.0 {
            w.update();
        }
        self.0.iter().map(Watch::report).collect()
    }
}

/// Percentiles of one histogram, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl Latency {
    pub(crate) fn of(h: &Histogram<u64>) -> Latency {
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
            mean_ms: h.mean() / 1000.0,
        }
    }
}

/// A histogram of microseconds, up to 10 minutes.
pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// `d` in whole microseconds, at least 1 (the histogram's lowest value).
pub(crate) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// The latency rows of a report's table, names `width` wide, under a header line.
pub fn latency_rows(out: &mut String, width: usize, rows: &[(&str, &Latency)]) {
    let _ = writeln!(
        out,
        "{:<width$} {:>6} {:>9} {:>9} {:>9} {:>9}",
        "", "count", "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    for (name, l) in rows {
        let _ = writeln!(
            out,
            "{name:<width$} {:>6} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
            l.count, l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms
        );
    }
}

/// One line per server: its CPU seconds over the probes.
pub fn cpu_rows(out: &mut String, servers: &[ProcReport]) {
    for s in servers {
        let cpu = s.cpu_seconds.map_or("?".to_owned(), |c| format!("{c:.2}"));
        let _ = writeln!(out, "pid {}: {cpu} CPU s over the probes", s.pid);
    }
}

/// A latency tool's report: its table, whether the run was clean, its JSON.
pub trait ProbeReport: Serialize {
    fn table(&self) -> String;

    /// Whether every probe got its answer (a run that is not clean exits 3).
    fn is_clean(&self) -> bool {
        true
    }

    fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        let json = serde_json::to_vec_pretty(self)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))
    }
}

/// The flags of a latency tool parsed as the binary parses them, for its tests.
#[cfg(test)]
pub(crate) fn parse_flags<A: clap::Args>(extra: &[&str]) -> A {
    use clap::Parser;

    #[derive(Parser)]
    struct Cli<A: clap::Args> {
        #[command(flatten)]
        args: A,
    }

    let base = ["t", "--target", "ws://127.0.0.1:1/doc"];
    Cli::<A>::try_parse_from(base.iter().chain(extra.iter()).copied())
        .expect("parses")
        .args
}
