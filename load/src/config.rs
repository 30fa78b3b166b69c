//! Flags every scenario shares. The targets they name are checked by [`crate::target`].

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use clap::Args;

use crate::framing::Framing;
use crate::target::{Target, Token};

/// Flags shared by all scenarios.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Gateway WebSocket base URL, e.g. ws://127.0.0.1:8080/doc (repeatable; editors are
    /// spread round-robin across targets). Only loopback addresses are accepted.
    #[arg(long = "target", required = true, value_name = "URL")]
    pub targets: Vec<String>,

    /// Wire dialect of the targets.
    #[arg(long, value_enum, default_value_t = Framing::YWebsocket)]
    pub framing: Framing,

    /// Server process to measure (CPU seconds, RSS) from /proc (repeatable).
    #[arg(long = "pid", value_name = "PID")]
    pub pids: Vec<u32>,

    /// Write the figures as JSON to this file.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,

    /// Write a self-contained HTML page (figures, latency and over-time charts) to this file.
    #[arg(long, value_name = "PATH")]
    pub html: Option<PathBuf>,

    /// Seconds to wait, after the last edit, for outstanding deliveries.
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub drain_timeout: f64,

    /// Seconds allowed for all editors to connect and sync.
    #[arg(long, default_value_t = 60.0, value_name = "SECS")]
    pub connect_timeout: f64,

    /// Connects (WebSocket handshakes) in flight at once.
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub connect_concurrency: usize,

    /// Prefix of the file ids used by this run (default: "load-" and a random tag, so runs
    /// against a Redis that keeps old documents start from empty files).
    #[arg(long, value_name = "PREFIX")]
    pub file_prefix: Option<String>,

    /// Sandbox of the run's files: file ids become SANDBOX/PREFIX/N, which a gateway with
    /// `--auth redis` lets a user of that sandbox open.
    #[arg(long, value_name = "SANDBOX")]
    pub sandbox: Option<String>,

    /// Token every connection presents (`?token=`, percent-encoded; y-websocket framing
    /// only). Never printed: reports say "set".
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<Token>,
}

impl CommonArgs {
    pub fn drain_timeout(&self) -> Duration {
        secs(self.drain_timeout)
    }

    pub fn connect_timeout(&self) -> Duration {
        secs(self.connect_timeout)
    }

    /// Parses and checks every `--target` (and `--token`, `--sandbox`); each target carries
    /// the token.
    pub fn targets(&self) -> anyhow::Result<Vec<Target>> {
        if self.token.is_some() && self.framing != Framing::YWebsocket {
            bail!("--token is supported with --framing y-websocket only");
        }
        if let Some(sandbox) = &self.sandbox
            && (sandbox.is_empty() || sandbox.contains('/'))
        {
            bail!("--sandbox {sandbox:?}: give one non-empty path segment (no '/')");
        }
        self.targets
            .iter()
            .map(|t| Ok(Target::parse(t)?.with_token(self.token.clone())))
            .collect()
    }

    /// The file-id prefix of this run: `--file-prefix` (default "load-" and a random tag),
    /// after `SANDBOX/` with `--sandbox`.
    pub fn file_prefix(&self) -> String {
        let prefix = match &self.file_prefix {
            Some(p) => p.clone(),
            None => format!("load-{:08x}", rand::random::<u32>()),
        };
        match &self.sandbox {
            Some(sandbox) => format!("{sandbox}/{prefix}"),
            None => prefix,
        }
    }

    /// What a report says about the token: "set" or "none", never the token.
    pub fn token_shown(&self) -> &'static str {
        match self.token {
            Some(_) => "set",
            None => "none",
        }
    }
}

fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s.max(0.0)).unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        common: CommonArgs,
    }

    fn parse(args: &[&str]) -> CommonArgs {
        Cli::try_parse_from(std::iter::once("t").chain(args.iter().copied()))
            .unwrap()
            .common
    }

    #[test]
    fn token_and_sandbox_reach_the_urls() {
        let args = parse(&[
            "--target",
            "ws://127.0.0.1:1/doc",
            "--token",
            "t k",
            "--sandbox",
            "sb1",
            "--file-prefix",
            "p",
        ]);
        assert_eq!(args.token_shown(), "set");
        let prefix = args.file_prefix();
        assert_eq!(prefix, "sb1/p");
        let targets = args.targets().unwrap();
        assert_eq!(
            targets[0].file_url(&format!("{prefix}/3")).connect_url(),
            "ws://127.0.0.1:1/doc/sb1/p/3?token=t%20k"
        );

        let args = parse(&["--target", "ws://127.0.0.1:1/doc"]);
        assert_eq!(args.token_shown(), "none");
        assert!(args.file_prefix().starts_with("load-"));
        assert_eq!(
            args.targets().unwrap()[0].file_url("f/0").connect_url(),
            "ws://127.0.0.1:1/doc/f/0"
        );
    }

    #[test]
    fn bad_sandbox_and_hocuspocus_token_are_refused() {
        for sandbox in ["", "a/b"] {
            let args = parse(&["--target", "ws://127.0.0.1:1/doc", "--sandbox", sandbox]);
            assert!(args.targets().is_err(), "{sandbox:?} accepted");
        }
        let args = parse(&[
            "--target",
            "ws://127.0.0.1:1",
            "--framing",
            "hocuspocus",
            "--token",
            "t",
        ]);
        assert!(args.targets().is_err());
    }
}
