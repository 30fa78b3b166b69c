//! `collab-load compare` end to end, restricted to our gateways at tiny sizes: it starts its
//! own redis-server and gateway pair per scenario (the gateway from `COLLAB_GATEWAY_BIN`,
//! else `collab-gateway` next to this test's executable: build it first with
//! `cargo build -p collab-server`), and the test checks that BENCHMARKS.md and the HTML
//! pages are written, hold the figures of the runs' JSON, and carry no absolute path of the
//! work dir (each run's page in `benchmarks/` beside the combined page, linked relatively).

use std::path::Path;
use std::process::Command;

use collab_load::compare::table::number;
use collab_tests::gateway::gateway_binary;
use serde_json::Value;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn compare_writes_benchmarks_and_html_with_the_figures() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let benchmarks = dir.path().join("out").join("BENCHMARKS.md");
    let runs = dir.path().join("runs");
    let gateway = gateway_binary();
    let out = Command::new(env!("CARGO_BIN_EXE_collab-load"))
        .arg("compare")
        .args(["--systems", "us", "--quick"])
        .args(["--scenarios", "edit-storm,fan-out,idle"])
        .args([
            "--args",
            "edit-storm=--editors 4 --files 2 --edits-per-editor 5 --rate 20",
        ])
        .args(["--args", "fan-out=--observers 6 --rate 20 --edits 10"])
        .args(["--args", "idle=--connections 20 --files 3 --settle 0.2"])
        // A tiny capacity search: two steps of 4 editors for 1 s.
        .args(["--capacity-editors", "4", "--capacity-files", "2"])
        .args(["--capacity-secs", "1", "--capacity-steps", "2"])
        .args(["--capacity-start-rate", "5"])
        .arg("--benchmarks")
        .arg(&benchmarks)
        .arg("--work-dir")
        .arg(&runs)
        .arg("--gateway-bin")
        .arg(&gateway)
        .output()
        .expect("running collab-load compare");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}\n{stdout}\n{stderr}", out.status);

    let fan_out = json(&runs.join("us-fan-out.json"));
    assert_eq!(fan_out["deliveries"], 60, "{fan_out}");
    let p99 = number(fan_out["propagation_ms"]["p99"].as_f64().unwrap_or(-1.0));
    let harness_cpu = number(fan_out["harness"]["cpu_seconds"].as_f64().unwrap_or(-1.0));
    let idle = json(&runs.join("us-idle.json"));
    let per_conn = number(
        idle["idle"]["rss_per_connection_bytes"]
            .as_f64()
            .unwrap_or(-1.0),
    );

    let md = read(&benchmarks);
    assert!(md.starts_with("# Benchmarks"), "{md}");
    assert!(
        md.contains("logical CPUs") && md.contains("GiB memory"),
        "{md}"
    );
    assert!(
        md.contains(&format!("| fan-out | propagation p99 ms | {p99} |")),
        "{md}"
    );
    assert!(
        md.contains(&format!("| idle | RSS per connection B | {per_conn} |")),
        "{md}"
    );
    assert!(
        md.contains("< 10 ms: "),
        "the fan-out target is checked: {md}"
    );
    assert!(md.contains("| edit-storm | problems | none |"), "{md}");
    // The harness's own CPU beside the servers', in every scenario.
    assert!(
        md.contains(&format!("| fan-out | harness CPU s | {harness_cpu} |")),
        "{md}"
    );
    for scenario in ["edit-storm", "idle"] {
        assert!(
            md.contains(&format!("| {scenario} | harness CPU s | ")),
            "{md}"
        );
    }
    // The capacity search: its rows, and both steps, each from a run of its own.
    for k in 1..=2 {
        let step = json(&runs.join(format!("us-capacity-{k}.json")));
        assert_eq!(step["editors"], 4, "{step}");
        assert!(step["edits"].as_u64() > Some(0), "{step}");
        assert!(md.contains(&format!("- us: step {k}: ")), "{md}");
    }
    let capacity = md
        .lines()
        .find(|l| l.starts_with("| capacity | edits/s at p99 < 10 ms | "))
        .unwrap_or_else(|| panic!("no capacity row in {md}"));
    let cell = capacity.split('|').nth(3).unwrap_or_default().trim();
    assert!(
        cell == "none passed" || cell.parse::<f64>().is_ok_and(|v| v > 0.0),
        "{capacity}"
    );
    assert!(
        md.contains("| capacity | server CPU µs per delivery | "),
        "{md}"
    );
    assert!(md.contains("## Capacity"), "{md}");
    // The exact commands: the comparison itself, a fresh Redis, two gateways, the runs.
    assert!(md.contains("compare --systems us --quick"), "{md}");
    assert!(
        md.contains("redis-server --port ") && md.contains("--save '' --appendonly no"),
        "{md}"
    );
    let gateway_line = format!("{} --listen 127.0.0.1:0 --redis-url", gateway.display());
    // Two per scenario run, two for the capacity search.
    assert_eq!(md.matches(&gateway_line).count(), 8, "{md}");
    assert!(md.contains("collab-load fan-out --observers 6"), "{md}");
    assert!(stdout.contains("propagation p99 ms"), "{stdout}");

    let html = read(&dir.path().join("out").join("benchmarks.html"));
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        html.contains(&format!("<td class=\"num\">{p99}</td>")),
        "{html}"
    );
    assert!(html.contains("propagation latency"), "{html}");
    assert!(html.matches("<svg").count() >= 3, "{html}");
    assert!(!html.contains("<script"));
    // Each run's page sits beside the combined page, in benchmarks/, linked relatively.
    for scenario in ["edit-storm", "fan-out", "idle"] {
        let name = format!("us-{scenario}.html");
        let page = read(&dir.path().join("out").join("benchmarks").join(&name));
        assert!(page.contains(&format!("collab-load {scenario} (y-websocket)")));
        assert!(page.contains("<svg"), "{scenario}: a chart");
        assert!(
            html.contains(&format!("<a href=\"benchmarks/{name}\">")),
            "{html}"
        );
    }
    // The work dir lies outside the current directory: it is shown as $WORK_DIR. (The
    // report itself is written outside the repository here, so its own path shows.)
    let work_dir = runs.to_string_lossy().into_owned();
    assert!(!md.contains(&work_dir), "the work dir's path in {md}");
    assert!(!html.contains(&work_dir), "the work dir's path in {html}");
    assert!(md.contains("--json $WORK_DIR/us-fan-out.json"), "{md}");
}

