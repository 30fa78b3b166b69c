//! A gateway endpoint (`--target`), the URL of one file on it (with the run's `--token`,
//! which is sent but never shown), and the check that a host is a loopback address (for
//! targets, and for the relay floor's Redis).
//!
//! Targets are loopback by default: a load test is traffic, and sending it somewhere by a
//! typo should be impossible. `--allow-remote` accepts any host, for load-testing a real
//! deployment. `wss://` targets speak TLS ([`crate::tls`]).
//!
//! Its own module, not part of [`crate::config`]: the flags name a [`crate::framing`]
//! dialect and the dialect builds its URLs from a target, so with the target in `config`
//! the two would import each other.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use anyhow::{Context, bail};
use tokio_tungstenite::tungstenite::http::Uri;

use crate::tls::TlsRoots;

/// A gateway endpoint: a `ws://` or `wss://` base URL (on a loopback address unless remote
/// targets are allowed), the token its connections present, and for `wss://` the TLS
/// settings they use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The base URL without a trailing slash, e.g. `ws://127.0.0.1:8080/doc`.
    pub base: String,
    /// Sent as `?token=` by every connection to this target.
    pub token: Option<Token>,
    /// With `wss://`: the roots to trust (`None`: the system's).
    pub tls: Option<TlsRoots>,
}

/// Which hosts [`Target::parse`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// 127.0.0.0/8, ::1 and `localhost` only (the default).
    Loopback,
    /// Any host (`--allow-remote`).
    Remote,
}

/// A credential (`--token`). It only ever leaves the harness in a connect request: no
/// `Display`, a `Debug` that hides it, and [`FileUrl`] shows URLs without it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// The token `value`; `None` when empty.
    pub fn new(value: impl Into<String>) -> Option<Token> {
        let value = value.into();
        (!value.is_empty()).then_some(Token(value))
    }

    /// The query parameter, percent-encoded: `token=...`.
    fn query(&self) -> String {
        format!("token={}", percent_encode(&self.0))
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(set)")
    }
}

impl FromStr for Token {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Token, Self::Err> {
        Token::new(s).ok_or("the token is empty")
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters, so any token survives
/// a query string (the gateway decodes it once).
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The WebSocket URL an editor connects to. `Display` and `Debug` show it without the
/// token (error messages and reports carry these); [`FileUrl::connect_url`] is the one
/// with it.
#[derive(Clone, PartialEq, Eq)]
pub struct FileUrl {
    shown: String,
    token: Option<Token>,
    tls: Option<TlsRoots>,
}

impl FileUrl {
    /// `url` with no token (a dialect that does not put one in the URL).
    pub fn bare(url: impl Into<String>) -> FileUrl {
        FileUrl {
            shown: url.into(),
            token: None,
            tls: None,
        }
    }

    /// The TLS roots a `wss://` connection to this URL trusts (`None`: the system's).
    pub fn tls(&self) -> Option<&TlsRoots> {
        self.tls.as_ref()
    }

    /// The URL to connect to: the shown one, then `token=...` when there is a token (after
    /// `?`, or `&` when [`FileUrl::with_param`] began the query).
    pub fn connect_url(&self) -> String {
        match &self.token {
            Some(token) => format!("{}{}{}", self.shown, self.separator(), token.query()),
            None => self.shown.clone(),
        }
    }

    /// This URL with the query parameter `key=value` (percent-encoded), shown too: for
    /// what is not a secret, such as `ext=undo` or `user=ed-7`.
    pub fn with_param(mut self, key: &str, value: &str) -> FileUrl {
        let separator = self.separator();
        self.shown = format!(
            "{}{separator}{}={}",
            self.shown,
            percent_encode(key),
            percent_encode(value)
        );
        self
    }

    fn separator(&self) -> char {
        if self.shown.contains('?') { '&' } else { '?' }
    }

    /// The URL without the token.
    pub fn shown(&self) -> &str {
        &self.shown
    }
}

impl fmt::Display for FileUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for FileUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.token {
            Some(_) => write!(f, "{} (token set)", self.shown),
            None => f.write_str(&self.shown),
        }
    }
}

impl Target {
    /// Parses `url`: `ws://` or `wss://`, on a loopback host unless `reach` is
    /// [`Reach::Remote`]. Nothing is connected to.
    pub fn parse(url: &str, reach: Reach) -> anyhow::Result<Target> {
        let uri: Uri = url
            .parse()
            .with_context(|| format!("target {url:?} is not a URL"))?;
        match uri.scheme_str() {
            Some("ws" | "wss") => {}
            Some(other) => {
                bail!("target {url:?}: scheme {other:?} is not supported, use ws:// or wss://")
            }
            None => bail!("target {url:?}: missing scheme, use ws://127.0.0.1:PORT/doc"),
        }
        let host = uri
            .host()
            .with_context(|| format!("target {url:?} has no host"))?;
        if reach == Reach::Loopback && !is_loopback(host) {
            bail!(
                "target {url:?}: host {host:?} is not a loopback address; targets are \
                 127.0.0.0/8, ::1 or localhost unless --allow-remote is given"
            );
        }
        if uri.query().is_some() {
            bail!("target {url:?}: give the base URL without a query string");
        }
        Ok(Target {
            base: url.trim_end_matches('/').to_owned(),
            token: None,
            tls: None,
        })
    }

    /// This target, its connections presenting `token`.
    pub fn with_token(self, token: Option<Token>) -> Target {
        Target { token, ..self }
    }

