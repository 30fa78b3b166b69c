//! The raw relay floor: two instances on one test-started redis-server relay a tiny
//! edit-storm and a fan-out in full (every edit reaches every other editor of its file,
//! across the instances through Redis), and the editors end with the same text.

mod support;

use collab_load::floor::Floor;
use collab_tests::RedisServer;

use support::assert_pair_relays_storm_and_fan_out;

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

    let (storm, _) =
        assert_pair_relays_storm_and_fan_out(&with_targets(Vec::new(), &targets)).await;
    assert!(storm.propagation_same_target_ms.count > 0);
}
