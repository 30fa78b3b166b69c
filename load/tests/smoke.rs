//! Smoke test: every scenario at a tiny size against a test-started gateway pair.
//!
//! Starts its own `redis-server` on a free loopback port (never 6379) and two
//! `collab-gateway` processes (`COLLAB_GATEWAY_BIN`, else the one next to this test's
//! executable: build it first with `cargo build -p collab-server`), runs the built
//! `collab-load` binary once per scenario and checks the JSON it writes: a clean exit,
//! deliveries equal to what was expected, no errors or disconnects, RSS figures present;
//! for `join-storm`, every joiner synced to the whole seeded document; for `awareness`,
//! every cursor move reached every other editor of its file.
//! The processes come from the one harness the end-to-end tests use (`collab-harness`,
//! through `collab_tests`); this Redis keeps nothing on disk (`--appendonly no`), as a
//! benchmark's does.

use collab_tests::RedisServer;
use collab_tests::gateway::Gateway;
use serde_json::Value;

/// Runs one scenario; returns its JSON report.
async fn run(scenario: &str, args: &[&str], gateways: &[Gateway]) -> Value {
    let json = std::env::temp_dir().join(format!(
        "collab-load-smoke-{}-{scenario}.json",
        std::process::id()
    ));
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_collab-load"));
    cmd.arg(scenario).args(args).arg("--json").arg(&json);
    for gw in gateways {
        let pid = gw.pid().expect("a running gateway");
        cmd.args(["--target", &format!("ws://{}/doc", gw.addr())]);
        cmd.args(["--pid", &pid.to_string()]);
    }
    let out = cmd.output().await.expect("running collab-load");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_at_a_tiny_size() {
    let redis = RedisServer::start_with(&["--appendonly", "no"])
        .await
        .expect("starting redis-server");
    // The load harness carries no tokens: the gateways run with `--auth none`.
    let gateways = [
        Gateway::start(&redis.url(), &[]).await.expect("gateway a"),
        Gateway::start(&redis.url(), &[]).await.expect("gateway b"),
    ];

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
    )
    .await;
    // 4 editors on 2 files: every edit reaches the one other editor of its file.
    assert_eq!(r["edits"], 20);
    assert_eq!(r["expected_deliveries"], 20);
    assert_eq!(r["diverged_files"], 0);

    let r = run(
        "fan-out",
        &["--observers", "6", "--rate", "20", "--edits", "10"],
        &gateways,
    )
    .await;
    assert_eq!(r["edits"], 10);
    assert_eq!(r["expected_deliveries"], 60);
    assert!(r["propagation_ms"]["p99"].as_f64().is_some_and(|p| p > 0.0));
    assert!(r["propagation_cross_target_ms"]["count"].as_u64() > Some(0));

    let r = run(
        "idle",
        &["--connections", "20", "--files", "3", "--settle", "0.2"],
        &gateways,
    )
    .await;
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
    )
    .await;
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
    )
    .await;
    // 3 editors per file: every cursor move reaches the 2 others, and nothing else counts.
    let moves = r["cursor_updates"].as_u64().expect("cursor_updates");
    assert!(moves > 0, "no cursor moves");
    assert_eq!(r["cursor_expected_deliveries"], moves * 2);
    assert_eq!(r["cursor_deliveries"], moves * 2);
    assert_eq!(r["cursor_missing_deliveries"], 0);
    assert_eq!(r["edits"], 0);
    assert_eq!(r["cursor_propagation_ms"]["count"], moves * 2);
}
