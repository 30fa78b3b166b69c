//! Which master serves each slot, as the cluster itself says (`CLUSTER SLOTS`), cached
//! for a moment: readiness and the per-node metrics look up the owners of the slots this
//! gateway uses here, not in the cluster client's private map, which keeps routing to a
//! dead master until a command fails and may fall back to a replica.
//!
//! Key slots are computed here too (CRC16 of the key's `{hash tag}`, modulo 16384, as
//! the cluster does): redis-rs 1.8 computes them but does not expose the number.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::select_ok;
use redis::Value;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};

/// Slots of a Redis Cluster.
pub const SLOTS: u16 = 16384;

/// How long a slot map read serves before the next look-up asks again: a failover or a
/// slot move shows within this (plus the cluster's own detection time).
const MAX_AGE: Duration = Duration::from_secs(1);

/// How long one node may take to answer `CLUSTER SLOTS`.
const ANSWER_DEADLINE: Duration = Duration::from_millis(800);

/// A cluster node as the cluster announces it: `host:port` (its label in metrics).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Node {
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl Node {
    /// Routing to exactly this node, on the cluster client's own connection to it.
    pub fn route(&self) -> RoutingInfo {
        RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
            host: self.host.clone(),
            port: self.port,
        })
    }
}

/// Slot ranges (inclusive) and the master serving each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlotMap {
    ranges: Vec<(u16, u16, Node)>,
}

impl SlotMap {
    /// Reads a `CLUSTER SLOTS` reply: `[[start, end, [host, port, id, ...], replicas...], ...]`.
    /// A master announced without a host (empty, or `?`) is the node that answered,
    /// `answered_by`.
    pub fn parse(reply: &Value, answered_by: Option<&Node>) -> Option<SlotMap> {
        let Value::Array(items) = reply else {
            return None;
        };
        let mut ranges = Vec::with_capacity(items.len());
        for item in items {
            let Value::Array(fields) = item else {
                return None;
            };
            let (Some(Value::Int(start)), Some(Value::Int(end)), Some(Value::Array(master))) =
                (fields.first(), fields.get(1), fields.get(2))
            else {
                return None;
            };
            let host = match master.first() {
                Some(Value::BulkString(host)) => String::from_utf8_lossy(host).into_owned(),
                _ => String::new(),
            };
            let Some(Value::Int(port)) = master.get(1) else {
                return None;
            };
            let host = match (host.as_str(), answered_by) {
                ("" | "?", Some(node)) => node.host.clone(),
                ("" | "?", None) => return None,
                _ => host,
            };
            ranges.push((
                u16::try_from(*start).ok()?,
                u16::try_from(*end).ok()?,
                Node {
                    host,
                    port: u16::try_from(*port).ok()?,
                },
            ));
        }
        Some(SlotMap { ranges })
    }

    /// The master serving `slot`, if any does.
    pub fn owner(&self, slot: u16) -> Option<&Node> {
        self.ranges
            .iter()
            .find(|(start, end, _)| (*start..=*end).contains(&slot))
            .map(|(_, _, node)| node)
    }

    /// Every master, once each, in order.
    pub fn masters(&self) -> Vec<&Node> {
        let mut masters: Vec<&Node> = self.ranges.iter().map(|(_, _, node)| node).collect();
        masters.sort();
        masters.dedup();
        masters
    }

    /// How many slots `node` serves.
    pub fn slots_of(&self, node: &Node) -> u32 {
        self.ranges
            .iter()
            .filter(|(_, _, owner)| owner == node)
            .map(|(start, end, _)| u32::from(end - start) + 1)
            .sum()
    }
}

/// The slot of `key`: CRC16 (XMODEM) of its hash tag (the bytes between the first `{`
/// and the next `}`, if not empty) or of the whole key.
pub fn slot_of(key: &str) -> u16 {
    let key = key.as_bytes();
    let tagged = key.iter().position(|b| *b == b'{').and_then(|open| {
        let rest = &key[open + 1..];
        let close = rest.iter().position(|b| *b == b'}')?;
        (close > 0).then(|| &rest[..close])
    });
    crc16(tagged.unwrap_or(key)) % SLOTS
}

fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for byte in bytes {
        crc ^= u16::from(*byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The slot map, read through the gateway's command connection and cached for
/// [`MAX_AGE`].
pub struct Topology {
    conn: ClusterConnection,
    cached: Mutex<Option<(Instant, Arc<SlotMap>)>>,
}

impl Topology {
    pub fn new(conn: ClusterConnection) -> Self {
        Topology {
            conn,
            cached: Mutex::new(None),
        }
    }

    /// The slot map at most [`MAX_AGE`] old; when no node answers, the last one read
    /// (its masters are then likely the ones not answering), or `None` before any.
    pub async fn current(&self) -> Option<Arc<SlotMap>> {
        let last = self.cached.lock().ok().and_then(|cached| cached.clone());
        if let Some((read_at, map)) = &last
            && read_at.elapsed() < MAX_AGE
        {
            return Some(map.clone());
        }
        let known = last.as_ref().map(|(_, map)| map.clone());
        match self.read(known.as_deref()).await {
            Some(map) => {
                let map = Arc::new(map);
                if let Ok(mut cached) = self.cached.lock() {
                    *cached = Some((Instant::now(), map.clone()));
                }
                Some(map)
            }
            None => known,
        }
    }

    /// Asks every master of the `known` map at once and takes the first answer (a frozen
    /// master must not hold the look-up up); without one, any node the client knows.
    async fn read(&self, known: Option<&SlotMap>) -> Option<SlotMap> {
        let mut asks: Vec<_> = known
            .map(SlotMap::masters)
            .unwrap_or_default()
            .into_iter()
            .map(|node| Box::pin(self.ask(node.route(), Some(node.clone()))))
            .collect();
        if asks.is_empty() {
            asks.push(Box::pin(self.ask(
                RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random),
                None,
            )));
        }
        select_ok(asks).await.ok().map(|(map, _)| map)
    }

    async fn ask(&self, route: RoutingInfo, node: Option<Node>) -> Result<SlotMap, ()> {
        let mut conn = self.conn.clone();
        let mut slots = redis::cmd("CLUSTER");
        slots.arg("SLOTS");
        let reply = tokio::time::timeout(ANSWER_DEADLINE, conn.route_command(slots, route))
            .await
            .map_err(drop)?
            .map_err(drop)?;
        SlotMap::parse(&reply, node.as_ref()).ok_or(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    fn range(start: i64, end: i64, host: &str, port: i64) -> Value {
        Value::Array(vec![
            Value::Int(start),
            Value::Int(end),
            Value::Array(vec![bulk(host), Value::Int(port), bulk("id")]),
            Value::Array(vec![bulk(host), Value::Int(port + 3), bulk("replica")]),
        ])
    }

    #[test]
    fn slots_are_the_clusters() {
        // Values from the Redis Cluster specification and `CLUSTER KEYSLOT`.
        assert_eq!(crc16(b"123456789"), 0x31c3);
        assert_eq!(slot_of("foo"), 12182);
        assert_eq!(slot_of("{user1000}.following"), slot_of("user1000"));
        assert_eq!(slot_of("foo{}{bar}"), crc16(b"foo{}{bar}") % SLOTS);
        assert_eq!(slot_of("foo{{bar}}zap"), crc16(b"{bar") % SLOTS);
        assert_eq!(slot_of("collab:{sb/a.ts}:log"), slot_of("collab:{sb/a.ts}"));
    }

    #[test]
    fn reads_cluster_slots() {
        let reply = Value::Array(vec![
            range(0, 5460, "127.0.0.1", 7000),
            range(5461, 10922, "", 7001),
            range(10923, 16383, "127.0.0.1", 7002),
        ]);
        let answered = Node {
            host: "10.1.2.3".into(),
            port: 7001,
        };
        let map = SlotMap::parse(&reply, Some(&answered)).expect("parses");
        assert_eq!(
            map.owner(0).map(Node::to_string).as_deref(),
            Some("127.0.0.1:7000")
        );
        assert_eq!(
            map.owner(5461).map(Node::to_string).as_deref(),
            Some("10.1.2.3:7001")
        );
        assert_eq!(map.owner(16383).map(|n| n.port), Some(7002));
        assert_eq!(map.masters().len(), 3);
        let total: u32 = map.masters().into_iter().map(|n| map.slots_of(n)).sum();
        assert_eq!(total, u32::from(SLOTS));
        assert!(
            SlotMap::parse(&reply, None).is_none(),
            "a hostless master needs its answerer"
        );
        assert!(SlotMap::parse(&Value::Int(1), None).is_none());
    }

    #[test]
    fn a_slot_without_master_has_no_owner() {
        let reply = Value::Array(vec![range(0, 100, "127.0.0.1", 7000)]);
        let map = SlotMap::parse(&reply, None).expect("parses");
        assert!(map.owner(101).is_none());
    }
}
