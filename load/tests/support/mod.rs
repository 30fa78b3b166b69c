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
