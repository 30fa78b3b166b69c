//! A sandbox's address (`sandbox_ip` of `user:{id}`), kept in a type that never shows it.
//!
//! The address is internal: it is used to reach the sandbox's file agent (`--files
//! sandbox`) and for nothing else, so it must never reach a log line, a metric label, an
//! error text or a frame. `Debug` and `Display` print a placeholder; the one way to the value
//! is [`SandboxIp::socket`], which the agent client hands to its connector.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// A sandbox's IP address, redacted wherever it is printed.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SandboxIp(IpAddr);

impl SandboxIp {
    /// The address in a record's `sandbox_ip` field; `None` for anything but an IP address.
    pub fn parse(value: &str) -> Option<SandboxIp> {
        value.trim().parse().ok().map(SandboxIp)
    }

    /// Where the sandbox's agent listens on `port`: for the HTTP connector only.
    pub fn socket(&self, port: u16) -> SocketAddr {
        SocketAddr::new(self.0, port)
    }
}

impl fmt::Debug for SandboxIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SandboxIp(redacted)")
    }
}

impl fmt::Display for SandboxIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(sandbox address)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_never_prints() {
        let ip = SandboxIp::parse(" 10.1.2.3 ").expect("an address");
        for shown in [
            format!("{ip}"),
            format!("{ip:?}"),
            format!("{:?}", Some(ip)),
        ] {
            assert!(!shown.contains("10.1"), "{shown}");
        }
        assert_eq!(ip.socket(7447).to_string(), "10.1.2.3:7447");
        assert_eq!(
            SandboxIp::parse("::1").map(|ip| ip.socket(1).to_string()),
            Some("[::1]:1".into())
        );
        assert!(SandboxIp::parse("sandbox.internal").is_none());
        assert!(SandboxIp::parse("").is_none());
    }
}
