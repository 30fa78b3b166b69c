//! Flags every scenario shares. The targets they name are checked by [`crate::target`].

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use clap::Args;

use crate::framing::Framing;
use crate::target::{Reach, Target, Token};
use crate::tls::TlsRoots;

/// Flags shared by all scenarios.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Gateway WebSocket base URL, e.g. ws://127.0.0.1:8080/doc or wss://HOST/doc
    /// (repeatable; editors are spread round-robin across targets). Only loopback
    /// addresses are accepted unless --allow-remote is given.
    #[arg(long = "target", required = true, value_name = "URL")]
    pub targets: Vec<String>,

    /// Accept targets on any host, not only loopback: for load-testing a real deployment.
    /// The run's traffic goes there.
    #[arg(long)]
    pub allow_remote: bool,

    /// With wss:// targets: trust the certificates of this PEM file (a private CA)
    /// instead of the system's root certificates.
    #[arg(long, value_name = "PATH")]
    pub tls_ca: Option<PathBuf>,

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
        let reach = if self.allow_remote {
            Reach::Remote
        } else {
            Reach::Loopback
        };
        let tls = match &self.tls_ca {
            Some(path) => Some(TlsRoots::from_pem_file(path)?),
            None => None,
        };
        let targets: Vec<Target> = self
            .targets
            .iter()
            .map(|t| {
                let target = Target::parse(t, reach)?.with_token(self.token.clone());
                Ok(target.with_tls(tls.clone()))
            })
            .collect::<anyhow::Result<_>>()?;
        if tls.is_some() && !targets.iter().any(Target::is_tls) {
            bail!("--tls-ca is for wss:// targets; none is given");
        }
        Ok(targets)
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

    #[test]
    fn remote_targets_need_allow_remote() {
        // Parsed only: no test connects to a host outside loopback.
        let remote = ["--target", "wss://gateway.example.com/doc"];
        let error = parse(&remote)
            .targets()
            .expect_err("refused without the flag");
        assert!(error.to_string().contains("--allow-remote"), "{error:#}");
        let mut allowed = remote.to_vec();
        allowed.push("--allow-remote");
        let targets = parse(&allowed).targets().expect("accepted with the flag");
        assert_eq!(targets[0].base, "wss://gateway.example.com/doc");
        assert!(targets[0].is_tls());
        assert!(!parse(&["--target", "ws://127.0.0.1:1/doc"]).allow_remote);
    }

    #[test]
    fn tls_ca_must_hold_certificates_and_serve_a_wss_target() {
        let dir = tempfile::tempdir().expect("tempdir");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").expect("write");
        let empty = empty.to_str().expect("utf-8 path");
        let args = parse(&["--target", "wss://127.0.0.1:1/doc", "--tls-ca", empty]);
        assert!(args.targets().is_err(), "an empty --tls-ca accepted");
        let missing = dir.path().join("missing.pem");
        let missing = missing.to_str().expect("utf-8 path");
        let args = parse(&["--target", "wss://127.0.0.1:1/doc", "--tls-ca", missing]);
        assert!(args.targets().is_err(), "a missing --tls-ca accepted");
    }
}
