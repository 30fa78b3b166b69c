//! `--engine memory` as an operator meets it: the gateway starts without any Redis, says
//! at start that nothing is shared or durable, is always ready, and serves editors who
//! converge. A Redis URL beside it is a refusal to start.
//!
//! The gateway is spawned directly: the harness's [`collab_tests::gateway::Gateway`]
//! always hands it a Redis URL.

use std::process::Stdio;
use std::time::Duration;

use collab_tests::client::Client;
use collab_tests::gateway::gateway_binary;
use collab_tests::wait::eventually;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::Command;

const DEADLINE: Duration = Duration::from_secs(30);

/// A memory gateway command with none of the caller's `COLLAB_*` settings.
fn gateway(extra: &[&str]) -> Command {
    let mut command = Command::new(gateway_binary());
    command
        .args(["--listen", "127.0.0.1:0", "--engine", "memory"])
        .args(["--auth", "none"])
        .args(extra)
        .stdin(Stdio::null())
        .env("NO_COLOR", "1")
        .kill_on_drop(true);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("COLLAB_") {
            command.env_remove(key);
        }
    }
    command
}

/// The status line of `GET path` on `addr`.
async fn status_of(addr: &str, path: &str) -> String {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.expect("request");
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.expect("response");
    response.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_memory_gateway_warns_is_ready_and_serves_editors_who_converge() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log_path = dir.path().join("gateway.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut child = gateway(&[])
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("spawning collab-gateway");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let addr = tokio::time::timeout(DEADLINE, async {
        while let Some(line) = lines.next_line().await.expect("stdout line") {
            if let Some(addr) = line.strip_prefix("collab-gateway listening on ") {
                return Some(addr.to_owned());
            }
        }
        None
    })
    .await
    .expect("started in time")
    .expect("the gateway printed its address");

    let read = || std::fs::read_to_string(&log_path).expect("reading the log file");
    let warned = eventually(DEADLINE, || async { read().contains("--engine memory") }).await;
    assert!(warned, "no warning about the memory engine in:\n{}", read());
    assert!(read().contains("WARN"), "{}", read());
    assert_eq!(status_of(&addr, "/readyz").await, "HTTP/1.1 200 OK");

    let url = format!("ws://{addr}/doc/sb/notes.md");
    let ann = Client::connect_synced(&url, DEADLINE).await.expect("ann");
    let bob = Client::connect_synced(&url, DEADLINE).await.expect("bob");
    ann.push("from ann. ").expect("ann types");
    bob.push("from bob.").expect("bob types");
    let converged = eventually(DEADLINE, || async {
        ann.text() == bob.text() && ann.text().len() == "from ann. from bob.".len()
    })
    .await;
    assert!(converged, "ann {:?}, bob {:?}", ann.text(), bob.text());
    // A late joiner gets the document from the gateway's memory.
    let late = Client::connect_synced(&url, DEADLINE)
        .await
        .expect("late joiner");
    assert_eq!(late.text(), ann.text());
    let _ = child.kill().await;
}

#[tokio::test]
async fn a_redis_url_beside_the_memory_engine_stops_the_start() {
    let output = tokio::time::timeout(
        DEADLINE,
        gateway(&["--redis-url", "redis://127.0.0.1:1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output(),
    )
    .await
    .expect("exited in time")
    .expect("ran");
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("--engine memory uses no Redis"), "{said}");
}
