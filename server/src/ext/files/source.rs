//! The file source seam: where a file lives besides Redis, as the gateway needs it.
//!
//! A source loads a file's bytes with their ETag (lowercase hex SHA-256 of the bytes),
//! stores bytes on a condition (the version last seen, or "only if absent"), and announces
//! changes made to files by anything (the gateway's own writes included: a receiver tells
//! them apart by ETag) to the rooms that watch a file. `--files dir` is
//! [`super::dir::DirSource`], `--files sandbox` [`super::agent::AgentSource`].

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
    /// The source could not be asked, or would not answer the gateway (no address known,
    /// no answer, the gateway's credentials refused): the document opens from Redis alone
    /// and its members are told the file is `failed`, with this reason.
    #[error("{0}")]
    Unanswered(String),
}

/// A change to a file, made by anyone; `etag` is `None` when the file is gone or its
/// version is not known (a feed reconnected and may have missed changes): check it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceChange {
    pub file: FileId,
    pub etag: Option<Etag>,
}

/// A room's subscription to the changes of its file's source; dropping it ends it (a
/// source may then close what it kept open for that file).
pub struct Watch {
    pub changes: broadcast::Receiver<SourceChange>,
    _hold: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl Watch {
    /// A subscription to `changes`, keeping `hold` alive as long as it lives.
    pub fn new(
        changes: broadcast::Receiver<SourceChange>,
        hold: Option<Box<dyn std::any::Any + Send + Sync>>,
    ) -> Watch {
        Watch {
            changes,
            _hold: hold,
        }
    }
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

    /// Announcements of changes to `file` (and maybe others: a receiver filters by file id),
    /// while the returned watch lives. A lagging receiver sees `Lagged`: check the file.
    fn watch(&self, file: &FileId) -> Watch;

    /// A user was admitted to a file of `sandbox` (before its room is joined): a source
    /// that finds sandboxes through their owners' records refreshes what it knows.
    fn admitted<'a>(&'a self, user: &'a str, sandbox: &'a str) -> BoxFuture<'a, ()> {
        let _ = (user, sandbox);
        Box::pin(async {})
    }
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
