//! Readiness: whether this gateway can serve what it serves now (`/readyz`), asked of the
//! engine because only the engine knows what "reachable" means for its Redis.
//!
//! One Redis: the subscription is up and the server answers `PING`. A Redis Cluster: the
//! subscription is up and every slot this gateway uses (its open files' slots and the
//! gateways channel's) has a master that answers and serves
//! ([`crate::engine::cluster::readiness`]), so one shard down takes out of rotation
//! only the gateways that hold files there.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

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

    /// The nodes the engine probes in the background, as last probed (the status page);
    /// none where only [`Readiness::check`] looks (one Redis).
    fn nodes(&self) -> Vec<NodeHealth> {
        Vec::new()
    }
}

/// One Redis node as the engine's last background probe found it: under a cluster, each
/// master of the slot map (the same probe as `collab_redis_node_up`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NodeHealth {
    /// `host:port`, as the slot map names it.
    pub node: String,
    pub up: bool,
    /// Why not, when down: `silent`, `unreachable` or `cluster-down`.
    pub fault: Option<&'static str>,
    /// The probe's round trip, when up.
    pub probe_ms: Option<f64>,
    pub slots: u32,
    /// This gateway's file channels (one per open file) on the node.
    pub file_channels: u32,
}

/// The last probe of every node, written by the engine's prober and read by its readiness.
#[derive(Debug, Default)]
pub struct NodeTable(Mutex<Vec<NodeHealth>>);

impl NodeTable {
    pub fn set(&self, nodes: Vec<NodeHealth>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = nodes;
    }

    pub fn get(&self) -> Vec<NodeHealth> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The longest a readiness check may take (probes kubelets and balancers send time out
/// after a few seconds; an answer must come before).
pub const DEADLINE: Duration = Duration::from_secs(2);

/// `readiness`'s answer within [`DEADLINE`]; no answer in time is "redis unreachable".
/// `/readyz` and the status page ask through this, so both say the same.
pub async fn check_in_time(readiness: &dyn Readiness) -> Result<(), NotReady> {
    match tokio::time::timeout(DEADLINE, readiness.check()).await {
        Ok(answer) => answer,
        Err(_) => Err(NotReady("redis unreachable".into())),
    }
}
