//! Smoke test of `collab-load soak`: the built binary makes 300 visits in 3 rounds against
//! its own redis-server and two gateways (the `collab-gateway` next to it, or
//! `COLLAB_GATEWAY_BIN`; run `cargo build -p collab-server` first). After every round,
//! once the rooms closed, every table that lives with rooms and connections (rooms,
//! routes, subscriptions, cursors, grants, tasks, ...) is back where it was before the
//! first visit, on both gateways, and Redis holds no file channel. RSS is reported, not
//! judged.

use std::time::Duration;

use collab_load::soak::report::SETTLING;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_table_returns_to_its_baseline_after_the_rooms_close() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("soak");
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_collab-load"));
    cmd.args([
        "soak",
        "--visits",
        "300",
        "--round",
        "100",
        "--concurrency",
        "8",
        "--revisit-files",
        "20",
        "--users",
        "5",
        "--room-grace-ms",
        "100",
        "--out",
    ])
    .arg(&out)
    .kill_on_drop(true);
    let run = tokio::time::timeout(Duration::from_secs(240), cmd.output())
        .await
        .expect("soak finished within 240 s")
        .expect("collab-load runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        run.status
    );
    let report: Value =
        serde_json::from_slice(&std::fs::read(out.join("soak.json")).expect("JSON"))
            .expect("JSON parses");
    assert!(
        std::fs::read_to_string(out.join("soak.md"))
            .expect("markdown written")
            .contains("| 3 | 300 | 0 |"),
        "{stdout}"
    );
    let rows = report["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 4, "the baseline and three rounds: {stdout}");
    let table = |row: &Value, gw: usize, name: &str| -> u64 {
        row["gateways"][gw]["tables"][name]
            .as_u64()
            .unwrap_or_else(|| panic!("gateway {gw} reports no table {name}: {row}"))
    };
    let baseline = &rows[0];
    for row in &rows[1..] {
        assert_eq!(row["failed"].as_u64(), Some(0), "{stdout}");
        assert_eq!(row["settled"].as_bool(), Some(true), "{stdout}");
        for gw in 0..2 {
            for name in SETTLING {
                assert_eq!(
                    table(row, gw, name),
                    table(baseline, gw, name),
                    "gateway {gw} table {name} after round {}: {stdout}",
                    row["round"]
                );
            }
            assert!(row["gateways"][gw]["rss_kib"].as_u64().unwrap_or(0) > 0);
        }
        // Only the gateways channel is subscribed once every room closed.
        assert_eq!(row["redis"]["channels"].as_u64(), Some(1), "{stdout}");
    }
    // The visits went through access control and showed cursors: the identity cache holds
    // the users' records, and Redis the cursor claims of the last 30 s.
    let last = &rows[3];
    assert!(table(last, 0, "identity_cache_keys") + table(last, 1, "identity_cache_keys") > 0);
    assert!(
        last["redis"]["cursor_claims"].as_u64().unwrap_or(0) > 0,
        "{stdout}"
    );
}
