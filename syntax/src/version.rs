//! The `version` of a diagnostics message: which text the markers belong to, so a client
//! drops markers for text it no longer has and gateways share one cache entry per text.

use sha2::{Digest, Sha256};

/// Lowercase hex SHA-256 of the UTF-8 text.
pub fn version(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(text.as_bytes());
    let mut out = String::with_capacity(digest.len() * 2);
    for byte in digest.iter() {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_sha256_test_vectors() {
        // FIPS 180-2 appendix B.1, and the empty message.
        assert_eq!(
            version("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            version(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
