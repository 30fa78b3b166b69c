//! Readiness: whether this gateway can serve what it serves now (`/readyz`), asked of the
//! engine because only the engine knows what "reachable" means for its Redis.
//!
//! One Redis: the subscription is up and the server answers `PING`. A Redis Cluster: the
//! subscription is up and every slot this gateway uses (its open files' slots and the
//! gateways channel's) has a master that answers and serves
//! ([`crate::engine::cluster::readiness`]), so one shard down takes out of rotation
//! only the gateways that hold files there.

use futures_util::future::BoxFuture;

/// Why a gateway is not ready, fit for the `/readyz` body: slots and node addresses
/// (`host:port`), never keys, tokens or client addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReady(pub String);

impl std::fmt::Display for NotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The engine's readiness check; each call makes fresh round trips (bounded by the
/// engine's own deadlines).
pub trait Readiness: Send + Sync + 'static {
    fn check(&self) -> BoxFuture<'_, Result<(), NotReady>>;
}
