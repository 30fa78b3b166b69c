//! Light editors against real gateways: they apply nothing, yet recognise every delivery
//! from the decoded updates, and count the ones that never come.
//!
//! Each test starts its own redis-server(s) on free loopback ports and gateways on top
//! (`collab_tests`), and runs the scenarios in this process.

mod support;

use collab_tests::RedisServer;
use collab_tests::gateway::Gateway;

use support::{assert_clean, assert_pair_relays_storm_and_fan_out, run_scenario, strings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn light_observers_and_editors_count_every_delivery() {
    let redis = RedisServer::start().await.expect("starting redis-server");
    let a = Gateway::start(&redis.url(), &[]).await.expect("gateway a");
    let b = Gateway::start(&redis.url(), &[]).await.expect("gateway b");
    let targets = [
        "--target".to_owned(),
        format!("ws://{}/doc", a.addr()),
        "--target".to_owned(),
        format!("ws://{}/doc", b.addr()),
    ];

    // Everyone light but the writer: the pair check every peer passes still holds.
    let mut extra = targets.to_vec();
    extra.extend(strings(["--replicas", "0"]));
    assert_pair_relays_storm_and_fan_out(&extra).await;

    // 12 observers, 3 of them (with the writer) full replicas; 9 light.
    let mut fan_out = strings([
        "fan-out",
        "--observers",
        "12",
        "--rate",
        "40",
        "--edits",
        "20",
        "--replicas",
        "3",
    ]);
    fan_out.extend_from_slice(&targets);
    let r = run_scenario(&fan_out).await;
    assert_clean(&r);
    assert_eq!(r.expected_deliveries, 240, "{}", r.table());
    assert_eq!(r.settings["replicas"], 3);
    assert_eq!(r.files_checked, 1, "{}", r.table());

    // 8 editors on 2 files, 2 full replicas per file, the other 4 light and typing too.
    let mut storm = strings([
        "edit-storm",
        "--editors",
        "8",
        "--files",
        "2",
        "--edits-per-editor",
        "10",
        "--rate",
        "30",
        "--replicas",
        "4",
    ]);
    storm.extend_from_slice(&targets);
    let r = run_scenario(&storm).await;
    assert_clean(&r);
    // Every edit reaches the 3 other editors of its file, light or full.
    assert_eq!(r.edits, 80, "{}", r.table());
    assert_eq!(r.expected_deliveries, 240, "{}", r.table());
    assert_eq!(r.files_checked, 2, "{}", r.table());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn light_observers_count_the_deliveries_that_never_come() {
    // Two gateways on two separate Redis servers: the writer's edits never reach the
    // observers on the second one.
    let (r1, r2) = (
        RedisServer::start().await.expect("redis 1"),
        RedisServer::start().await.expect("redis 2"),
    );
    let a = Gateway::start(&r1.url(), &[]).await.expect("gateway a");
    let b = Gateway::start(&r2.url(), &[]).await.expect("gateway b");
    let mut fan_out = strings([
        "fan-out",
        "--observers",
        "6",
        "--rate",
        "40",
        "--edits",
        "10",
        "--replicas",
        "0",
        "--drain-timeout",
        "1",
    ]);
    fan_out.extend([
        "--target".to_owned(),
        format!("ws://{}/doc", a.addr()),
        "--target".to_owned(),
        format!("ws://{}/doc", b.addr()),
    ]);
    let r = run_scenario(&fan_out).await;
    let table = r.table();
    // Observers 2, 4, 6 share the writer's gateway; 1, 3, 5 are on the other.
    assert_eq!(r.synced, 7, "{table}");
    assert_eq!(r.expected_deliveries, 60, "{table}");
    assert_eq!(r.deliveries, 30, "{table}");
    assert_eq!(r.missing_deliveries, 30, "{table}");
    assert!(!r.is_clean(), "{table}");
    // Only the writer keeps a replica: one file checked, trivially converged.
    assert_eq!(r.files_checked, 1, "{table}");
}
