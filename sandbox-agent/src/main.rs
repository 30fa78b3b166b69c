//! The `collab-sandbox-agent` binary: parse flags, bind, start the watch, print the readiness
//! line, serve until SIGTERM or Ctrl-C. Everything else lives in the library.

use std::io::{IsTerminal, Write};

use anyhow::{Context, Result};
use clap::Parser;
use collab_sandbox_agent::Agent;
use collab_sandbox_agent::config::{Args, Config};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            EnvFilter::try_from_env("COLLAB_AGENT_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let config = Config::from_args(Args::parse())?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let agent = Agent::start(&config)?;
    let addr = listener.local_addr().context("local address")?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "collab-sandbox-agent listening on {addr}")?;
    stdout.flush()?;
    tracing::info!(%addr, "serving the workspace");
    agent.serve(listener, shutdown()).await
}

/// Completes on SIGTERM or Ctrl-C.
async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}
