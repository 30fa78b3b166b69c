//! `soak`: does a gateway's memory stay flat over many visits? (issue 22, item 3)
//!
//! It starts its own bare `redis-server` and two gateways (`--auth redis`, a short
//! `--room-grace-ms`) through collab-harness, on loopback, and makes `--visits` visits
//! in rounds of `--round`, `--concurrency` at a time. A visit ([`visit`]) is what a
//! stock y-websocket client does: connect with a user's token, sync, type `--edits`
//! characters, show a cursor, leave. Half the visits open a file never seen before, half
//! revisit one of `--revisit-files` files; each goes to either gateway at random.
//!
//! After each round it waits until the rooms have closed and every settling table
//! ([`report::SETTLING`]: rooms, routes, subscriptions, cursors, grants, tasks, ...) is
//! back at its value before the first visit, then reads ([`reading`]) each gateway's RSS,
//! tables and allocator figures and Redis's side, prints the row, and writes `soak.json`
//! and `soak.md` to `--out`. RSS is reported, never judged; a table off its baseline
//! makes the run unclean (exit 3).

pub mod args;
pub mod reading;
pub mod report;
mod rig;
mod visit;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::task::JoinSet;

pub use args::Args;
use report::Row;
pub use report::SoakReport;
use rig::Rig;

/// How many visit errors the report keeps.
const KEPT_ERRORS: usize = 5;

pub async fn run(args: Args) -> anyhow::Result<SoakReport> {
    args.check()?;
    let logs = tempfile::Builder::new().prefix("collab-soak-").tempdir()?;
    let mut rig = Rig::start(&args, logs.path()).await?;
    eprintln!(
        "collab-load soak: redis 127.0.0.1:{} and gateways {} {}",
        rig.redis_port,
        rig.gateways[0].addr(),
        rig.gateways[1].addr()
    );
    let mut report = SoakReport {
        label: args.label.clone(),
        settings: settings(&args),
        rows: Vec::new(),
        errors: Vec::new(),
    };
    // The baseline: both gateways up and quiet (each has heard the other, or not yet:
    // gateways heard from is not a settling table).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let baseline = read(&mut rig, 0, 0, 0).await?;
    print_row(&baseline);
    report.rows.push(baseline);
    let (mut done, mut failed) = (0u64, 0u64);
    for (i, visits) in args.rounds().into_iter().enumerate() {
        let started = Instant::now();
        failed += visit_round(&rig, &args, done, visits, &mut report.errors).await;
        done += visits;
        let visit_secs = started.elapsed().as_secs_f64();
        let mut row = settle(&mut rig, &args, &report.rows[0], i + 1, done, failed).await?;
        row.visit_secs = visit_secs;
        print_row(&row);
        report.rows.push(row);
        if let Some(dir) = &args.out {
            report.write(dir)?;
        }
    }
    if args.hold_secs > 0 {
        let pids: Vec<String> = rig
            .gateways
            .iter()
            .filter_map(|gw| gw.pid().map(|pid| pid.to_string()))
            .collect();
        eprintln!(
            "collab-load soak: holding the gateways (pids {}) for {} s",
            pids.join(" "),
            args.hold_secs
        );
        tokio::time::sleep(Duration::from_secs(args.hold_secs)).await;
    }
    Ok(report)
}

/// Makes visits `first..first + count`; returns how many failed.
async fn visit_round(
    rig: &Rig,
    args: &Args,
    first: u64,
    count: u64,
    errors: &mut Vec<String>,
) -> u64 {
    let mut running = JoinSet::new();
    let mut failed = 0;
    let mut record = |result: Result<anyhow::Result<()>, tokio::task::JoinError>| {
        let error = match result {
            Ok(Ok(())) => return,
            Ok(Err(e)) => format!("{e:#}"),
            Err(e) => format!("visit task: {e}"),
        };
        failed += 1;
        if errors.len() < KEPT_ERRORS {
            errors.push(error);
        }
    };
    for n in first..first + count {
        if running.len() >= args.concurrency
            && let Some(result) = running.join_next().await
        {
            record(result);
        }
        match plan(rig, args, n) {
            Ok(plan) => {
                running.spawn(visit::run(plan, args.visit()));
            }
            Err(e) => record(Ok(Err(e))),
        }
    }
    while let Some(result) = running.join_next().await {
        record(result);
    }
    failed
}

