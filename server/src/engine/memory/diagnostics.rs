//! The in-memory engine's diagnostics cache: per file and source, the newest versions'
//! messages and the claims of gateways computing one, with the Redis scripts' rules
//! (`engine/redis/diag_scripts.rs`): a look-up finds the message, or a recent claim of
//! another gateway, or claims it; a store keeps `keep_versions` versions and publishes the
//! message; the whole cache of a file expires `ttl` after its last claim or store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use collab_protocol::FileId;
use collab_protocol::envelope::Kind;
use futures_util::future::BoxFuture;

use super::bus::Channels;
use super::shared::{Clock, lock};
use crate::engine::error::EngineError;
use collab_room_core::ext::diagnostics::{DiagPolicy, DiagnosticsCache, Lookup};

/// One source's cache.
#[derive(Debug, Default)]
struct Source {
    /// Stored versions, newest first.
    versions: Vec<(String, Bytes)>,
    /// Version -> when it was claimed (ms on the server's clock).
    claims: HashMap<String, u64>,
}

/// One file's cache (`collab:{F}:diag` in Redis).
#[derive(Debug, Default)]
pub struct DiagHash {
    sources: HashMap<String, Source>,
    expires: u64,
}

/// Every file's cache.
pub type Caches = Mutex<HashMap<FileId, DiagHash>>;

/// One gateway's access to the server's diagnostics caches.
pub struct MemoryDiagnostics {
    pub caches: Arc<Caches>,
    /// Where stored and cleared messages are published.
    pub channels: Arc<Channels>,
    pub clock: Arc<Clock>,
    pub gateway: Arc<str>,
    pub policy: DiagPolicy,
}

impl MemoryDiagnostics {
    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.policy.ttl.as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// Runs `f` on `file`'s cache as of now (an expired one starts empty).
    fn with<T>(&self, file: &FileId, f: impl FnOnce(&mut DiagHash, u64) -> T) -> T {
        let now = self.clock.now_ms();
        let mut caches = lock(&self.caches);
        let hash = caches.entry(file.clone()).or_default();
        if hash.expires <= now {
            *hash = DiagHash::default();
        }
        let result = f(hash, now);
        if hash.sources.is_empty() {
            caches.remove(file);
        }
        result
    }

    fn publish(&self, file: &FileId, message: &[u8]) {
        let payload = Bytes::copy_from_slice(message);
        self.channels
            .deliver(file, &self.gateway, Kind::Diagnostics, payload);
    }

    fn lookup(&self, file: &FileId, source: &str, version: &str) -> Lookup {
        let claim_ms = u64::try_from(self.policy.claim.as_millis()).unwrap_or(u64::MAX);
        let ttl = self.ttl_ms();
        self.with(file, |hash, now| {
            let entry = hash.sources.entry(source.to_owned()).or_default();
            if let Some((_, message)) = entry.versions.iter().find(|(v, _)| v == version) {
                return Lookup::Cached(message.clone());
            }
            if let Some(at) = entry.claims.get(version)
                && now.saturating_sub(*at) < claim_ms
            {
                return Lookup::Taken;
            }
            entry.claims.insert(version.to_owned(), now);
            hash.expires = now.saturating_add(ttl);
            Lookup::Claimed
        })
    }

    fn put(&self, file: &FileId, source: &str, version: &str, message: &[u8]) {
        let keep = self.policy.keep_versions.max(1) as usize;
        let ttl = self.ttl_ms();
        self.with(file, |hash, now| {
            let entry = hash.sources.entry(source.to_owned()).or_default();
            entry.versions.retain(|(v, _)| v != version);
            entry
                .versions
                .insert(0, (version.to_owned(), Bytes::copy_from_slice(message)));
            entry.claims.remove(version);
            for (old, _) in entry.versions.split_off(keep.min(entry.versions.len())) {
                entry.claims.remove(&old);
            }
            hash.expires = now.saturating_add(ttl);
        });
        self.publish(file, message);
    }

