//! A gateway endpoint (`--target`), and the check that a host is a loopback address (for
//! targets, and for the relay floor's Redis).
//!
//! Its own module, not part of [`crate::config`]: the flags name a [`crate::framing`]
//! dialect and the dialect builds its URLs from a target, so with the target in `config`
//! the two would import each other.

use std::net::IpAddr;

use anyhow::{Context, bail};
use tokio_tungstenite::tungstenite::http::Uri;

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
