//! Smoke test: every scenario at a tiny size against a test-started gateway pair.
//!
//! Starts its own `redis-server` on a free loopback port (never 6379) and two
//! `collab-gateway` processes (`COLLAB_GATEWAY_BIN`, else the one next to this test's
//! executable: build it first with `cargo build -p collab-server`), runs the built
//! `collab-load` binary once per scenario and checks the JSON it writes: a clean exit,
//! deliveries equal to what was expected, no errors or disconnects, RSS figures present;
//! for `join-storm`, every joiner synced to the whole seeded document; for `awareness`,
//! every cursor move reached every other editor of its file.
//! The process handling follows `tests/src/redis.rs` and `tests/src/gateway.rs`, cut down.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use collab_tests::gateway::gateway_binary;
use serde_json::Value;

/// Kills the child when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("binding a free port")
            .port();
        if port != 6379 {
            return port;
        }
    }
}

fn start_redis() -> (Proc, u16) {
    let port = free_port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning redis-server (is it installed?)");
    let redis = Proc(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "redis-server did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (redis, port)
}

/// Starts a gateway on a free port; returns it and its `127.0.0.1:PORT`.
fn start_gateway(redis_port: u16) -> (Proc, String) {
    let mut child = Command::new(gateway_binary())
        .args(["--listen", "127.0.0.1:0"])
        .args(["--redis-url", &format!("redis://127.0.0.1:{redis_port}")])
        // The load harness carries no tokens.
        .args(["--auth", "none"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .env("NO_COLOR", "1")
        .spawn()
        .expect("spawning collab-gateway");
    let stdout = child.stdout.take().expect("gateway stdout");
    let gateway = Proc(child);
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("gateway exited before it was ready")
            .expect("reading gateway stdout");
        if let Some(addr) = line.trim().strip_prefix("collab-gateway listening on ") {
            break addr.to_owned();
        }
    };
    // Keep draining stdout so the gateway never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (gateway, addr)
}

/// Runs one scenario; returns its JSON report.
fn run(scenario: &str, args: &[&str], gateways: &[(Proc, String)]) -> Value {
    let json = std::env::temp_dir().join(format!(
        "collab-load-smoke-{}-{scenario}.json",
        std::process::id()
    ));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_collab-load"));
    cmd.arg(scenario).args(args).arg("--json").arg(&json);
    for (gw, addr) in gateways {
        cmd.args(["--target", &format!("ws://{addr}/doc")]);
        cmd.args(["--pid", &gw.0.id().to_string()]);
    }
    let out = cmd.output().expect("running collab-load");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{scenario}: {:?}\n{stdout}\n{stderr}",
        out.status
    );
    let text = std::fs::read_to_string(&json).expect("reading the JSON report");
    let _ = std::fs::remove_file(&json);
    let report: Value = serde_json::from_str(&text).expect("parsing the JSON report");
    let n = |k: &str| {
        report[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{scenario}: no {k}"))
    };
    assert_eq!(n("errors"), 0, "{scenario}: {stdout}");
    assert_eq!(n("disconnects"), 0, "{scenario}: {stdout}");
    assert_eq!(n("connect_failures"), 0, "{scenario}: {stdout}");
    assert_eq!(n("synced"), n("editors"), "{scenario}: {stdout}");
    assert_eq!(
        n("deliveries"),
        n("expected_deliveries"),
        "{scenario}: {stdout}"
    );
    assert_eq!(n("missing_deliveries"), 0, "{scenario}: {stdout}");
    let servers = report["servers"].as_array().expect("servers");
    assert_eq!(servers.len(), 2, "{scenario}: {stdout}");
    for s in servers {
        assert!(
            s["rss_kib"].as_u64().is_some_and(|k| k > 0),
            "{scenario}: {s}"
        );
        assert!(
            s["peak_rss_kib"].as_u64().is_some_and(|k| k > 0),
            "{scenario}: {s}"
        );
    }
    report
}

#[test]
fn every_scenario_at_a_tiny_size() {
    let (_redis, redis_port) = start_redis();
    let gateways = [start_gateway(redis_port), start_gateway(redis_port)];

    let r = run(
        "edit-storm",
        &[
            "--editors",
            "4",
            "--files",
            "2",
            "--edits-per-editor",
            "5",
            "--rate",
            "20",
        ],
        &gateways,
    );
    // 4 editors on 2 files: every edit reaches the one other editor of its file.
    assert_eq!(r["edits"], 20);
    assert_eq!(r["expected_deliveries"], 20);
    assert_eq!(r["diverged_files"], 0);

    let r = run(
        "fan-out",
        &["--observers", "6", "--rate", "20", "--edits", "10"],
        &gateways,
    );
    assert_eq!(r["edits"], 10);
    assert_eq!(r["expected_deliveries"], 60);
    assert!(r["propagation_ms"]["p99"].as_f64().is_some_and(|p| p > 0.0));
    assert!(r["propagation_cross_target_ms"]["count"].as_u64() > Some(0));

    let r = run(
        "idle",
        &["--connections", "20", "--files", "3", "--settle", "0.2"],
        &gateways,
    );
    assert_eq!(r["synced"], 20);
    let idle = &r["idle"];
    assert_eq!(idle["connections"], 20);
    let servers = idle["servers"].as_array().expect("idle servers");
    assert_eq!(servers.len(), 2);
    for s in servers {
        assert_eq!(s["connections"], 10, "{s}");
        assert!(s["rss_before_kib"].as_u64() > Some(0), "{s}");
        assert!(s["rss_after_kib"].as_u64() > Some(0), "{s}");
        assert!(s["rss_per_connection_bytes"].is_number(), "{s}");
    }
    assert!(idle["rss_per_connection_bytes"].is_number());

    let r = run(
        "join-storm",
        &["--joiners", "6", "--doc-bytes", "200000", "--settle", "0.5"],
        &gateways,
    );
    // Every joiner synced to the whole seeded document: 3 applied it and compared the
    // text, 3 checked the decoded update's ids and length.
    assert_eq!(r["settings"]["full_joiners"], 3);
    let storm = &r["join_storm"];
    assert_eq!(storm["doc_len"], 200_000, "{storm}");
    assert_eq!(storm["synced_full_doc"], 6, "{storm}");
    assert_eq!(storm["sync_ms"]["count"], 6, "{storm}");
    assert!(storm["seed_seconds"].as_f64().is_some_and(|s| s > 0.0));
    assert!(storm["servers_peak_rss_kib"].as_u64() > Some(0));

    let r = run(
        "awareness",
        &["--editors", "6", "--files", "2", "--duration", "2"],
        &gateways,
    );
    // 3 editors per file: every cursor move reaches the 2 others, and nothing else counts.
    let moves = r["cursor_updates"].as_u64().expect("cursor_updates");
    assert!(moves > 0, "no cursor moves");
    assert_eq!(r["cursor_expected_deliveries"], moves * 2);
    assert_eq!(r["cursor_deliveries"], moves * 2);
    assert_eq!(r["cursor_missing_deliveries"], 0);
    assert_eq!(r["edits"], 0);
    assert_eq!(r["cursor_propagation_ms"]["count"], moves * 2);
}