    fn remove(&self, file: &FileId, source: &str, message: &[u8]) -> bool {
        let removed = self.with(file, |hash, _| {
            hash.sources
                .remove(source)
                .is_some_and(|s| !s.versions.is_empty() || !s.claims.is_empty())
        });
        self.publish(file, message);
        removed
    }
}

impl DiagnosticsCache for MemoryDiagnostics {
    type Error = EngineError;

    fn lookup_or_claim<'a>(
        &'a self,
        file: &'a FileId,
        source: &'a str,
        version: &'a str,
    ) -> BoxFuture<'a, Result<Lookup, EngineError>> {
        let found = self.lookup(file, source, version);
        Box::pin(async move { Ok(found) })
    }

    fn store<'a>(
        &'a self,
        file: &'a FileId,
        source: &'a str,
        version: &'a str,
        message: &'a [u8],
    ) -> BoxFuture<'a, Result<(), EngineError>> {
        self.put(file, source, version, message);
        Box::pin(async { Ok(()) })
    }

    fn latest<'a>(&'a self, file: &'a FileId) -> BoxFuture<'a, Result<Vec<Bytes>, EngineError>> {
        let newest = self.with(file, |hash, _| {
            hash.sources
                .values()
                .filter_map(|s| s.versions.first().map(|(_, m)| m.clone()))
                .collect()
        });
        Box::pin(async move { Ok(newest) })
    }

    fn clear<'a>(
        &'a self,
        file: &'a FileId,
        source: &'a str,
        message: &'a [u8],
    ) -> BoxFuture<'a, Result<bool, EngineError>> {
        let removed = self.remove(file, source, message);
        Box::pin(async move { Ok(removed) })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::engine::memory::{MemoryServer, connect};

    fn policy() -> DiagPolicy {
        DiagPolicy {
            ttl: Duration::from_secs(60),
            claim: Duration::from_secs(60),
            keep_versions: 2,
        }
    }

    #[tokio::test]
    async fn a_version_is_claimed_once_then_cached_and_old_versions_go() {
        let server = MemoryServer::new();
        let (a, b) = (
            connect(&server, "gw-a".into(), Default::default(), policy()),
            connect(&server, "gw-b".into(), Default::default(), policy()),
        );
        let file = FileId::parse("sb/a.rs").expect("file id");
        let (a, b) = (a.diagnostics.clone(), b.diagnostics.clone());
        let claim = a
            .lookup_or_claim(&file, "syntax", "v1")
            .await
            .expect("lookup");
        assert_eq!(claim, Lookup::Claimed);
        let other = b
            .lookup_or_claim(&file, "syntax", "v1")
            .await
            .expect("lookup");
        assert_eq!(
            other,
            Lookup::Taken,
            "the claim holds for the other gateway"
        );
        a.store(&file, "syntax", "v1", b"m1").await.expect("store");
        let cached = b
            .lookup_or_claim(&file, "syntax", "v1")
            .await
            .expect("lookup");
        assert_eq!(cached, Lookup::Cached(Bytes::from_static(b"m1")));
        for (version, message) in [("v2", b"m2"), ("v3", b"m3")] {
            a.store(&file, "syntax", version, message)
                .await
                .expect("store");
        }
        assert_eq!(
            a.latest(&file).await.expect("latest"),
            vec![Bytes::from_static(b"m3")]
        );
        // Two versions kept: v1 is gone and may be claimed again.
        let again = b
            .lookup_or_claim(&file, "syntax", "v1")
            .await
            .expect("lookup");
        assert_eq!(again, Lookup::Claimed);
        assert!(a.clear(&file, "syntax", b"[]").await.expect("clear"));
        assert!(a.latest(&file).await.expect("latest").is_empty());
        assert!(!a.clear(&file, "syntax", b"[]").await.expect("clear"));
    }
}