    /// This target, its `wss://` connections trusting `tls` (`None`: the system's roots).
    pub fn with_tls(self, tls: Option<TlsRoots>) -> Target {
        Target { tls, ..self }
    }

    /// Whether the connections to this target speak TLS (`wss://`).
    pub fn is_tls(&self) -> bool {
        self.base.starts_with("wss://")
    }

    /// The WebSocket URL of `file` on this target (y-websocket: `base/file`, and
    /// `?token=` when the target has one).
    pub fn file_url(&self, file: &str) -> FileUrl {
        FileUrl {
            shown: format!("{}/{}", self.base, file),
            token: self.token.clone(),
            tls: self.tls.clone(),
        }
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
            let t = Target::parse(url, Reach::Loopback).unwrap();
            assert!(!t.base.ends_with('/'));
        }
        assert_eq!(
            Target::parse("ws://127.0.0.1:8080/doc/", Reach::Loopback)
                .unwrap()
                .file_url("a/b")
                .connect_url(),
            "ws://127.0.0.1:8080/doc/a/b"
        );
    }

    #[test]
    fn no_token_no_query() {
        let url = Target::parse("ws://127.0.0.1:8080/doc", Reach::Loopback)
            .unwrap()
            .with_token(None)
            .file_url("sb1/load-1/0");
        assert_eq!(url.connect_url(), "ws://127.0.0.1:8080/doc/sb1/load-1/0");
        assert_eq!(url.to_string(), "ws://127.0.0.1:8080/doc/sb1/load-1/0");
        assert_eq!(format!("{url:?}"), "ws://127.0.0.1:8080/doc/sb1/load-1/0");
        assert_eq!(Token::new(""), None);
        assert!("".parse::<Token>().is_err());
    }

    #[test]
    fn token_is_encoded_in_the_connect_url_only() {
        let target = Target::parse("ws://127.0.0.1:8080/doc/", Reach::Loopback)
            .unwrap()
            .with_token(Token::new("tok-load"));
        let url = target.file_url("sb1/load-1/7");
        assert_eq!(
            url.connect_url(),
            "ws://127.0.0.1:8080/doc/sb1/load-1/7?token=tok-load"
        );
        // Shown (errors, reports, Debug) without it.
        assert_eq!(url.to_string(), "ws://127.0.0.1:8080/doc/sb1/load-1/7");
        assert_eq!(url.shown(), "ws://127.0.0.1:8080/doc/sb1/load-1/7");
        assert!(!format!("{url:?}").contains("tok-load"));
        assert!(!format!("{target:?}").contains("tok-load"));

        // Reserved and non-ASCII characters are percent-encoded (UTF-8 bytes).
        let odd: Token = "a b&c=d/e?f#g%h+i~j.k_l-mé".parse().unwrap();
        let url = target.with_token(Some(odd)).file_url("sb1/f");
        assert_eq!(
            url.connect_url(),
            "ws://127.0.0.1:8080/doc/sb1/f?token=a%20b%26c%3Dd%2Fe%3Ff%23g%25h%2Bi~j.k_l-m%C3%A9"
        );
        assert!(!format!("{url:?}").contains("a b"));
    }

    #[test]
    fn params_come_before_the_token_and_are_shown() {
        let target = Target::parse("ws://127.0.0.1:8080/doc", Reach::Loopback).unwrap();
        let url = target
            .clone()
            .with_token(Token::new("tok"))
            .file_url("f")
            .with_param("ext", "undo")
            .with_param("user", "ed 1");
        assert_eq!(
            url.connect_url(),
            "ws://127.0.0.1:8080/doc/f?ext=undo&user=ed%201&token=tok"
        );
        assert_eq!(
            url.shown(),
            "ws://127.0.0.1:8080/doc/f?ext=undo&user=ed%201"
        );
        let bare = target.file_url("f").with_param("user", "u");
        assert_eq!(bare.connect_url(), "ws://127.0.0.1:8080/doc/f?user=u");
    }

    #[test]
    fn refuses_other_targets() {
        for url in [
            "ws://10.0.0.1:8080/doc",
            "ws://example.com/doc",
            "wss://example.com/doc",
            "ws://0.0.0.0:80/doc",
            "http://127.0.0.1:8080/doc",
            "127.0.0.1:8080",
            "ws://127.0.0.1:8080/doc?token=x",
        ] {
            assert!(
                Target::parse(url, Reach::Loopback).is_err(),
                "{url} accepted"
            );
        }
        let refused = Target::parse("wss://example.com/doc", Reach::Loopback)
            .expect_err("remote")
            .to_string();
        assert!(refused.contains("--allow-remote"), "{refused}");
    }

    #[test]
    fn remote_and_tls_targets_need_only_the_flag() {
        // Parsing connects to nothing: these hosts are never contacted by any test.
        for url in [
            "ws://10.0.0.1:8080/doc",
            "ws://example.com/doc",
            "wss://example.com/doc",
            "wss://gateway.example.com:443/doc/",
            "ws://0.0.0.0:80/doc",
        ] {
            let target = Target::parse(url, Reach::Remote).expect(url);
            assert_eq!(target.is_tls(), url.starts_with("wss://"));
        }
        let local = Target::parse("wss://127.0.0.1:8443/doc", Reach::Loopback).expect("wss");
        assert!(local.is_tls());
        assert_eq!(
            local.file_url("f").connect_url(),
            "wss://127.0.0.1:8443/doc/f"
        );
        for url in ["http://example.com/doc", "example.com:80", "ws://h/doc?x=1"] {
            assert!(Target::parse(url, Reach::Remote).is_err(), "{url} accepted");
        }
    }
}
