//! Per-node metrics under a cluster, refreshed by a background task every
//! [`PERIOD`]: for each master of the slot map, whether it answers a probe
//! (`collab_redis_node_up`), the probe's round trip, how many slots it serves, and how
//! many of this gateway's file channels (sharded subscriptions, one per open file) it
//! holds. A node that leaves the map (a failed master, one demoted to replica) reads 0
//! everywhere, so an alert on `collab_redis_node_up == 0 and collab_redis_node_slots > 0`
//! fires only for masters that serve slots and do not answer.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use redis::cluster_async::ClusterConnection;

use super::probe::probe;
use super::readiness::file_slots;
use super::topology::{Node, Topology};
use crate::engine::readiness::{NodeHealth, NodeTable};
use crate::engine::redis::router::Router;

/// How often every master is probed. One `CLUSTER INFO` per master and one `CLUSTER
/// SLOTS` per period per gateway: 100 gateways cost each node ~50 trivial commands a
/// second.
pub const PERIOD: Duration = Duration::from_secs(2);

/// Probes the slot map's masters every [`PERIOD`] and records what it finds, in the
/// metrics and in `table` (the status page's view).
pub async fn watch(
    router: Arc<Router>,
    topology: Arc<Topology>,
    conn: ClusterConnection,
    table: Arc<NodeTable>,
) {
    let mut seen: BTreeSet<Node> = BTreeSet::new();
    let mut tick = tokio::time::interval(PERIOD);
    loop {
        tick.tick().await;
        let Some(map) = topology.current().await else {
            continue;
        };
        let mut channels: BTreeMap<&Node, u32> = BTreeMap::new();
        for slot in file_slots(&router) {
            if let Some(node) = map.owner(slot) {
                *channels.entry(node).or_default() += 1;
            }
        }
        let masters = map.masters();
        let probes = join_all(masters.iter().map(|node| probe(&conn, node))).await;
        let mut health = Vec::with_capacity(masters.len());
        for (node, probed) in masters.iter().zip(probes) {
            let label = node.to_string();
            match probed {
                Ok(took) => crate::metrics::redis_node_probed(&label, took),
                Err(fault) => crate::metrics::redis_node_fault(&label, fault.label()),
            }
            let (slots, file_channels) = (map.slots_of(node), channels.get(node).copied());
            crate::metrics::redis_node_serves(&label, slots, file_channels.unwrap_or(0));
            health.push(NodeHealth {
                node: label,
                up: probed.is_ok(),
                fault: probed.err().map(|fault| fault.label()),
                probe_ms: probed.ok().map(|took| took.as_secs_f64() * 1e3),
                slots,
                file_channels: file_channels.unwrap_or(0),
            });
        }
        table.set(health);
        let now: BTreeSet<Node> = masters.into_iter().cloned().collect();
        for gone in seen.difference(&now) {
            let label = gone.to_string();
            crate::metrics::redis_node_gone(&label);
        }
        seen = now;
    }
}
