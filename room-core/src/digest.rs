//! The digest of a log entry's bytes, and the rule by which a gateway recognises an entry
//! at a position as the one it knows there.
//!
//! A gateway computes the digest (xxh3-64) of every update it appends and stores it in
//! the entry beside the writer's name; Lua only stores and returns it. A writer's name
//! alone cannot tell two entries of one gateway apart: after a failover lost a gateway's
//! entry (and its echo), the same gateway may append another update at that position.
//! The digest tells them apart. Entries written by older gateways have none: for them
//! the writer's name is all there is.

use xxhash_rust::xxh3::xxh3_64;

/// What tells a log entry at its position from another: the gateway that wrote it and the
/// digest of its bytes (`None` in entries of gateways older than digests), see
/// [`same_entry`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryMark {
    pub origin: String,
    pub digest: Option<u64>,
}

impl EntryMark {
    /// The mark of an entry whose bytes are at hand.
    pub fn of(origin: &str, update: &[u8]) -> Self {
        EntryMark {
            origin: origin.to_owned(),
            digest: Some(of(update)),
        }
    }
}

/// The digest of an entry's update bytes.
pub fn of(update: &[u8]) -> u64 {
    xxh3_64(update)
}

/// A digest as stored in an entry: 16 lowercase hex digits.
pub fn to_hex(digest: u64) -> String {
    format!("{digest:016x}")
}

/// A stored digest, or `None` when it is not one (a foreign or damaged field).
pub fn from_hex(text: &[u8]) -> Option<u64> {
    if text.len() != 16 {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(text).ok()?, 16).ok()
}

/// Whether the entry `log` found at a position is the entry `known` there: by content
/// when both carry a digest, else (an entry from an older gateway) by writer.
pub fn same_entry(known: &EntryMark, log: &EntryMark) -> bool {
    match (known.digest, log.digest) {
        (Some(ours), Some(theirs)) => ours == theirs,
        _ => known.origin == log.origin,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(origin: &str, digest: Option<u64>) -> EntryMark {
        EntryMark {
            origin: origin.to_owned(),
            digest,
        }
    }

    #[test]
    fn hex_round_trips_and_refuses_what_is_not_a_digest() {
        for digest in [0, 1, of(b"hello"), u64::MAX] {
            assert_eq!(from_hex(to_hex(digest).as_bytes()), Some(digest));
        }
        for bad in [&b""[..], b"abc", b"zzzzzzzzzzzzzzzz", b"0123456789abcdef0"] {
            assert_eq!(from_hex(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_digest_is_of_the_bytes() {
        assert_eq!(of(b"update one"), of(b"update one"));
        assert_ne!(of(b"update one"), of(b"update two"));
    }

    #[test]
    fn one_writers_two_entries_differ_by_content() {
        let (x, y) = (of(b"x"), of(b"y"));
        assert!(same_entry(&mark("gw-a", Some(x)), &mark("gw-a", Some(x))));
        assert!(
            !same_entry(&mark("gw-a", Some(x)), &mark("gw-a", Some(y))),
            "the same writer's other entry is another entry"
        );
        assert!(
            !same_entry(&mark("gw-a", Some(x)), &mark("gw-b", Some(y))),
            "another writer's entry is another entry"
        );
    }

    #[test]
    fn without_a_digest_on_either_side_the_writer_decides() {
        let x = Some(of(b"x"));
        assert!(same_entry(&mark("gw-a", x), &mark("gw-a", None)));
        assert!(same_entry(&mark("gw-a", None), &mark("gw-a", x)));
        assert!(!same_entry(&mark("gw-a", None), &mark("gw-b", None)));
        assert!(!same_entry(&mark("gw-a", x), &mark("gw-b", None)));
    }
}
