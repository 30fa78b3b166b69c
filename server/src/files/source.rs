//! The file source seam: where a file lives besides Redis, as the gateway needs it.
//!
//! A source loads a file's bytes with their ETag (lowercase hex SHA-256 of the bytes),
//! stores bytes on a condition (the version last seen, or "only if absent"), and announces
//! changes made to files by anything (the gateway's own writes included: a receiver tells
//! them apart by ETag). `--files dir` is [`super::dir::DirSource`].

use collab_protocol::FileId;
use futures_util::future::BoxFuture;
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;

/// A version of a file's bytes: lowercase hex SHA-256, without quotes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Etag(pub String);

impl Etag {
    /// The ETag of `bytes`.
    pub fn of(bytes: &[u8]) -> Etag {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let digest = Sha256::digest(bytes);
        let mut out = String::with_capacity(64);
        for byte in digest.iter() {
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        Etag(out)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A file as loaded.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub bytes: Vec<u8>,
    pub etag: Etag,
}

/// The condition of a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// Only if the file is this version (`If-Match`).
    IfMatch(Etag),
    /// Only if no file exists (`If-None-Match: *`).
    CreateOnly,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error("no such file")]
    NotFound,
    /// The file is not the version the store was conditional on.
    #[error("the file changed since it was last read")]
    Conflict,
    /// The file id or path is not allowed (traversal, absolute, a link out of the root),
    /// or the file is not a regular file.
    #[error("refused: {0}")]
    Refused(String),
    /// The file is larger than the gateway opens.
    #[error("the file is {size} bytes, more than the {max} allowed")]
    TooBig { size: u64, max: usize },
    #[error("the file source failed: {0}")]
    Unavailable(String),
}

/// A change to a file, made by anyone; `etag` is `None` when the file is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceChange {
    pub file: FileId,
    pub etag: Option<Etag>,
}

/// Where files live.
pub trait FileSource: Send + Sync + 'static {
    /// The file's bytes and ETag (at most `max_bytes`, else [`SourceError::TooBig`]).
    fn load<'a>(
        &'a self,
        file: &'a FileId,
        max_bytes: usize,
    ) -> BoxFuture<'a, Result<Loaded, SourceError>>;

    /// Writes `bytes` if `condition` holds; returns the new ETag.
    fn store<'a>(
        &'a self,
        file: &'a FileId,
        bytes: &'a [u8],
        condition: Precondition,
    ) -> BoxFuture<'a, Result<Etag, SourceError>>;

    /// Announcements of changed files (lagging receivers see `Lagged`: check everything).
    fn changes(&self) -> broadcast::Receiver<SourceChange>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_is_hex_sha256() {
        assert_eq!(
            Etag::of(b"abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
