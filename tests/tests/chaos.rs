//! The chaos scenario ([`collab_tests::chaos`]) at a small size, on both engines: editors
//! on several gateways keep typing while gateways are killed (kill -9 and SIGTERM) and the
//! pub/sub connections are killed; on one Redis (20 seeds) Redis is also restarted
//! (SHUTDOWN and kill -9), on a Redis Cluster (6 seeds) the file's slot moves to another
//! master and the file's master is killed -9 (its replica is promoted). Every replica and
//! a fresh joiner end with the same text, holding every token an editor typed and kept.
//!
//! Seeds start at a random number (printed) unless `COLLAB_CHAOS_FIRST_SEED` is set;
//! `COLLAB_SEED=S` runs the one seed S. A failure prints the `collab-chaos` command that
//! replays it. Runs go `at_once` at a time (each has its own Redis and gateways).

use std::sync::Arc;
use std::time::{Duration, Instant};

use collab_tests::BackendKind;
use collab_tests::chaos::{self, Fault, Scenario};
use tokio::sync::Semaphore;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|s| s.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_seeds_of_chaos_lose_nothing() {
    let scenario = Scenario {
        clients: 5,
        gateways: 3,
        duration: Duration::from_secs(5),
        backend: BackendKind::Redis,
    };
    run_seeds(&scenario, 20, 2).await;
}

/// Each cluster run lasts at least one round of its five faults, a master kill being the
/// longest (a failover with `--cluster-node-timeout 2000`, then the node rejoins): a run
/// mostly waits for the cluster's timers, so two go at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn six_seeds_of_chaos_on_a_cluster_lose_nothing() {
    let scenario = Scenario {
        clients: 4,
        gateways: 2,
        duration: Duration::from_secs(4),
        backend: BackendKind::Cluster,
    };
    run_seeds(&scenario, 6, 2).await;
}

/// Runs `count` seeds of `scenario`, `at_once` at a time, and fails naming every failed
/// seed and how to replay the first one.
async fn run_seeds(scenario: &Scenario, count: u64, at_once: usize) {
    let seeds: Vec<u64> = match env_u64("COLLAB_SEED") {
        Some(seed) => vec![seed],
        None => {
            let first =
                env_u64("COLLAB_CHAOS_FIRST_SEED").unwrap_or_else(|| rand::random::<u32>().into());
            (first..first + count).collect()
        }
    };
    println!(
        "chaos seeds {}..={} ({scenario:?}); replay one with COLLAB_SEED=S",
        seeds[0],
        seeds[seeds.len() - 1]
    );
    let started = Instant::now();
    let slots = Arc::new(Semaphore::new(at_once));
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
        "{count} chaos seeds on {} in {:.1}s",
        scenario.backend,
        started.elapsed().as_secs_f64()
    );
    println!("fault kinds injected: {kinds:?}");
    assert!(
        failures.is_empty(),
        "chaos seeds {failures:?} on {} failed (details above); replay: {}",
        scenario.backend,
        scenario.replay_command(failures[0])
    );
    // Every kind of fault was injected: the runner is not quietly idle.
    for kind in Fault::mix(scenario.backend) {
        assert!(kinds.contains(kind), "no run injected {kind}: {kinds:?}");
    }
}
