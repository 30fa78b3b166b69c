//! `collab-load`: run a load scenario against y-websocket gateways on this machine.
//!
//! Prints a table on stdout (and JSON with `--json`). Exit status: 0 when the run was clean,
//! 3 when it completed but some editor failed to sync, a delivery went missing or an error
//! or disconnect happened, 1 when it could not run at all.

use std::process::ExitCode;

use clap::Parser;
use collab_load::scenario::Scenario;

#[derive(Debug, Parser)]
#[command(
    name = "collab-load",
    version,
    about = "Load-test harness for y-websocket gateways (loopback only)"
)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let cli = Cli::parse();
    let json = cli.scenario.common().json.clone();
    let report = match cli.scenario.run().await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("collab-load: {e:#}");
            return ExitCode::from(1);
        }
    };
    print!("{}", report.table());
    if let Some(Err(e)) = json.map(|path| report.write_json(&path)) {
        eprintln!("collab-load: {e:#}");
        return ExitCode::from(1);
    }
    if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    }
}
