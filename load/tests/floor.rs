//! The raw relay floor: two instances on one test-started redis-server relay a tiny
//! edit-storm and a fan-out in full (every edit reaches every other editor of its file,
//! across the instances through Redis), and the editors end with the same text.

mod support;

use collab_load::floor::Floor;
use collab_tests::RedisServer;

use support::{assert_clean, run_scenario, strings};

/// Two floor instances serving in this process; returns their `ws://ADDR/doc` targets.
async fn start_floor_pair(redis: &RedisServer) -> Vec<String> {
    let mut targets = Vec::new();
    for _ in 0..2 {
        let floor = Floor::bind(([127, 0, 0, 1], 0).into(), &redis.url())
            .await
            .expect("starting a floor");
        targets.push(format!("ws://{}/doc", floor.local_addr()));
        tokio::spawn(async move {
            if let Err(e) = floor.serve().await {
                eprintln!("floor stopped: {e:#}");
            }
        });
    }
    targets
}

fn with_targets(mut args: Vec<String>, targets: &[String]) -> Vec<String> {
    for t in targets {
        args.push("--target".into());
        args.push(t.clone());
    }
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_floor_pair_relays_every_edit_across_instances() {
    let redis = RedisServer::start().await.expect("starting redis-server");
    let targets = start_floor_pair(&redis).await;

    // 6 editors on 2 files, 3 per file over both floors: each edit reaches the 2 others.
    let storm = strings([
        "edit-storm",
        "--editors",
        "6",
        "--files",
        "2",
        "--edits-per-editor",
        "10",
        "--rate",
        "50",
    ]);
    let report = run_scenario(&with_targets(storm, &targets)).await;
    assert_clean(&report);
    assert_eq!(report.edits, 60);
    assert_eq!(report.expected_deliveries, 120);
    assert!(report.propagation_cross_target_ms.count > 0);
    assert!(report.propagation_same_target_ms.count > 0);

    let fan_out = strings([
        "fan-out",
        "--observers",
        "6",
        "--edits",
        "10",
        "--rate",
        "50",
    ]);
    let report = run_scenario(&with_targets(fan_out, &targets)).await;
    assert_clean(&report);
    assert_eq!(report.expected_deliveries, 60);
    assert!(report.propagation_cross_target_ms.count > 0);
}
