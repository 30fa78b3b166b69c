//! A configured secret (such as the admin token): never printed, compared in constant time.
//!
//! `Config` derives `Debug`, so a secret field must not show its value there; and checking a
//! presented credential must not take longer the more of its prefix is right.

use std::fmt;
use std::str::FromStr;

/// A secret string from the command line or the environment.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Whether `presented` equals the secret. The time taken depends on the secret's length
    /// only, never on where the two first differ (nor on `presented`'s length).
    pub fn matches(&self, presented: &[u8]) -> bool {
        constant_time_eq(self.0.as_bytes(), presented)
    }

    /// The value itself, for whoever must hand it on (never for logs).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Ok(Secret(value.to_owned()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Compares `secret` with `presented` by visiting every byte of `secret` whatever
/// `presented` holds; a length mismatch is folded into the same result.
fn constant_time_eq(secret: &[u8], presented: &[u8]) -> bool {
    let mut diff = u8::from(secret.len() != presented.len());
    for (i, byte) in secret.iter().enumerate() {
        // Out-of-range positions compare against a byte no secret byte XORs to zero with
        // `!byte`, so a shorter `presented` cannot match.
        let other = presented.get(i).copied().unwrap_or(!byte);
        diff |= byte ^ other;
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_only_the_exact_value() {
        let secret: Secret = "s3cret-token".parse().expect("a valid test value");
        assert!(secret.matches(b"s3cret-token"));
        for wrong in [
            &b""[..],
            b"s3cret-toke",
            b"s3cret-tokenX",
            b"S3cret-token",
            b"s3cret-tokem",
        ] {
            assert!(
                !secret.matches(wrong),
                "{:?}",
                String::from_utf8_lossy(wrong)
            );
        }
    }

    #[test]
    fn an_empty_secret_matches_only_empty() {
        let secret: Secret = "".parse().expect("a valid test value");
        assert!(secret.matches(b""));
        assert!(!secret.matches(b"x"));
    }

    #[test]
    fn debug_hides_the_value() {
        let secret: Secret = "hunter2".parse().expect("a valid test value");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        assert!(!format!("{:?}", Some(secret)).contains("hunter2"));
    }
}
