//! What the peer tests share: running a scenario in this process and checking that it was
//! clean the way a user would judge it (everyone synced, every edit delivered, same text).

use clap::Parser;
use collab_load::report::Report;
use collab_load::scenario::Scenario;

/// The scenario subcommands, parsed like the binary parses them.
#[derive(Debug, Parser)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

/// Runs `collab-load ARGS...` in this process; panics on bad flags or a run that could not
/// start.
pub async fn run_scenario(args: &[String]) -> Report {
    let cli = Cli::try_parse_from(std::iter::once("collab-load".to_owned()).chain(args.to_vec()))
        .unwrap_or_else(|e| panic!("bad scenario flags {args:?}: {e}"));
    cli.scenario
        .run()
        .await
        .unwrap_or_else(|e| panic!("scenario {args:?} did not run: {e:#}"))
}

/// Everyone synced, nothing missing, no errors or disconnects, every file converged.
pub fn assert_clean(report: &Report) {
    let table = report.table();
    assert_eq!(report.synced, report.editors, "{table}");
    assert_eq!(report.connect_failures, 0, "{table}");
    assert_eq!(report.errors, 0, "{table}");
    assert_eq!(report.disconnects, 0, "{table}");
    assert!(report.expected_deliveries > 0, "{table}");
    assert_eq!(report.deliveries, report.expected_deliveries, "{table}");
    assert_eq!(report.missing_deliveries, 0, "{table}");
    assert_eq!(report.diverged_files, 0, "{table}");
    assert!(report.is_clean(), "{table}");
}

/// `args` as owned strings, for building flag lists from literals and formatted values.
pub fn strings<const N: usize>(args: [&str; N]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

/// A small edit-storm (6 editors on 2 files) and a small fan-out (6 observers) against a
/// server pair, with `extra` flags (framing, targets): both must be delivered in full and
/// cross between the two servers. Returns both reports for further checks.
pub async fn assert_pair_relays_storm_and_fan_out(extra: &[String]) -> (Report, Report) {
    let mut storm = strings([
        "edit-storm",
        "--editors",
        "6",
        "--files",
        "2",
        "--edits-per-editor",
        "10",
        "--rate",
        "50",
    ]);
    storm.extend_from_slice(extra);
    let storm = run_scenario(&storm).await;
    assert_clean(&storm);
    assert_eq!(storm.edits, 60);
    // Each file has 3 editors: every edit reaches the 2 others.
    assert_eq!(storm.expected_deliveries, 120);
    assert!(storm.propagation_cross_target_ms.count > 0);

    let mut fan_out = strings([
        "fan-out",
        "--observers",
        "6",
        "--edits",
        "10",
        "--rate",
        "50",
    ]);
    fan_out.extend_from_slice(extra);
    let fan_out = run_scenario(&fan_out).await;
    assert_clean(&fan_out);
    assert_eq!(fan_out.expected_deliveries, 60);
    assert!(fan_out.propagation_cross_target_ms.count > 0);
    (storm, fan_out)
}
