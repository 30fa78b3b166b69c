//! The token the agent accepts, kept only as its SHA-256 and compared in constant time (the
//! token's length is not leaked either: digests are all 32 bytes).

use sha2::{Digest, Sha256};

/// The SHA-256 of the token the agent accepts.
#[derive(Clone)]
pub struct TokenDigest([u8; 32]);

impl TokenDigest {
    pub fn of(token: &str) -> TokenDigest {
        TokenDigest(Sha256::digest(token.as_bytes()).into())
    }

    /// Whether `offered` is the token, in time independent of where they differ.
    pub fn accepts(&self, offered: &str) -> bool {
        let offered: [u8; 32] = Sha256::digest(offered.as_bytes()).into();
        let diff = self
            .0
            .iter()
            .zip(offered.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(diff) == 0
    }
}

impl std::fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenDigest(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_tokens() {
        let digest = TokenDigest::of("s3cret-token");
        assert!(digest.accepts("s3cret-token"));
        assert!(!digest.accepts("s3cret-tokem"));
        assert!(!digest.accepts(""));
        assert_eq!(format!("{digest:?}"), "TokenDigest(..)");
    }
}
