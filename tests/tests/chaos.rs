//! The chaos scenario ([`collab_tests::chaos`]) for 20 seeds at a small size: editors on
//! three gateways keep typing while gateways are killed (kill -9 and SIGTERM), the pub/sub
//! connections are killed and Redis is restarted (SHUTDOWN and kill -9); every replica and
//! a fresh joiner end with the same text, holding every token an editor typed and kept.
//!
//! Seeds start at a random number (printed) unless `COLLAB_CHAOS_FIRST_SEED` is set;
//! `COLLAB_SEED=S` runs the one seed S. A failure prints the `collab-chaos` command that
//! replays it. Two runs go at a time (each has its own Redis and gateways).

use std::sync::Arc;
use std::time::{Duration, Instant};

use collab_tests::chaos::{self, Scenario};
use tokio::sync::Semaphore;

const SEEDS: u64 = 20;
const AT_ONCE: usize = 2;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|s| s.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_seeds_of_chaos_lose_nothing() {
    let scenario = Scenario {
        clients: 5,
        gateways: 3,
        duration: Duration::from_secs(5),
    };
    let seeds: Vec<u64> = match env_u64("COLLAB_SEED") {
        Some(seed) => vec![seed],
        None => {
            let first =
                env_u64("COLLAB_CHAOS_FIRST_SEED").unwrap_or_else(|| rand::random::<u32>().into());
            (first..first + SEEDS).collect()
        }
    };
    println!(
        "chaos seeds {}..={} ({scenario:?}); replay one with COLLAB_SEED=S",
        seeds[0],
        seeds[seeds.len() - 1]
    );
    let started = Instant::now();
    let slots = Arc::new(Semaphore::new(AT_ONCE));
    let mut runs = Vec::new();
    for seed in seeds {
        let scenario = scenario.clone();
        let slots = slots.clone();
        runs.push(tokio::spawn(async move {
            let _slot = slots.acquire_owned().await;
            (seed, chaos::run(seed, &scenario).await)
        }));
    }
    let mut failures = Vec::new();
    let mut kinds = std::collections::BTreeSet::new();
    for run in runs {
        match run.await.expect("a chaos run does not panic") {
            (seed, Ok(outcome)) => {
                println!(
                    "seed {seed}: ok in {:.1}s, {} edits, {} reconnects, closes {:?}, faults: {}",
                    outcome.took.as_secs_f64(),
                    outcome.edits,
                    outcome.reconnects,
                    outcome.closes,
                    outcome
                        .faults
                        .iter()
                        .map(|f| f.trim())
                        .collect::<Vec<_>>()
                        .join("; ")
                );
                assert!(outcome.edits > 0, "seed {seed}: nobody typed");
                kinds.extend(outcome.kinds.iter().copied());
            }
            (seed, Err(error)) => {
                println!("seed {seed}: FAILED\n{error:#}\n");
                failures.push(seed);
            }
        }
    }
    println!(
        "{} chaos seeds in {:.1}s",
        SEEDS,
        started.elapsed().as_secs_f64()
    );
    println!("fault kinds injected: {kinds:?}");
    assert!(
        failures.is_empty(),
        "chaos seeds {failures:?} failed (details above); replay: {}",
        scenario.replay_command(failures[0])
    );
    if failures.is_empty() && SEEDS > 1 && std::env::var_os("COLLAB_SEED").is_none() {
        // Every kind of fault was injected somewhere: the runner is not quietly idle.
        for kind in chaos::ALL_FAULTS {
            assert!(kinds.contains(&kind), "no run injected {kind}: {kinds:?}");
        }
    }
}
