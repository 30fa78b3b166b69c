//! ETags: the lowercase hex SHA-256 of a file's bytes, sent quoted (`"<hex>"`), and the
//! parsing of `If-Match` / `If-None-Match` values against one.
//!
//! Strong comparison only: a weak tag (`W/"..."`) never matches, since the agent's tags
//! always name exact bytes.

use std::io::Read;

use sha2::{Digest, Sha256};

/// Lowercase hex SHA-256 of `bytes`.
pub fn of_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lowercase hex SHA-256 of everything `reader` yields, read in 64 KiB pieces (constant
/// memory, for the change feed's look at files of any size).
pub fn of_reader(reader: &mut impl Read) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            return Ok(hex(&hasher.finalize()));
        }
        hasher.update(&buf[..n]);
    }
}

fn hex(digest: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(digest.len() * 2);
    for byte in digest {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// The header form of a tag: `"<hex>"`.
pub fn quote(hex: &str) -> String {
    format!("\"{hex}\"")
}

/// What an `If-Match` / `If-None-Match` header asks about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `*`: any current version.
    Any,
    /// A list of strong tags (hex, without quotes); weak tags are dropped.
    Tags(Vec<String>),
}

impl Condition {
    /// Parses a header value: `*` or a comma-separated list of entity tags.
    pub fn parse(value: &str) -> Option<Condition> {
        let value = value.trim();
        if value == "*" {
            return Some(Condition::Any);
        }
        let mut tags = Vec::new();
        for part in value.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            if part.starts_with("W/") {
                // A weak tag is well-formed but can never match strongly.
                continue;
            }
            let inner = part.strip_prefix('"')?.strip_suffix('"')?;
            if inner.contains('"') {
                return None;
            }
            tags.push(inner.to_ascii_lowercase());
        }
        Some(Condition::Tags(tags))
    }

    /// Whether a file whose tag is `current` (`None`: no file) satisfies the condition.
    pub fn matches(&self, current: Option<&str>) -> bool {
        match (self, current) {
            (_, None) => false,
            (Condition::Any, Some(_)) => true,
            (Condition::Tags(tags), Some(hex)) => tags.iter().any(|t| t == hex),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_abc() {
        assert_eq!(
            of_bytes(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(of_reader(&mut &b"abc"[..]).ok(), Some(of_bytes(b"abc")));
    }

    #[test]
    fn conditions() {
        assert_eq!(Condition::parse(" * "), Some(Condition::Any));
        let c = Condition::parse("\"AB\", W/\"cd\", \"ef\"");
        assert_eq!(c, Some(Condition::Tags(vec!["ab".into(), "ef".into()])));
        assert!(Condition::parse("ab").is_none());
        assert!(!Condition::Any.matches(None));
        assert!(Condition::parse("\"ef\"").is_some_and(|c| c.matches(Some("ef"))));
        assert!(Condition::parse("W/\"ef\"").is_some_and(|c| !c.matches(Some("ef"))));
    }
}
