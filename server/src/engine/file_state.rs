//! What the gateways share about a file's source (`collab:{F}:file`): the ETag and base
//! text last synced with it, and the write lease that makes one gateway at a time write it
//! and merge its outside changes. Also the one-time seed of a new document from its file.

use std::time::Duration;

use collab_protocol::FileId;
use futures_util::future::BoxFuture;

use super::error::EngineError;

/// The file's source as the gateways last synced with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileRecord {
    /// The version last read or written; `None`: no file (never seen, or deleted outside).
    pub etag: Option<String>,
    /// The text of that version (the base outside changes are diffed from).
    pub base: Option<String>,
}

pub trait FileState: Send + Sync + 'static {
    /// Makes `update` the file's first log entry (published like any other) and records
    /// `etag` and `base`, only if the file has no state at all (no log entry, no
    /// snapshot): of gateways seeding at once, one does. True if this call seeded. An
    /// empty `update` with an empty `etag` records "base empty, no version known" (the
    /// source did not answer) and appends nothing; [`FileState::record`] reads that ETag
    /// as `None`.
    fn seed<'a>(
        &'a self,
        file: &'a FileId,
        update: &'a [u8],
        etag: &'a str,
        base: &'a str,
    ) -> BoxFuture<'a, Result<bool, EngineError>>;

    fn record<'a>(&'a self, file: &'a FileId) -> BoxFuture<'a, Result<FileRecord, EngineError>>;

    /// Takes or renews this gateway's write lease for `ttl`; false while another live
    /// gateway holds it.
    fn lease<'a>(
        &'a self,
        file: &'a FileId,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, EngineError>>;

    /// Gives the lease up, if this gateway holds it.
    fn release<'a>(&'a self, file: &'a FileId) -> BoxFuture<'a, Result<(), EngineError>>;

    /// Records what was synced (`etag` `None`: the file is gone), only while this gateway
    /// holds the lease; false if it does not.
    fn synced<'a>(
        &'a self,
        file: &'a FileId,
        etag: Option<&'a str>,
        base: &'a str,
    ) -> BoxFuture<'a, Result<bool, EngineError>>;
}
