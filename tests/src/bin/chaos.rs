//! `collab-chaos`: runs the seeded chaos scenario ([`collab_tests::chaos`]) for as many
//! seeds as asked, and exits non-zero if any failed, printing how to replay it.
//!
//! ```sh
//! cargo build -p collab-server -p collab-tests --bins
//! target/debug/collab-chaos --seeds 20 --clients 4 --gateways 2 --duration 3s --parallel 2
//! target/debug/collab-chaos --seed 1234 --clients 4 --gateways 2 --duration 3s
//! target/debug/collab-chaos --cluster --seeds 5 --clients 4 --gateways 2 --duration 4s
//! ```

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use collab_tests::BackendKind;
use collab_tests::chaos::{self, Scenario};
use tokio::sync::Semaphore;

#[derive(Parser, Debug)]
#[command(
    about = "Seeded chaos runs: editors on gateways while gateways, subscriptions \
                   and Redis die (or, with --cluster, slots move and masters die); checks \
                   that nothing is lost and all converge."
)]
struct Args {
    /// How many seeds to run (from --first-seed, else from a random one).
    #[arg(long, default_value_t = 20, conflicts_with = "seed")]
    seeds: u64,
    /// Run this one seed only (to replay a failure).
    #[arg(long)]
    seed: Option<u64>,
    /// First seed of a --seeds run.
    #[arg(long)]
    first_seed: Option<u64>,
    /// Editors per run.
    #[arg(long, default_value_t = 6)]
    clients: usize,
    /// Gateway processes per run.
    #[arg(long, default_value_t = 3)]
    gateways: usize,
    /// How long the editors type while faults happen: `8s`, `1500ms` or seconds.
    #[arg(long, default_value = "8s", value_parser = parse_duration)]
    duration: Duration,
    /// Runs at once (each has its own Redis and gateways).
    #[arg(long, default_value_t = 1)]
    parallel: usize,
    /// Run on a Redis Cluster of 3 masters and 3 replicas instead of one Redis: the faults
    /// are slot moves and master kills besides gateway and pub/sub kills.
    #[arg(long)]
    cluster: bool,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (number, unit) = match s.strip_suffix("ms") {
        Some(n) => (n, 0.001),
        None => (s.strip_suffix('s').unwrap_or(s), 1.0),
    };
    number
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n >= 0.0)
        .map(|n| Duration::from_secs_f64(n * unit))
        .ok_or_else(|| format!("{s:?} is not a duration such as 8s, 1500ms or 2.5"))
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let scenario = Scenario {
        clients: args.clients.max(1),
        gateways: args.gateways.max(1),
        duration: args.duration,
        backend: if args.cluster {
            BackendKind::Cluster
        } else {
            BackendKind::Redis
        },
    };
    let seeds: Vec<u64> = match args.seed {
        Some(seed) => vec![seed],
        None => {
            let first = args
                .first_seed
                .unwrap_or_else(|| rand::random::<u32>().into());
            (first..first.saturating_add(args.seeds)).collect()
        }
    };
    println!(
        "collab-chaos: {} seed(s) from {} on {}, {} clients on {} gateways, {:?} each, {} at \
         a time",
        seeds.len(),
        seeds[0],
        scenario.backend,
        scenario.clients,
        scenario.gateways,
        scenario.duration,
        args.parallel.max(1)
    );
    let started = Instant::now();
    let slots = Arc::new(Semaphore::new(args.parallel.max(1)));
    let mut runs = Vec::new();
    for seed in seeds {
        let scenario = scenario.clone();
        let slots = slots.clone();
        runs.push(tokio::spawn(async move {
            let _slot = slots.acquire_owned().await;
            let result = chaos::run(seed, &scenario).await;
            match &result {
                Ok(o) => println!(
                    "seed {seed}: ok in {:.1}s: {} edits, {} faults, {} reconnects, closes {:?}, \
                     {} UTF-16 units",
                    o.took.as_secs_f64(),
                    o.edits,
                    o.faults.len(),
                    o.reconnects,
                    o.closes,
                    o.text_len
                ),
                Err(e) => println!("seed {seed}: FAILED\n{e:#}\n"),
            }
            (seed, result.is_ok())
        }));
    }
    let mut failed = Vec::new();
    for run in runs {
        match run.await {
            Ok((_, true)) => {}
            Ok((seed, false)) => failed.push(seed.to_string()),
            Err(e) => failed.push(format!("a run panicked: {e}")),
        }
    }
    println!(
        "collab-chaos: {} failed in {:.1}s{}",
        failed.len(),
        started.elapsed().as_secs_f64(),
        if failed.is_empty() {
            String::new()
        } else {
            format!(": seeds {}", failed.join(", "))
        }
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