/// A scenario that means nothing on a system (join-storm on the floors, which keep no
/// document) is noted as not applicable, and the comparison still exits 0; both floors
/// start as compare's systems and carry a fan-out in full, with their CPU per delivery.
#[test]
fn a_scenario_that_does_not_apply_is_noted_and_no_failure() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let benchmarks = dir.path().join("BENCHMARKS.md");
    let out = Command::new(env!("CARGO_BIN_EXE_collab-load"))
        .arg("compare")
        .args(["--systems", "floor,write-floor", "--quick", "--no-capacity"])
        .args(["--scenarios", "join-storm,fan-out"])
        .args(["--args", "fan-out=--observers 6 --rate 20 --edits 10"])
        .arg("--benchmarks")
        .arg(&benchmarks)
        .arg("--work-dir")
        .arg(dir.path().join("runs"))
        .output()
        .expect("running collab-load compare");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}\n{stdout}\n{stderr}", out.status);
    let md = read(&benchmarks);
    assert!(md.contains("- floor join-storm: not applicable"), "{md}");
    assert!(
        md.contains("- write-floor join-storm: not applicable"),
        "{md}"
    );
    assert!(
        md.contains("| scenario | figure | floor | write-floor |"),
        "{md}"
    );
    for system in ["floor", "write-floor"] {
        let fan_out = json(
            &dir.path()
                .join("runs")
                .join(format!("{system}-fan-out.json")),
        );
        assert_eq!(fan_out["deliveries"], 60, "{system}: {fan_out}");
    }
    let cpu = md
        .lines()
        .find(|l| l.starts_with("| fan-out | server CPU µs per delivery |"))
        .unwrap_or_else(|| panic!("no CPU per delivery row in {md}"));
    assert!(!cpu.contains(" ? "), "both floors measured: {cpu}");
}
