//! Command-line flags (and their environment variables), and the token's one-time loading.
//!
//! The token can come from `--token-file` (preferred), `COLLAB_AGENT_TOKEN`, or `--token`;
//! a token on the command line is visible to every user of the machine in `ps`, so `--help`
//! says so. Environment values are never printed by `--help`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;

use crate::token::TokenDigest;

/// Serves one workspace directory to the collab gateway: GET/PUT of files with ETags and
/// conditional writes, and a change feed of edits made by anything else.
#[derive(Parser, Debug)]
#[command(name = "collab-sandbox-agent", version)]
pub struct Args {
    /// The workspace directory served; paths in requests are relative to it.
    #[arg(long, env = "COLLAB_AGENT_ROOT")]
    pub root: PathBuf,
    /// Address to listen on (port 0: any free port; the readiness line names it).
    #[arg(long, env = "COLLAB_AGENT_LISTEN", default_value = "0.0.0.0:7447")]
    pub listen: SocketAddr,
    /// The bearer token the gateway sends. Visible in `ps` to every local user: prefer
    /// --token-file or COLLAB_AGENT_TOKEN.
    #[arg(
        long,
        env = "COLLAB_AGENT_TOKEN",
        hide_env_values = true,
        conflicts_with = "token_file"
    )]
    pub token: Option<String>,
    /// A file holding the bearer token (surrounding whitespace ignored). Preferred.
    #[arg(long, env = "COLLAB_AGENT_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// Largest file served or accepted, in bytes (GET and PUT above it get 413).
    #[arg(long, env = "COLLAB_AGENT_MAX_FILE_BYTES", default_value_t = 5 * 1024 * 1024)]
    pub max_file_bytes: usize,
    /// Change feed: quiet time after a file's last change before it is reported, in ms.
    #[arg(long, env = "COLLAB_AGENT_SETTLE_MS", default_value_t = 150)]
    pub settle_ms: u64,
    /// Change feed: longest a file that keeps changing waits to be reported, in ms.
    #[arg(long, env = "COLLAB_AGENT_SETTLE_MAX_MS", default_value_t = 2000)]
    pub settle_max_ms: u64,
}

/// The agent's resolved configuration.
#[derive(Debug)]
pub struct Config {
    /// Canonical root.
    pub root: PathBuf,
    pub listen: SocketAddr,
    pub token: TokenDigest,
    pub max_file_bytes: usize,
    pub settle: Duration,
    pub settle_max: Duration,
}

impl Config {
    /// Checks the flags, canonicalizes the root and loads the token (keeping only its digest).
    pub fn from_args(args: Args) -> Result<Config> {
        let root = std::fs::canonicalize(&args.root)
            .with_context(|| format!("--root {}", args.root.display()))?;
        if !root.is_dir() {
            bail!("--root {} is not a directory", args.root.display());
        }
        let token = match (args.token, args.token_file) {
            (Some(token), None) => token,
            (None, Some(path)) => std::fs::read_to_string(&path)
                .with_context(|| format!("reading --token-file {}", path.display()))?,
            (None, None) => {
                bail!("no token: give --token-file, COLLAB_AGENT_TOKEN or --token")
            }
            (Some(_), Some(_)) => bail!("give one of --token and --token-file"),
        };
        let token = token.trim();
        if token.is_empty() {
            bail!("the token is empty");
        }
        if token.len() < 16 {
            tracing::warn!("the token is shorter than 16 characters");
        }
        if args.settle_ms == 0 || args.settle_max_ms < args.settle_ms {
            bail!("--settle-ms must be > 0 and at most --settle-max-ms");
        }
        Ok(Config {
            root,
            listen: args.listen,
            token: TokenDigest::of(token),
            max_file_bytes: args.max_file_bytes,
            settle: Duration::from_millis(args.settle_ms),
            settle_max: Duration::from_millis(args.settle_max_ms),
        })
    }
}
