//! The diagnostics cache: markers per file, source and version of the text, shared by
//! every gateway so that each version is checked once, whoever holds the file.
//!
//! A stored value is the JSON of the `diagnostics` extension message itself, so what one
//! gateway computed is sent to clients as it is, never re-encoded. Writing a value also
//! publishes it (a `D` envelope) on the file's channel, in the same atomic step.

use std::time::Duration;

use bytes::Bytes;
use collab_protocol::FileId;
use futures_util::future::BoxFuture;

/// What a look-up before a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Already computed: the message's JSON.
    Cached(Bytes),
    /// Nobody has it and nobody is at it: this gateway now holds the claim and checks.
    Claimed,
    /// Another gateway claimed it recently; its result arrives on the file's channel.
    Taken,
}

/// How long cached markers live and how many versions of a source are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiagPolicy {
    /// The whole hash expires this long after its last write (Redis 7.0 has no field TTL).
    pub ttl: Duration,
    /// A claim older than this is taken over (its gateway died or hung mid-check).
    pub claim: Duration,
    /// Versions kept per source; older ones are deleted on write.
    pub keep_versions: u32,
}

/// Cached diagnostics in the engine (`collab:{F}:diag`).
pub trait DiagnosticsCache: Send + Sync + 'static {
    /// What goes wrong behind the engine (only logged).
    type Error: std::fmt::Display + Send + 'static;

    /// The cached message of `source` for `version`, or the claim to compute it.
    fn lookup_or_claim<'a>(
        &'a self,
        file: &'a FileId,
        source: &'a str,
        version: &'a str,
    ) -> BoxFuture<'a, Result<Lookup, Self::Error>>;

    /// Stores `message` (the JSON of a `diagnostics` message of `source` for `version`),
    /// releases the claim, trims old versions, refreshes the expiry and publishes it.
    fn store<'a>(
        &'a self,
        file: &'a FileId,
        source: &'a str,
        version: &'a str,
        message: &'a [u8],
    ) -> BoxFuture<'a, Result<(), Self::Error>>;

    /// The newest message of every source (what a room that opens shows its joiners).
    fn latest<'a>(&'a self, file: &'a FileId) -> BoxFuture<'a, Result<Vec<Bytes>, Self::Error>>;

    /// Deletes every version of `source` and publishes `message` (its empty list).
    /// False when the source had nothing stored.
    fn clear<'a>(
        &'a self,
        file: &'a FileId,
        source: &'a str,
        message: &'a [u8],
    ) -> BoxFuture<'a, Result<bool, Self::Error>>;
}