/// Visit `n`: even ones open a new file, odd ones revisit one; either gateway.
fn plan(rig: &Rig, args: &Args, n: u64) -> anyhow::Result<visit::Plan> {
    let mut rng = rand::rng();
    let (user, file) = if n.is_multiple_of(2) {
        let user = (n / 2) % args.users;
        (user, format!("{}/new/{n}.ts", rig::sandbox(user)))
    } else {
        let k = rng.random_range(0..args.revisit_files);
        let user = k % args.users;
        (user, format!("{}/hot/{k}.ts", rig::sandbox(user)))
    };
    let gateway = rng.random_range(0..2);
    Ok(visit::Plan {
        url: rig.url(gateway, user, &file)?,
        file,
        edits: args.edits,
    })
}

/// Waits until every settling table is back at the baseline (or the deadline), and reads.
async fn settle(
    rig: &mut Rig,
    args: &Args,
    baseline: &Row,
    round: usize,
    visits: u64,
    failed: u64,
) -> anyhow::Result<Row> {
    let started = Instant::now();
    // Nothing can close before the grace period.
    tokio::time::sleep(Duration::from_millis(args.room_grace_ms)).await;
    loop {
        let mut row = read(rig, round, visits, failed).await?;
        let off = row.unsettled(baseline);
        row.settle_secs = started.elapsed().as_secs_f64();
        if off.is_empty() {
            let mut row = at_rest(rig, &row, round, visits, failed).await?;
            row.settle_secs = started.elapsed().as_secs_f64();
            row.settled = true;
            return Ok(row);
        }
        if started.elapsed() >= args.settle() {
            eprintln!(
                "collab-load soak: round {round} did not settle: {}",
                off.join("; ")
            );
            return Ok(row);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// How long a settled round waits for the gateways' trims.
const TRIM_WAIT: Duration = Duration::from_secs(2);

/// Reads again once every gateway has given back what its ended rooms freed: glibc
/// builds trim right after their last room ended (`collab_allocator_trim_seconds_count`
/// goes up), so RSS is read at rest, not in the moment between. Waits at most
/// [`TRIM_WAIT`] (a trim may have finished before `settled` was read, and a gateway with
/// `--malloc-trim-ms 0` never trims), the same in every run.
async fn at_rest(
    rig: &mut Rig,
    settled: &Row,
    round: usize,
    visits: u64,
    failed: u64,
) -> anyhow::Result<Row> {
    let deadline = Instant::now() + TRIM_WAIT;
    loop {
        let row = read(rig, round, visits, failed).await?;
        let trimmed = row
            .gateways
            .iter()
            .zip(&settled.gateways)
            .all(|(now, then)| now.trims > then.trims);
        if trimmed || Instant::now() >= deadline {
            return Ok(row);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn read(rig: &mut Rig, round: usize, visits: u64, failed: u64) -> anyhow::Result<Row> {
    let mut gateways = Vec::new();
    for gw in &rig.gateways {
        gateways.push(reading::gateway(gw).await?);
    }
    Ok(Row {
        round,
        visits,
        failed,
        visit_secs: 0.0,
        settle_secs: 0.0,
        settled: true,
        gateways,
        redis: reading::redis(&mut rig.redis).await?,
    })
}

fn print_row(row: &Row) {
    let rss: Vec<String> = row
        .gateways
        .iter()
        .map(|g| format!("{:.1}", g.rss_kib as f64 / 1024.0))
        .collect();
    eprintln!(
        "collab-load soak: round {} visits {} failed {} ({:.1} s, settled {} in {:.1} s): RSS MiB {} rooms {} tasks {} id-cache {}",
        row.round,
        row.visits,
        row.failed,
        row.visit_secs,
        row.settled,
        row.settle_secs,
        rss.join(" "),
        row.sum("rooms"),
        row.sum("tasks"),
        row.sum("identity_cache_keys"),
    );
}

fn settings(args: &Args) -> BTreeMap<String, String> {
    let mut s = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        s.insert(k.to_owned(), v);
    };
    put("visits", args.visits.to_string());
    put("round", args.round.to_string());
    put("concurrency", args.concurrency.to_string());
    put("revisit-files", args.revisit_files.to_string());
    put("users", args.users.to_string());
    put("edits", args.edits.to_string());
    put("room-grace-ms", args.room_grace_ms.to_string());
    put("gateway-args", args.gateway_args.join(" "));
    put("gateway-env", args.gateway_env.join(" "));
    // The binary's file name only: a machine's paths stay out of committed results.
    let bin = std::env::var_os("COLLAB_GATEWAY_BIN")
        .and_then(|p| {
            Some(
                std::path::PathBuf::from(p)
                    .file_name()?
                    .to_string_lossy()
                    .into_owned(),
            )
        })
        .unwrap_or_else(|| "collab-gateway".into());
    put("gateway-bin", bin);
    s
}
