//! `collab-load gc-trace`: what GC off (the gateway's `skip_gc: true`, kept for server-side
//! undo) costs a document, measured by replaying a real editing trace (the B4 trace,
//! `load/traces/automerge-paper.json.gz`) with GC on and off.
//!
//! The file format is in [`trace`]; [`replay`] runs one case (local edits or v1 updates
//! applied to a replica, GC on or off) and measures it; [`census`] walks the structs of an
//! encoded state; [`collect`] collects a GC-off doc except what live undo items need. This module runs every case `--runs` times, each in a fresh child process
//! of this same binary (so that resident memory does not carry over from one case to the
//! next), and prints medians. A child is this command with `--case`: it prints its one
//! measurement as a JSON line.
//!
//! Exit status 3 when a case's final text is not the trace's `endContent`.

pub mod census;
pub mod collect;
pub mod replay;
pub mod trace;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};

use self::replay::{Case, Measurement};
use self::trace::Trace;

/// Flags of `gc-trace`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The trace: JSON, gzipped or not, `{startContent, endContent, txns: [{patches}]}`.
    #[arg(long, default_value = "load/traces/automerge-paper.json.gz")]
    pub trace: PathBuf,

    /// Runs of each case; timings and memory are the median.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,

    /// Cases to run (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = Case::ALL)]
    pub cases: Vec<Case>,

    /// Updates at the end of the trace whose deletions keep their content when the GC-off
    /// replica is collected (standing in for live undo items: 200 items of ~50 edits).
    #[arg(long, default_value_t = 10_000)]
    pub undo_window: usize,

    /// Only the first N transactions of the trace (its end text recomputed).
    #[arg(long, value_name = "N")]
    pub first: Option<usize>,

    /// Write every run's measurement as JSON to this file.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,

    /// Run this one case in this process and print its measurement as a JSON line (what
    /// the parent runs in each child).
    #[arg(long, hide = true)]
    pub case: Option<Case>,
}

/// Runs the command; `Ok(false)` when some final text was wrong.
pub fn run(args: Args) -> anyhow::Result<bool> {
    if let Some(case) = args.case {
        let trace = load(&args)?;
        let m = replay::measure(&trace, case, args.undo_window)?;
        println!("{}", serde_json::to_string(&m)?);
        return Ok(m.matches_end);
    }
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let exe = std::env::current_exe().context("finding this binary")?;
    let mut all: Vec<Vec<Measurement>> = Vec::new();
    for &case in &args.cases {
        let mut runs = Vec::new();
        for run in 1..=args.runs {
            eprintln!("gc-trace: {} run {run}/{}", case.name(), args.runs);
            runs.push(run_child(&exe, &args, case)?);
        }
        all.push(runs);
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&all)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    print!("{}", table(&args, &all));
    Ok(all.iter().flatten().all(|m| m.matches_end))
}

fn load(args: &Args) -> anyhow::Result<Trace> {
    let trace = Trace::read(&args.trace)?;
    Ok(match args.first {
        Some(n) => trace.prefix(n),
        None => trace,
    })
}

fn run_child(exe: &std::path::Path, args: &Args, case: Case) -> anyhow::Result<Measurement> {
    let mut cmd = Command::new(exe);
    cmd.arg("gc-trace")
        .arg("--trace")
        .arg(&args.trace)
        .arg("--undo-window")
        .arg(args.undo_window.to_string())
        .arg("--case")
        .arg(case.name());
    if let Some(n) = args.first {
        cmd.arg("--first").arg(n.to_string());
    }
    let out = cmd
        .output()
        .with_context(|| format!("running {}", exe.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).with_context(|| {
        format!(
            "{} gave no measurement (exit {}): {}",
            case.name(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })
}

/// The median of `values` (the lower middle one for an even count).
fn median<T: Copy + PartialOrd>(mut values: Vec<T>) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    values[(values.len() - 1) / 2]
}

fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
}

fn kb(bytes: usize) -> String {
    format!("{:.0} kB", bytes as f64 / 1000.0)
}

fn table(args: &Args, all: &[Vec<Measurement>]) -> String {
    let mut out = String::new();
    let first = all.first().and_then(|runs| runs.first());
    let _ = writeln!(
        out,
        "trace {} ({} txns), median of {} runs each, each run a fresh process",
        args.trace.display(),
        first.map_or(0, |m| m.txns),
        args.runs
    );
    let _ = writeln!(
        out,
        "{:<15} {:>8} {:>5} {:>10} {:>10} {:>11} {:>9} {:>9} {:>10} {:>10} {:>10} {:>9}",
        "case",
        "text",
        "ok",
        "state",
        "reloaded",
        "into GC-on",
        "blocks",
        "content",
        "heap",
        "heap peak",
        "RSS +",
        "replay"
    );
    for runs in all {
        let m = &runs[0];
        let heap = median(runs.iter().map(|r| r.heap_bytes).collect::<Vec<_>>());
        let heap_peak = median(runs.iter().map(|r| r.heap_peak_bytes).collect::<Vec<_>>());
        let rss = median(runs.iter().map(|r| r.rss_growth_kib).collect());
        let ms = median(runs.iter().map(|r| r.replay_ms).collect());
        let _ = writeln!(
            out,
            "{:<15} {:>8} {:>5} {:>10} {:>10} {:>11} {:>9} {:>9} {:>10} {:>10} {:>10} {:>7.0}ms",
            m.case.name(),
            m.text_len,
            if runs.iter().all(|r| r.matches_end) {
                "yes"
            } else {
                "NO"
            },
            kb(m.state_bytes),
            kb(m.reload_bytes),
            kb(m.gc_reload_bytes),
            m.census.blocks,
            m.census.with_content,
            heap.map_or("-".into(), |b| mib(b as f64)),
            heap_peak.map_or("-".into(), |b| mib(b as f64)),
            mib(rss as f64 * 1024.0),
            ms
        );
    }
    for runs in all {
        let Some(p) = runs[0].partial_gc.as_ref() else {
            continue;
        };
        let heap = median(
            runs.iter()
                .filter_map(|r| r.partial_gc.as_ref().map(|p| p.heap_bytes))
                .collect::<Vec<_>>(),
        );
        let ms = median(
            runs.iter()
                .filter_map(|r| r.partial_gc.as_ref().map(|p| p.gc_ms))
                .collect(),
        );
        let _ = writeln!(
            out,
            "{} collected except the deletions of the last {} updates: state {}, {} blocks \
             ({} with content), heap {}, gc {:.0} ms, text unchanged: {}",
            runs[0].case.name(),
            p.undo_window,
            kb(p.state_bytes),
            p.census.blocks,
            p.census.with_content,
            heap.map_or("-".into(), |b| mib(b as f64)),
            ms,
            if p.text_unchanged { "yes" } else { "NO" }
        );
    }
    out
}
