//! Flags every scenario shares, and the loopback-only target check.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use tokio_tungstenite::tungstenite::http::Uri;

use crate::framing::Framing;

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
}

impl CommonArgs {
    pub fn drain_timeout(&self) -> Duration {
        secs(self.drain_timeout)
    }

    pub fn connect_timeout(&self) -> Duration {
        secs(self.connect_timeout)
    }

    /// Parses and checks every `--target`.
    pub fn targets(&self) -> anyhow::Result<Vec<Target>> {
        self.targets.iter().map(|t| Target::parse(t)).collect()
    }

    /// The file-id prefix of this run.
    pub fn file_prefix(&self) -> String {
        match &self.file_prefix {
            Some(p) => p.clone(),
            None => format!("load-{:08x}", rand::random::<u32>()),
        }
    }
}

fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s.max(0.0)).unwrap_or(Duration::MAX)
}

/// A gateway endpoint: a `ws://` base URL on a loopback address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The base URL without a trailing slash, e.g. `ws://127.0.0.1:8080/doc`.
    pub base: String,
}

impl Target {
    /// Parses `url`, refusing anything but `ws://` on a loopback host.
    pub fn parse(url: &str) -> anyhow::Result<Target> {
        let uri: Uri = url
            .parse()
            .with_context(|| format!("target {url:?} is not a URL"))?;
        match uri.scheme_str() {
            Some("ws") => {}
            Some(other) => bail!("target {url:?}: scheme {other:?} is not supported, use ws://"),
            None => bail!("target {url:?}: missing scheme, use ws://127.0.0.1:PORT/doc"),
        }
        let host = uri
            .host()
            .with_context(|| format!("target {url:?} has no host"))?;
        if !is_loopback(host) {
            bail!(
                "target {url:?}: host {host:?} is not a loopback address; \
                 this harness only ever targets 127.0.0.0/8, ::1 or localhost"
            );
        }
        if uri.query().is_some() {
            bail!("target {url:?}: give the base URL without a query string");
        }
        Ok(Target {
            base: url.trim_end_matches('/').to_owned(),
        })
    }

    /// The WebSocket URL of `file` on this target (y-websocket: `base/file`).
    pub fn file_url(&self, file: &str) -> String {
        format!("{}/{}", self.base, file)
    }
}

/// True for `localhost` and loopback IP addresses (bracketed IPv6 too).
pub(crate) fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_loopback_targets() {
        for url in [
            "ws://127.0.0.1:8080/doc",
            "ws://127.1.2.3:1/doc/",
            "ws://localhost:9000/doc",
            "ws://[::1]:9000/doc",
        ] {
            let t = Target::parse(url).unwrap();
            assert!(!t.base.ends_with('/'));
        }
        assert_eq!(
            Target::parse("ws://127.0.0.1:8080/doc/")
                .unwrap()
                .file_url("a/b"),
            "ws://127.0.0.1:8080/doc/a/b"
        );
    }

    #[test]
    fn refuses_other_targets() {
        for url in [
            "ws://10.0.0.1:8080/doc",
            "ws://example.com/doc",
            "ws://0.0.0.0:80/doc",
            "wss://127.0.0.1:8080/doc",
            "http://127.0.0.1:8080/doc",
            "127.0.0.1:8080",
            "ws://127.0.0.1:8080/doc?token=x",
        ] {
            assert!(Target::parse(url).is_err(), "{url} accepted");
        }
    }
}
