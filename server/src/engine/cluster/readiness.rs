//! `/readyz` under a cluster: ready while the subscription is up and every slot this
//! gateway uses has a master that answers a probe in time and serves
//! ([`super::probe`]). The slots in use are those of its open files (their logs,
//! snapshots, undo lists and sharded channels) and the gateways channel's (heartbeats,
//! classic pub/sub routed by that channel's slot).
//!
//! Why per slot, not every master: a shard that is down stops only the files it holds.
//! A gateway whose files all live elsewhere keeps serving them, so it stays ready and
//! the balancer keeps sending it joiners; one holding a file on the dead shard goes
//! not-ready and names the slots and the node. Identity records (`session:`, `user:`,
//! `sandbox:`) are spread over every slot, so a handshake may need any master: that
//! does not count, as every gateway would be equally unready and the balancer would
//! have nowhere better to send anyone (such handshakes fail with 1013 and the client
//! retries).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures_util::future::{BoxFuture, join_all};
use redis::cluster_async::ClusterConnection;

use super::probe::probe;
use super::topology::{Node, Topology, slot_of};
use crate::engine::readiness::{NodeHealth, NodeTable, NotReady, Readiness};
use crate::engine::redis::router::Router;

/// Slots named per node in a `/readyz` body, at most.
const SLOTS_NAMED: usize = 8;

pub struct SlotReadiness {
    pub router: Arc<Router>,
    pub topology: Arc<Topology>,
    pub conn: ClusterConnection,
    /// Every master's last background probe ([`super::node_metrics`]).
    pub nodes: Arc<NodeTable>,
}

/// The slot of each open file (one entry per file; files may share a slot).
pub fn file_slots(router: &Router) -> Vec<u16> {
    router
        .file_channels()
        .iter()
        .map(|channel| slot_of(channel))
        .collect()
}

impl Readiness for SlotReadiness {
    fn check(&self) -> BoxFuture<'_, Result<(), NotReady>> {
        Box::pin(async move {
            if !self.router.is_live() {
                return Err(NotReady("redis subscription down".into()));
            }
            let mut in_use: BTreeSet<u16> = file_slots(&self.router).into_iter().collect();
            in_use.insert(slot_of(self.router.gateways_channel()));
            let Some(map) = self.topology.current().await else {
                return Err(NotReady("no cluster node answers CLUSTER SLOTS".into()));
            };
            let mut by_node: BTreeMap<&Node, Vec<u16>> = BTreeMap::new();
            let mut orphans = Vec::new();
            for slot in in_use {
                match map.owner(slot) {
                    Some(node) => by_node.entry(node).or_default().push(slot),
                    None => orphans.push(slot),
                }
            }
            let probes = join_all(by_node.keys().map(|node| probe(&self.conn, node))).await;
            let mut failing: Vec<String> = by_node
                .iter()
                .zip(probes)
                .filter_map(|((node, slots), probed)| {
                    let fault = probed.err()?;
                    Some(format!("{} on {node}: {fault}", name_slots(slots)))
                })
                .collect();
            if !orphans.is_empty() {
                failing.insert(0, format!("{}: no master", name_slots(&orphans)));
            }
            if failing.is_empty() {
                Ok(())
            } else {
                Err(NotReady(format!("not ready: {}", failing.join("; "))))
            }
        })
    }

    fn nodes(&self) -> Vec<NodeHealth> {
        self.nodes.get()
    }
}

/// `slot 12` or `slots 3, 12, 40 and 5 more`.
fn name_slots(slots: &[u16]) -> String {
    let named: Vec<String> = slots.iter().take(SLOTS_NAMED).map(u16::to_string).collect();
    let more = slots.len().saturating_sub(SLOTS_NAMED);
    let noun = if slots.len() == 1 { "slot" } else { "slots" };
    match more {
        0 => format!("{noun} {}", named.join(", ")),
        _ => format!("{noun} {} and {more} more", named.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_a_few_slots() {
        assert_eq!(name_slots(&[12]), "slot 12");
        assert_eq!(name_slots(&[3, 12]), "slots 3, 12");
        let many: Vec<u16> = (0..10).collect();
        assert_eq!(name_slots(&many), "slots 0, 1, 2, 3, 4, 5, 6, 7 and 2 more");
    }
}
