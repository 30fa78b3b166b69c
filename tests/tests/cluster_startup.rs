//! A gateway asked for a Redis Cluster (`--redis-cluster`) that it cannot have refuses to
//! start, with one line saying why.

use std::time::Duration;

/// `--redis-cluster` without seeds, or pointed at a Redis that is not a cluster node,
/// refuses to start with one line saying why.
#[tokio::test]
async fn a_cluster_gateway_without_a_cluster_refuses_to_start() {
    let plain = collab_tests::RedisServer::start()
        .await
        .expect("redis-server");
    let cases: [(&[&str], &str); 2] = [
        (&[], "--redis-cluster needs --redis-url"),
        (&["--redis-url", &plain.url()], "cluster support disabled"),
    ];
    for (args, says) in cases {
        let output = tokio::time::timeout(
            Duration::from_secs(30),
            tokio::process::Command::new(collab_tests::gateway::gateway_binary())
                .args([
                    "--listen",
                    "127.0.0.1:0",
                    "--auth",
                    "none",
                    "--redis-cluster",
                ])
                .args(args)
                .env_remove("COLLAB_REDIS_URL")
                .stdin(std::process::Stdio::null())
                .kill_on_drop(true)
                .output(),
        )
        .await
        .expect("the gateway exits by itself")
        .expect("running collab-gateway");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?}: started anyway");
        assert!(
            stderr.contains(says),
            "{args:?}: no line saying {says:?}:\n{stderr}"
        );
    }
}
