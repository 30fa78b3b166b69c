//! The Redis Cluster engine: the same store, bus, directory and identity writes as the
//! single-Redis engine ([`crate::engine::redis`], generic over their connection), on the
//! redis-rs cluster client (`cluster-async`) instead of one server's connection.
//!
//! Every key of a file carries its `{F}` hash tag, so a file lives in one slot: its log,
//! snapshot, undo lists and channel go to that slot's master, and each script call names
//! all of its keys (the channel too) in `KEYS[]`. What differs, and why:
//!
//! - File channels are sharded pub/sub (`SSUBSCRIBE`/`SPUBLISH`, the append script
//!   included): a message travels only within its shard, so pub/sub load spreads over the
//!   masters like the data does, where classic `PUBLISH` is copied to every node.
//! - The gateways channel (heartbeats, goodbyes) stays classic pub/sub: it has no file
//!   and therefore no slot, every gateway must hear every other, and classic `PUBLISH` on
//!   any node reaches subscribers on every node. A few messages per second per gateway,
//!   so the broadcast costs nothing that matters.
//! - Identity tracking (`CLIENT TRACKING`) is left off: its invalidations come from the
//!   node that holds each key, which would need one tracking connection per master and
//!   re-arming on every topology change. [`crate::engine::Engine::changes`] is `None`, so
//!   revocation polls (every 2 s by default) and every handshake reads Redis.
//! - Slot moves: the old owner pushes an unsolicited `sunsubscribe` for each channel of
//!   the slot, which redis-rs 1.8.1 does not follow up; the shared router
//!   ([`crate::engine::redis::router`]) asks the bus to `SSUBSCRIBE` again (the client
//!   routes it to the new owner) and the room to catch up from the log. `MOVED`/`ASK`
//!   replies to commands and scripts are followed by the cluster client, and a script the
//!   new owner has never seen is reloaded (`NOSCRIPT`, redis-rs `Script`).
//! - Readiness is per slot in use: the masters of this gateway's open files' slots and
//!   of the gateways channel's must answer and serve ([`readiness`]); a shard that is
//!   down takes out of rotation only the gateways holding its files.
//!
//! - [`conn`]: the cluster client as the engine's connection type.
//! - [`topology`]: the slot map (`CLUSTER SLOTS`, cached) and key slots.
//! - [`probe`]: one look at one master (answers in time, `cluster_state:ok`).
//! - [`readiness`]: `/readyz` from the slots in use.
//! - [`node_metrics`]: per-node series (up, probe time, slots, file channels).

pub mod conn;
pub mod node_metrics;
pub mod probe;
pub mod readiness;
pub mod topology;

use std::sync::Arc;
use std::time::Duration;

use collab_protocol::Keys;
use redis::ProtocolVersion;
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;

use super::Engine;
use super::error::EngineError;
use super::readiness::NodeTable;
use super::redis::version::RedisVersion;
use super::redis::{bus, cache, diag_cache, directory, file_state, identity_admin, store};
use collab_room_core::ext::diagnostics::DiagPolicy;
use collab_room_core::ext::undo::UndoPolicy;

/// Sharded pub/sub (`SSUBSCRIBE`, `SPUBLISH`) arrived in Redis 7.0.
pub const MINIMUM: RedisVersion = RedisVersion {
    major: 7,
    minor: 0,
    patch: 0,
};

/// The seed nodes of a comma-separated `--redis-url` list (blanks ignored).
pub fn seeds(urls: &str) -> Vec<String> {
    urls.split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(str::to_owned)
        .collect()
}

fn builder(seeds: &[String]) -> ClusterClientBuilder {
    ClusterClientBuilder::new(seeds.iter().map(String::as_str))
        .connection_timeout(Duration::from_secs(5))
        .response_timeout(Duration::from_secs(10))
        .tcp_settings(crate::engine::redis::conn::tcp_settings())
}

/// Connects to the cluster that `seeds` belong to (one reachable seed is enough: the
/// client reads the slot map from it) and starts the bus and the per-node metrics. Two
/// cluster connections (each one TCP connection per master): one for commands (store,
/// directory, identity writes, publishing, readiness and metrics probes), one RESP3
/// connection whose pushes (messages, subscription confirmations, dropped channels,
/// disconnections) go to the bus's router.
pub async fn connect(
    seeds: &[String],
    keys: Keys,
    gateway_id: String,
    gateway_timeout: Duration,
    undo: UndoPolicy,
    diag: DiagPolicy,
) -> Result<Engine, EngineError> {
    let commands: ClusterConnection = builder(seeds).build()?.get_async_connection().await?;
    let store = store::RedisStore::new(commands.clone(), keys.clone(), gateway_id.clone(), undo);
    // Never armed without tracking: every identity read goes to Redis.
    let identity_cache = Arc::new(cache::IdentityCache::new());
    let directory = directory::RedisDirectory::new(commands.clone(), identity_cache);
    let identity_admin = identity_admin::RedisIdentityAdmin::new(commands.clone());
    let diagnostics =
        diag_cache::RedisDiagnostics::new(commands.clone(), keys.clone(), gateway_id.clone(), diag);
    let files = file_state::RedisFileState::new(commands.clone(), keys.clone(), gateway_id.clone());

    let (router, resubscribe) =
        bus::router::<ClusterConnection>(&keys, &gateway_id, gateway_timeout);
    let push_router = router.clone();
    let mut sub: ClusterConnection = builder(seeds)
        .use_protocol(ProtocolVersion::RESP3)
        .push_sender(move |push: redis::PushInfo| {
            push_router.on_push(push);
            Ok::<(), ()>(())
        })
        .build()?
        .get_async_connection()
        .await?;
    sub.subscribe(keys.gateways_channel()).await?;
    let topology = Arc::new(topology::Topology::new(commands.clone()));
    let nodes = Arc::new(NodeTable::default());
    let readiness = readiness::SlotReadiness {
        router: router.clone(),
        topology: topology.clone(),
        conn: commands.clone(),
        nodes: nodes.clone(),
    };
    let node_watch = tokio::spawn(node_metrics::watch(
        router.clone(),
        topology,
        commands.clone(),
        nodes,
    ));
    let (bus, mut tasks) =
        bus::RedisBus::start(router, resubscribe, sub, commands, keys, gateway_id);
    tasks.push(node_watch);
    Ok(Engine::new(
        Arc::new(store),
        Arc::new(bus),
        Arc::new(directory),
        Arc::new(identity_admin),
        Arc::new(diagnostics),
        Arc::new(readiness),
        tasks,
    )
    .with_files(Arc::new(files)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_a_comma_list() {
        assert_eq!(
            seeds(" redis://a:7000, redis://b:7001,,"),
            vec!["redis://a:7000".to_owned(), "redis://b:7001".to_owned()]
        );
        assert!(seeds("").is_empty());
    }
}
