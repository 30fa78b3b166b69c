//! `collab-load`: run a load scenario against y-websocket gateways on this machine, or serve
//! the raw relay floor (`collab-load floor`) to run scenarios against.
//!
//! A scenario prints a table on stdout (and JSON with `--json`). Exit status: 0 when the run
//! was clean, 3 when it completed but some editor failed to sync, a delivery went missing or
//! an error or disconnect happened, 1 when it could not run at all.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use collab_load::floor;
use collab_load::scenario::Scenario;

#[derive(Debug, Parser)]
#[command(
    name = "collab-load",
    version,
    about = "Load-test harness for y-websocket gateways (loopback only)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    #[command(flatten)]
    Scenario(Scenario),
    /// Serve the raw relay floor: y-websocket frames relayed through Redis pub/sub with no
    /// CRDT work (the lower bound to compare gateways with). Prints
    /// "collab-floor listening on ADDR".
    Floor(floor::Args),
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    match Cli::parse().command {
        Command::Scenario(scenario) => run_scenario(scenario).await,
        Command::Floor(args) => match floor::run(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("collab-load floor: {e:#}");
                ExitCode::from(1)
            }
        },
    }
}

async fn run_scenario(scenario: Scenario) -> ExitCode {
    let json = scenario.common().json.clone();
    let report = match scenario.run().await {
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
