//! What the soak reads after each round: each gateway's RSS (`/proc`), its tables and
//! allocator figures (`collab_table_entries{table}`, `collab_allocator_bytes{kind}` on
//! `/metrics`) and how many series its `/metrics` holds; and Redis's side (file channels
//! subscribed, cursor claims, keys, memory).

use std::collections::BTreeMap;

use anyhow::Context;
use collab_harness::Gateway;
use redis::aio::MultiplexedConnection;
use serde::Serialize;

use crate::procstat;

/// One gateway after a round.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GatewayReading {
    pub rss_kib: u64,
    pub peak_rss_kib: u64,
    pub cpu_seconds: f64,
    /// `collab_table_entries` by table.
    pub tables: BTreeMap<String, u64>,
    /// `collab_allocator_bytes` by kind (empty when the allocator reports none).
    pub allocator: BTreeMap<String, u64>,
    /// Samples on `/metrics` (every label set of every metric).
    pub metric_series: u64,
    /// `collab_allocator_trim_seconds_count`: trims of free pages so far (0 before the
    /// first, and with `--malloc-trim-ms 0` or another allocator).
    pub trims: u64,
}

/// Redis after a round.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RedisReading {
    /// Channels with subscribers (`PUBSUB CHANNELS`): the gateways channel plus open files.
    pub channels: u64,
    /// `collab:{F}:cursor:{id}` keys (claims lapse 30 s after their owner left).
    pub cursor_claims: u64,
    pub keys: u64,
    pub used_memory: u64,
}

pub async fn gateway(gw: &Gateway) -> anyhow::Result<GatewayReading> {
    let pid = gw.pid().context("the gateway has exited")?;
    let proc = procstat::sample(pid).with_context(|| format!("reading /proc/{pid}"))?;
    let text = gw.metrics().await?;
    let mut reading = GatewayReading {
        rss_kib: proc.rss_kib,
        peak_rss_kib: proc.peak_rss_kib,
        cpu_seconds: proc.cpu_seconds,
        ..GatewayReading::default()
    };
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        reading.metric_series += 1;
        if let Some((table, value)) = labelled(line, "collab_table_entries", "table") {
            reading.tables.insert(table, value);
        } else if let Some((kind, value)) = labelled(line, "collab_allocator_bytes", "kind") {
            reading.allocator.insert(kind, value);
        } else if let Some(count) = line.strip_prefix("collab_allocator_trim_seconds_count ") {
            reading.trims = count.trim().parse::<f64>().map_or(0, |n| n as u64);
        }
    }
    Ok(reading)
}

/// `name{label="x"} v` -> `("x", v)`.
fn labelled(line: &str, name: &str, label: &str) -> Option<(String, u64)> {
    let rest = line.strip_prefix(name)?.strip_prefix('{')?;
    let (labels, value) = rest.split_once("} ")?;
    let wanted = labels.strip_prefix(label)?.strip_prefix("=\"")?;
    let key = wanted.split('"').next()?;
    Some((key.to_owned(), value.trim().parse::<f64>().ok()? as u64))
}

pub async fn redis(conn: &mut MultiplexedConnection) -> anyhow::Result<RedisReading> {
    let channels: Vec<String> = redis::cmd("PUBSUB")
        .arg("CHANNELS")
        .query_async(conn)
        .await?;
    let keys: u64 = redis::cmd("DBSIZE").query_async(conn).await?;
    let mut cursor_claims = 0;
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg("collab:*:cursor:*")
            .arg("COUNT")
            .arg(10_000)
            .query_async(conn)
            .await?;
        cursor_claims += batch.len() as u64;
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    let info: String = redis::cmd("INFO").arg("memory").query_async(conn).await?;
    let used_memory = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    Ok(RedisReading {
        channels: channels.len() as u64,
        cursor_claims,
        keys,
        used_memory,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_labelled_gauges() {
        assert_eq!(
            labelled(
                "collab_table_entries{table=\"rooms\"} 3",
                "collab_table_entries",
                "table"
            ),
            Some(("rooms".into(), 3))
        );
        assert_eq!(
            labelled(
                "collab_allocator_bytes{kind=\"allocated\"} 1.5e6",
                "collab_allocator_bytes",
                "kind"
            ),
            Some(("allocated".into(), 1_500_000))
        );
        assert_eq!(
            labelled("collab_rooms 3", "collab_table_entries", "table"),
            None
        );
    }
}
