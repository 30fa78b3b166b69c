//! The Redis a test runs its gateways on: one [`RedisServer`] or a [`RedisCluster`].
//!
//! Tests about what gateways guarantee (compaction, restarts, chaos) hold on both
//! engines: they take a [`BackendKind`], start a [`Backend`] of that kind, start their
//! gateways with [`Backend::gateway`] and read keys back with [`Backend::key_type`] and
//! friends, which go to the node that owns the key on a cluster. What only one kind can
//! do (restart the one Redis; move a slot, kill a master) stays on [`Backend::redis_mut`]
//! and [`Backend::cluster_mut`].

use std::fmt;

use anyhow::Result;

use crate::redis::{key_type, log_len, stream_entries_added};
use crate::{Gateway, RedisCluster, RedisServer};

/// Which engine a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// One `redis-server` (the gateway's default engine).
    Redis,
    /// A Redis Cluster of 3 masters and 3 replicas (`--redis-cluster`).
    Cluster,
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendKind::Redis => "one Redis",
            BackendKind::Cluster => "a Redis Cluster",
        })
    }
}

/// A running Redis of either kind.
pub enum Backend {
    Redis(RedisServer),
    Cluster(RedisCluster),
}

impl Backend {
    /// Starts one Redis or a whole cluster and waits until it serves.
    pub async fn start(kind: BackendKind) -> Result<Backend> {
        Ok(match kind {
            BackendKind::Redis => Backend::Redis(RedisServer::start().await?),
            BackendKind::Cluster => Backend::Cluster(RedisCluster::start().await?),
        })
    }

    pub fn kind(&self) -> BackendKind {
        match self {
            Backend::Redis(_) => BackendKind::Redis,
            Backend::Cluster(_) => BackendKind::Cluster,
        }
    }

    /// A gateway on this Redis (`--redis-cluster` with every node a seed on a cluster).
    pub async fn gateway(&self, flags: &[&str]) -> Result<Gateway> {
        match self {
            Backend::Redis(redis) => Gateway::start(&redis.url(), flags).await,
            Backend::Cluster(cluster) => Gateway::start_on_cluster(cluster, flags).await,
        }
    }

    /// Kills every pub/sub connection (on every node of a cluster); returns how many.
    pub async fn kill_pubsub_clients(&self) -> Result<usize> {
        match self {
            Backend::Redis(redis) => redis.kill_pubsub_clients().await,
            Backend::Cluster(cluster) => cluster.kill_pubsub_clients().await,
        }
    }

    /// The Redis type of `key` (`none` when absent).
    pub async fn key_type(&self, key: &str) -> Result<String> {
        match self {
            Backend::Redis(redis) => key_type(&mut redis.connection().await?, key).await,
            Backend::Cluster(cluster) => {
                key_type(&mut cluster.client_connection().await?, key).await
            }
        }
    }

    /// Entries of a file's log (stream or list); 0 when it does not exist.
    pub async fn log_len(&self, key: &str) -> Result<u64> {
        match self {
            Backend::Redis(redis) => log_len(&mut redis.connection().await?, key).await,
            Backend::Cluster(cluster) => {
                log_len(&mut cluster.client_connection().await?, key).await
            }
        }
    }

    /// Entries ever added to the stream `key`; `None` when it is not a stream.
    pub async fn stream_entries_added(&self, key: &str) -> Result<Option<u64>> {
        match self {
            Backend::Redis(redis) => {
                stream_entries_added(&mut redis.connection().await?, key).await
            }
            Backend::Cluster(cluster) => {
                stream_entries_added(&mut cluster.client_connection().await?, key).await
            }
        }
    }

    /// The one Redis, when this is not a cluster.
    pub fn redis_mut(&mut self) -> Option<&mut RedisServer> {
        match self {
            Backend::Redis(redis) => Some(redis),
            Backend::Cluster(_) => None,
        }
    }

    /// The cluster, when this is one.
    pub fn cluster_mut(&mut self) -> Option<&mut RedisCluster> {
        match self {
            Backend::Redis(_) => None,
            Backend::Cluster(cluster) => Some(cluster),
        }
    }
}
