//! What a gateway says when it starts, as an operator reads it: a log written to a file is
//! plain text (colour codes only on a terminal), it names the Redis version it checked,
//! and a Redis it cannot check is a refusal to start, with the reason, not a later failure.
//!
//! The gateway here is spawned directly (not through [`collab_tests::gateway::Gateway`],
//! which pipes stderr and sets `NO_COLOR`), with stderr redirected to a file as a service
//! manager or `scripts/demo > log 2>&1` would.

use std::process::Stdio;
use std::time::Duration;

use collab_tests::gateway::gateway_binary;
use collab_tests::process::free_port;
use collab_tests::redis::RedisServer;
use collab_tests::wait::eventually;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const DEADLINE: Duration = Duration::from_secs(30);

/// A gateway command with none of the caller's `COLLAB_*` or colour settings.
fn gateway(redis_url: &str) -> Command {
    let mut command = Command::new(gateway_binary());
    command
        .args(["--listen", "127.0.0.1:0", "--redis-url", redis_url])
        .args(["--auth", "none"])
        .stdin(Stdio::null())
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env("COLLAB_LOG", "info")
        .kill_on_drop(true);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("COLLAB_") && key != "COLLAB_LOG" {
            command.env_remove(key);
        }
    }
    command
}

#[tokio::test]
async fn a_log_file_has_no_colour_codes_and_names_the_redis_version() {
    let redis = RedisServer::start().await.expect("redis-server");
    let mut conn = redis.connection().await.expect("redis connection");
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut conn)
        .await
        .expect("INFO server");
    let version = info
        .lines()
        .find_map(|l| l.trim_end().strip_prefix("redis_version:"))
        .expect("redis_version")
        .to_owned();

    let dir = tempfile::tempdir().expect("tempdir");
    let log_path = dir.path().join("gateway.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut child = gateway(&redis.url())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("spawning collab-gateway");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(DEADLINE, async {
        while let Some(line) = lines.next_line().await.expect("stdout line") {
            if line.starts_with("collab-gateway listening on ") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(ready, Ok(true), "gateway never printed its readiness line");

    let read = || std::fs::read(&log_path).expect("reading the log file");
    let logged = eventually(DEADLINE, || async { contains(&read(), b"serving") }).await;
    let text = read();
    assert!(
        logged,
        "no 'serving' line in:\n{}",
        String::from_utf8_lossy(&text)
    );
    let _ = child.kill().await;

    let shown = String::from_utf8_lossy(&text);
    assert!(
        !text.contains(&0x1b),
        "the log file holds ANSI escape codes:\n{shown:?}"
    );
    let connected = shown
        .lines()
        .find(|line| line.contains("connected to redis"))
        .unwrap_or_else(|| panic!("no 'connected to redis' line in:\n{shown}"));
    assert!(
        connected.contains(&format!("redis_version={version}")),
        "the start line names the Redis version checked ({version}): {connected}"
    );
}

#[tokio::test]
async fn a_redis_whose_version_cannot_be_read_stops_the_start() {
    // Nothing listens on this port: the version check is the first thing to ask Redis.
    let port = free_port().expect("free port");
    let output = tokio::time::timeout(
        DEADLINE,
        gateway(&format!("redis://127.0.0.1:{port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output(),
    )
    .await
    .expect("the gateway exits by itself")
    .expect("running collab-gateway");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "started anyway:\n{stderr}");
    assert!(
        !stdout.contains("listening on"),
        "served before checking Redis:\n{stdout}"
    );
    assert!(
        stderr.contains("collab-gateway: asking Redis for its version (INFO server)"),
        "one clear line says why:\n{stderr}"
    );
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
