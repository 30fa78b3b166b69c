//! The flags of `collab-load soak`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;

/// Flags of `soak`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Visits in all (each: connect, sync, type, move the cursor, leave).
    #[arg(long, default_value_t = 20_000, value_name = "N")]
    pub visits: u64,

    /// Visits per round; after each round the rooms close and everything is read.
    #[arg(long, default_value_t = 2_000, value_name = "N")]
    pub round: u64,

    /// Visits in flight at once.
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub concurrency: usize,

    /// Files that revisits go to (half the visits; the other half open a new file each).
    #[arg(long, default_value_t = 2_000, value_name = "N")]
    pub revisit_files: u64,

    /// Users (each with its own sandbox and session) the visits are spread over.
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub users: u64,

    /// Characters each visit types.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub edits: u32,

    /// The gateways' --room-grace-ms.
    #[arg(long, default_value_t = 200, value_name = "MS")]
    pub room_grace_ms: u64,

    /// Longest wait for the rooms to close and the tables to settle after a round.
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub settle_timeout: f64,

    /// Longest one visit may take.
    #[arg(long, default_value_t = 20.0, value_name = "SECS")]
    pub visit_timeout: f64,

    /// Keep the gateways running this long after the last round, to look at them (send
    /// SIGUSR2 to a `dhat-heap` build for its heap profile, read /proc).
    #[arg(long, default_value_t = 0, value_name = "SECS")]
    pub hold_secs: u64,

    /// More flags for both gateways (repeat; e.g. `--gateway-arg=--log-format=json`).
    #[arg(long = "gateway-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub gateway_args: Vec<String>,

    /// Environment of both gateways (repeat; e.g. `--gateway-env MALLOC_ARENA_MAX=2`).
    #[arg(long = "gateway-env", value_name = "KEY=VALUE")]
    pub gateway_env: Vec<String>,

    /// A name for the run in the report (an allocator, a build).
    #[arg(long, default_value = "soak", value_name = "NAME")]
    pub label: String,

    /// Write soak.json and soak.md into this folder (created).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// The redis-server program.
    #[arg(long, default_value = "redis-server", value_name = "PATH")]
    pub redis_server: String,
}

impl Args {
    pub fn check(&self) -> anyhow::Result<()> {
        if self.visits == 0 || self.round == 0 || self.visits > 10_000_000 {
            bail!("--visits must be 1..=10000000 and --round at least 1");
        }
        if !(1..=1000).contains(&self.concurrency) {
            bail!("--concurrency must be 1..=1000");
        }
        if self.revisit_files == 0 || self.users == 0 || self.users > 100_000 {
            bail!("--revisit-files must be at least 1 and --users 1..=100000");
        }
        if self.edits > 1000 || self.room_grace_ms > 600_000 {
            bail!("--edits must be at most 1000 and --room-grace-ms at most 600000");
        }
        let secs_ok = |s: f64| s.is_finite() && s > 0.0 && s <= 3600.0;
        if !secs_ok(self.settle_timeout) || !secs_ok(self.visit_timeout) {
            bail!("--settle-timeout and --visit-timeout must be 0 < s <= 3600");
        }
        for pair in &self.gateway_env {
            if !pair.contains('=') || pair.starts_with('=') {
                bail!("--gateway-env wants KEY=VALUE, got {pair:?}");
            }
        }
        Ok(())
    }

    /// The rounds: `--round` visits each, the last one shorter if they do not divide.
    pub fn rounds(&self) -> Vec<u64> {
        let mut left = self.visits;
        let mut rounds = Vec::new();
        while left > 0 {
            let n = left.min(self.round);
            rounds.push(n);
            left -= n;
        }
        rounds
    }

    pub fn settle(&self) -> Duration {
        Duration::from_secs_f64(self.settle_timeout)
    }

    pub fn visit(&self) -> Duration {
        Duration::from_secs_f64(self.visit_timeout)
    }

    /// `--gateway-env` as pairs.
    pub fn env(&self) -> Vec<(&str, &str)> {
        self.gateway_env
            .iter()
            .filter_map(|pair| pair.split_once('='))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn parse(extra: &[&str]) -> Args {
        Cli::try_parse_from(std::iter::once("t").chain(extra.iter().copied()))
            .expect("parses")
            .args
    }

    #[test]
    fn rounds_cover_the_visits() {
        let a = parse(&["--visits", "2500", "--round", "1000"]);
        a.check().expect("valid");
        assert_eq!(a.rounds(), vec![1000, 1000, 500]);
        let b = parse(&["--gateway-env", "MALLOC_ARENA_MAX=2"]);
        assert_eq!(b.env(), vec![("MALLOC_ARENA_MAX", "2")]);
    }

    #[test]
    fn bad_arguments_are_refused() {
        for bad in [
            &["--visits", "0"][..],
            &["--round", "0"],
            &["--concurrency", "0"],
            &["--users", "0"],
            &["--settle-timeout", "0"],
            &["--gateway-env", "NOVALUE"],
        ] {
            assert!(parse(bad).check().is_err(), "{bad:?} accepted");
        }
    }
}
