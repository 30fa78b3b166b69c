//! `collab-load`: run a load scenario against y-websocket gateways on this machine, serve
//! the raw relay floor (`collab-load floor`) to run scenarios against, compare our
//! gateways with their peers (`collab-load compare`), or measure what GC off costs a
//! document on an editing trace (`collab-load gc-trace`).
//!
//! A scenario prints a table on stdout (and JSON with `--json`, an HTML page with `--html`).
//! Exit status: 0 when the run was clean (for `compare`: every run measured and clean), 3
//! when it completed but some editor failed to sync, a delivery went missing or an error or
//! disconnect happened (`compare`: a run failed, was skipped or was not clean), 1 when it
//! could not run at all (`gc-trace`: 3 when a replay did not end with the trace's text).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use collab_load::compare;
use collab_load::diag_latency;
use collab_load::files_latency;
use collab_load::floor;
use collab_load::gc_trace;
use collab_load::heap;
use collab_load::latency::ProbeReport;
use collab_load::report::html;
use collab_load::scenario::Scenario;
use collab_load::soak;
use collab_load::undo_latency;
use collab_load::write_floor;

/// Counts heap only while `gc-trace` asks it to; otherwise one relaxed load per allocation.
#[global_allocator]
static ALLOCATOR: heap::Counting = heap::Counting;

#[derive(Debug, Parser)]
#[command(
    name = "collab-load",
    version,
    about = "Load-test harness for y-websocket gateways (loopback targets unless --allow-remote)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    #[command(flatten)]
    Scenario(Scenario),
    /// Serve the raw relay floor: y-websocket frames relayed through Redis pub/sub with no
    /// CRDT work (the lower bound to compare gateways with). Prints
    /// "collab-floor listening on ADDR".
    Floor(floor::Args),
    /// Serve the physical write floor: the floor's relay as one epoll thread that encodes
    /// each frame once and writes it to every socket with a plain non-blocking write (what
    /// a delivery cannot cost less than). Prints "collab-write-floor listening on ADDR".
    WriteFloor(write_floor::Args),
    /// Measure our gateways, Hocuspocus and the raw relay floor in turn (each on a fresh
    /// redis-server) with the same scenarios; print them side by side with ratios and write
    /// BENCHMARKS.md and an HTML page.
    Compare(compare::Args),
    /// Replay an editing trace into a yrs doc with GC on and off (local edits, and v1
    /// updates applied to a replica like the gateway's) and print state size, heap, RSS and
    /// time of each, median of a few runs in fresh processes.
    GcTrace(gc_trace::Args),
    /// Time server-side undo on a seeded document: a writer (`?ext=undo&user=`) on the
    /// first target undoes a probe edit, an observer on the last target sees it go; p50,
    /// p90, p99 and max of `--undos` undos.
    UndoLatency(undo_latency::Args),
    /// Time server-side syntax diagnostics: a writer breaks and fixes a generated
    /// TypeScript file one keystroke at a time, an observer (`?ext=diagnostics`) on the
    /// last target times until it has the markers of its new text; p50, p90, p99 and max.
    DiagLatency(diag_latency::Args),
    /// Measure the files feature: start a redis-server and two gateways with `--files dir`
    /// on a temporary folder; time keystroke -> disk and an outside write -> an editor on
    /// the other gateway, count writes per minute under continuous typing, and the typing
    /// lost when every gateway is killed and Redis flushed (RPO).
    FilesLatency(files_latency::Args),
    /// Memory over a long run: start a redis-server and two gateways, make `--visits`
    /// visits (connect, sync, type, move the cursor, leave; half to new files) in rounds,
    /// and after each round, once the rooms closed, print each gateway's RSS, allocator
    /// figures and table sizes; exit 3 when a table did not return to its baseline.
    Soak(soak::Args),
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    // wss:// targets without --tls-ca use tokio-tungstenite's connector, which asks for
    // the process's rustls provider.
    collab_load::tls::install_default_provider();
    match Cli::parse().command {
        Command::Scenario(scenario) => run_scenario(scenario).await,
        Command::Floor(args) => match floor::run(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("collab-load floor: {e:#}");
                ExitCode::from(1)
            }
        },
        Command::WriteFloor(args) => match write_floor::run(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("collab-load write-floor: {e:#}");
                ExitCode::from(1)
            }
        },
        Command::Compare(args) => {
            match tokio::task::spawn_blocking(move || compare::run(args)).await {
                Ok(Ok(true)) => ExitCode::SUCCESS,
                Ok(Ok(false)) => ExitCode::from(3),
                Ok(Err(e)) => fail(e),
                Err(e) => fail(e.into()),
            }
        }
        Command::UndoLatency(args) => {
            let json = args.common.json.clone();
            probe_exit(undo_latency::run(args).await, json)
        }
        Command::DiagLatency(args) => {
            let json = args.common.json.clone();
            probe_exit(diag_latency::run(args).await, json)
        }
        Command::FilesLatency(args) => {
            let json = args.json.clone();
            probe_exit(files_latency::run(args).await, json)
        }
        Command::Soak(args) => {
            let out = args.out.clone();
            match soak::run(args).await {
                Ok(report) => {
                    print!("{}", report.markdown());
                    if let Some(dir) = out
                        && let Err(e) = report.write(&dir)
                    {
                        return fail(e);
                    }
                    if report.is_clean() {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(3)
                    }
                }
                Err(e) => fail(e),
            }
        }
        Command::GcTrace(args) => {
            match tokio::task::spawn_blocking(move || gc_trace::run(args)).await {
                Ok(Ok(true)) => ExitCode::SUCCESS,
                Ok(Ok(false)) => ExitCode::from(3),
                Ok(Err(e)) => fail(e),
                Err(e) => fail(e.into()),
            }
        }
    }
}

async fn run_scenario(scenario: Scenario) -> ExitCode {
    let json = scenario.common().json.clone();
    let html = scenario.common().html.clone();
    let report = match scenario.run().await {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    print!("{}", report.table());
    if let Some(Err(e)) = json.map(|path| report.write_json(&path)) {
        return fail(e);
    }
    if let Some(Err(e)) = html.map(|path| html::write(&report, &path)) {
        return fail(e);
    }
    if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    }
}

/// Prints a latency tool's table and writes its JSON; exit 3 when a probe missed.
fn probe_exit(
    report: anyhow::Result<impl ProbeReport>,
    json: Option<std::path::PathBuf>,
) -> ExitCode {
    match report {
        Ok(report) => {
            print!("{}", report.table());
            match json.map(|path| report.write_json(&path)) {
                Some(Err(e)) => fail(e),
                _ if report.is_clean() => ExitCode::SUCCESS,
                _ => ExitCode::from(3),
            }
        }
        Err(e) => fail(e),
    }
}

fn fail(e: anyhow::Error) -> ExitCode {
    eprintln!("collab-load: {e:#}");
    ExitCode::from(1)
}
