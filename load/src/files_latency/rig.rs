//! The rig of `files-latency` and its flags: a redis-server and two gateways with
//! `--files dir` on a temporary folder (through collab-harness), the clients the phases
//! type and listen with, and the gateways' write counts.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use collab_harness::{Gateway, RedisServer};

use crate::framing::Framing;
use crate::probe_side::{Hears, Side};
use crate::target::{FileUrl, Reach, Target};

/// Flags of `files-latency`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The gateways' --write-back-ms.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub write_back_ms: u64,

    /// The gateways' --write-back-max-ms.
    #[arg(long, default_value_t = 5000, value_name = "MS")]
    pub write_back_max_ms: u64,

    /// One keystroke every this many milliseconds.
    #[arg(long, default_value_t = 100, value_name = "MS")]
    pub pace_ms: u64,

    /// Seconds of continuous typing for keystroke -> disk and the write count.
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub duration: f64,

    /// How often the file is read while waiting for keystrokes.
    #[arg(long, default_value_t = 5, value_name = "MS")]
    pub poll_ms: u64,

    /// Outside writes to time.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub outside: u64,

    /// Wait between two outside writes.
    #[arg(long, default_value_t = 500, value_name = "MS")]
    pub outside_gap_ms: u64,

    /// Redis losses to cause.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub rpo_runs: u64,

    /// Seconds of typing before the first loss.
    #[arg(long, default_value_t = 6.0, value_name = "SECS")]
    pub rpo_secs: f64,

    /// Longest one wait (a keystroke reaching disk, an outside write reaching the editor,
    /// a gateway reopening the file) may take.
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub step_timeout: f64,

    /// Write the report as JSON here.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
}

impl Args {
    pub fn check(&self) -> anyhow::Result<()> {
        if !(1..=600_000).contains(&self.write_back_ms)
            || !(self.write_back_ms..=600_000).contains(&self.write_back_max_ms)
        {
            bail!("need 1 <= --write-back-ms <= --write-back-max-ms <= 600000");
        }
        if !(1..=60_000).contains(&self.pace_ms) || !(1..=1000).contains(&self.poll_ms) {
            bail!("--pace-ms must be 1..=60000 and --poll-ms 1..=1000");
        }
        let secs_ok = |s: f64| s.is_finite() && s > 0.0 && s <= 3600.0;
        if !secs_ok(self.duration) || !secs_ok(self.rpo_secs) || !secs_ok(self.step_timeout) {
            bail!("--duration, --rpo-secs and --step-timeout must be 0 < s <= 3600");
        }
        if self.outside == 0 || self.outside > 10_000 || self.rpo_runs > 100 {
            bail!("--outside must be 1..=10000 and --rpo-runs at most 100");
        }
        Ok(())
    }

    pub(super) fn step(&self) -> Duration {
        Duration::from_secs_f64(self.step_timeout)
    }

    /// How long RPO run `i` types: `--rpo-secs` plus `i / runs` of one max interval, so
    /// the kills land at different moments of the write cycle.
    pub(super) fn rpo_typing(&self, i: u64) -> Duration {
        let runs = self.rpo_runs.max(1);
        Duration::from_secs_f64(self.rpo_secs)
            + Duration::from_millis(self.write_back_max_ms * i / runs)
    }
}

/// The processes of a run: one Redis, two gateways on a files folder.
pub(crate) struct Rig {
    pub redis: RedisServer,
    pub gateways: [Gateway; 2],
    /// `--files-dir` of both gateways.
    pub root: PathBuf,
    /// Where outside writes are prepared before their rename (same filesystem).
    pub scratch: PathBuf,
    _dir: tempfile::TempDir,
}

impl Rig {
    pub(super) async fn start(args: &Args) -> anyhow::Result<Rig> {
        let dir = tempfile::Builder::new()
            .prefix("collab-files-latency-")
            .tempdir()
            .context("creating the files folder")?;
        let root = dir.path().join("root");
        let scratch = dir.path().join("scratch");
        std::fs::create_dir_all(root.join("probe"))?;
        std::fs::create_dir_all(&scratch)?;
        let redis = RedisServer::start()
            .await
            .context("starting redis-server")?;
        let root_s = root.to_string_lossy().into_owned();
        let (wb, wbm) = (
            args.write_back_ms.to_string(),
            args.write_back_max_ms.to_string(),
        );
        let flags = [
            "--files",
            "dir",
            "--files-dir",
            &root_s,
            "--write-back-ms",
            &wb,
            "--write-back-max-ms",
            &wbm,
        ];
        let first = Gateway::start(&redis.url(), &flags).await?;
        let second = Gateway::start(&redis.url(), &flags).await?;
        Ok(Rig {
            redis,
            gateways: [first, second],
            root,
            scratch,
            _dir: dir,
        })
    }

    /// The URL of `file` on gateway `i`.
    pub(super) fn url(&self, i: usize, file: &str) -> anyhow::Result<FileUrl> {
        let base = format!("ws://{}/doc", self.gateways[i].addr());
        Ok(Target::parse(&base, Reach::Loopback)?.file_url(file))
    }

    /// Opens `file` on gateway `i` and waits until its document has `want`.
    pub async fn open(
        &self,
        i: usize,
        file: &str,
        want: &str,
        timeout: Duration,
    ) -> anyhow::Result<Side<Deaf>> {
        let url = self.url(i, file)?;
        let mut side = Side::open(Framing::YWebsocket, &url, file, Deaf).await?;
        side.until(&format!("{file} opened from disk"), timeout, |s| {
            s.string() == want
        })
        .await?;
        Ok(side)
    }

    /// `collab_file_writes_total{outcome="written"}` summed over both gateways.
    pub async fn writes(&self) -> anyhow::Result<u64> {
        let mut total = 0.0;
        for gw in &self.gateways {
            let text = gw.metrics().await?;
            total +=
                crate::scrape::sum_with(&text, "collab_file_writes_total", "outcome", "written");
        }
        Ok(total as u64)
    }
}

/// A side that ignores extension messages (it opts into none).
pub(crate) struct Deaf;

impl Hears for Deaf {
    fn hear(&mut self, _message: collab_protocol::extension::Extension) {}
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
    fn defaults_are_the_gateway_defaults() {
        let a = parse(&[]);
        a.check().expect("defaults are valid");
        assert_eq!((a.write_back_ms, a.write_back_max_ms), (1000, 5000));
        assert_eq!(a.rpo_typing(0), Duration::from_secs(6));
        assert_eq!(a.rpo_typing(4), Duration::from_secs(10));
    }

    #[test]
    fn bad_arguments_are_refused() {
        for bad in [
            &["--write-back-ms", "0"][..],
            &["--write-back-ms", "6000"],
            &["--pace-ms", "0"],
            &["--poll-ms", "0"],
            &["--duration", "0"],
            &["--outside", "0"],
            &["--rpo-runs", "101"],
        ] {
            assert!(parse(bad).check().is_err(), "{bad:?} accepted");
        }
    }
}
