//! Smoke test of `collab-load files-latency`: the built binary, at tiny counts and short
//! write-back intervals, starts its own redis-server and two gateways with `--files dir`
//! (the `collab-gateway` next to it, or `COLLAB_GATEWAY_BIN`; run `cargo build -p
//! collab-server` first), and reports every figure: each keystroke timed to disk, every
//! outside write timed to the other gateway's editor, a bounded write count and an RPO.

use std::time::Duration;

use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_latency_reports_every_figure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("files.json");
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_collab-load"));
    cmd.args([
        "files-latency",
        "--duration",
        "2",
        "--pace-ms",
        "50",
        "--write-back-ms",
        "100",
        "--write-back-max-ms",
        "400",
        "--outside",
        "3",
        "--outside-gap-ms",
        "200",
        "--rpo-runs",
        "2",
        "--rpo-secs",
        "1",
        "--json",
    ])
    .arg(&json)
    .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("files-latency finished within 120 s")
        .expect("collab-load runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    let report: Value =
        serde_json::from_slice(&std::fs::read(&json).expect("JSON written")).expect("JSON");

    let typed = report["keystrokes_typed"].as_u64().expect("typed");
    assert!(typed >= 20, "typed {typed}: {report}");
    assert_eq!(report["keystrokes_on_disk"].as_u64(), Some(typed));
    let keys = &report["keystroke_to_disk"];
    assert_eq!(keys["count"].as_u64(), Some(typed));
    let p50 = keys["p50_ms"].as_f64().expect("p50");
    assert!(p50 > 0.0 && p50 <= keys["p99_ms"].as_f64().expect("p99"));

    let outside = &report["outside_to_editors"];
    assert_eq!(outside["count"].as_u64(), Some(3));
    assert!(outside["p99_ms"].as_f64().expect("p99") > 0.0);

    let writes = &report["writes"];
    assert!(writes["writes"].as_u64().expect("writes") >= 1, "{writes}");
    assert_eq!(writes["within_bound"], Value::Bool(true));
    assert_eq!(writes["bound_per_minute"].as_f64(), Some(150.0));

    let runs = report["rpo_runs"].as_array().expect("rpo runs");
    assert_eq!(runs.len(), 2);
    for run in runs {
        let (typed, recovered, lost) = (
            run["typed"].as_u64().expect("typed"),
            run["recovered"].as_u64().expect("recovered"),
            run["lost"].as_u64().expect("lost"),
        );
        assert!(typed > 0 && recovered + lost == typed, "{run}");
    }
    assert!(report["rpo_median_lost"].as_f64().is_some());
    assert!(
        stdout.contains("keystroke -> disk") && stdout.contains("RPO"),
        "{stdout}"
    );
}
