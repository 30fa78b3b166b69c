//! The Hocuspocus peer through the `hocuspocus` framing: two `server.mjs` instances (with
//! the Redis extension) on one test-started redis-server relay a tiny edit-storm and a
//! fan-out in full, and the editors end with the same text.
//!
//! Needs `node` and the peer's dependencies (`load/peers/install`, i.e. `npm ci` in
//! `load/peers/hocuspocus/`). Without them it fails under CI (`CI` set) and when run from
//! `scripts/test` (which sets `COLLAB_REQUIRE_PEERS=1`); only a developer's bare
//! `cargo test` elsewhere says so on stderr and passes.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use collab_tests::RedisServer;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use support::assert_pair_relays_storm_and_fan_out;

/// How long a peer may take to print its listening line.
const START_DEADLINE: Duration = Duration::from_secs(30);

fn peer_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/hocuspocus")
}

/// Starts one peer; returns it (killed on drop) and its `ws://127.0.0.1:PORT` target.
async fn start_peer(redis: &RedisServer) -> (Child, String) {
    let mut child = Command::new("node")
        .arg("server.mjs")
        .args(["--port", "0", "--redis-port", &redis.port().to_string()])
        .current_dir(peer_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawning node server.mjs");
    let stdout = child.stdout.take().expect("peer stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(START_DEADLINE, lines.next_line())
        .await
        .expect("the peer did not print its listening line in time")
        .expect("reading the peer's stdout")
        .expect("the peer exited before listening");
    let addr = line
        .strip_prefix("hocuspocus listening on ")
        .unwrap_or_else(|| panic!("unexpected first line from the peer: {line:?}"));
    let target = format!("ws://{addr}");
    // Keep draining stdout so the peer never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, target)
}

fn installed() -> bool {
    let node = std::process::Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    node && peer_dir()
        .join("node_modules/@hocuspocus/server/package.json")
        .is_file()
}

/// Whether a missing peer fails the test: under CI (`CI` set to anything but `false` or
/// empty) or with `COLLAB_REQUIRE_PEERS=1` (`scripts/test`).
fn peers_required() -> bool {
    let set =
        |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    set("CI") || set("COLLAB_REQUIRE_PEERS")
}

fn with_targets(mut args: Vec<String>, targets: &[String]) -> Vec<String> {
    args.extend(["--framing".to_owned(), "hocuspocus".to_owned()]);
    for t in targets {
        args.push("--target".into());
        args.push(t.clone());
    }
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hocuspocus_instances_deliver_every_edit() {
    if !installed() {
        let missing =
            "node or the Hocuspocus peer's node_modules is missing (run load/peers/install)";
        assert!(
            !peers_required(),
            "{missing}; CI and scripts/test never skip this test"
        );
        eprintln!("skipped: {missing}");
        return;
    }
    let redis = RedisServer::start().await.expect("starting redis-server");
    let (_a, a) = start_peer(&redis).await;
    let (_b, b) = start_peer(&redis).await;
    let targets = [a, b];

    let (storm, _) =
        assert_pair_relays_storm_and_fan_out(&with_targets(Vec::new(), &targets)).await;
    assert_eq!(storm.framing, "hocuspocus");
}
