//! The soak's report: one row per round (and the baseline before any visit), the tables
//! that must come back to their baseline once the rooms close, RSS growth, and the
//! markdown and JSON written beside it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use super::reading::{GatewayReading, RedisReading};

/// Tables that hold something only while rooms are open or connections live: each must be
/// back at its baseline after every round. Caches (the identity cache, its invalidation
/// ring) and gateways heard from are bounded instead, and only reported.
pub const SETTLING: &[&str] = &[
    "rooms",
    "sessions",
    "room_members",
    "room_outboxes",
    "room_posts",
    "room_file_keepers",
    "awareness_states",
    "cursor_owners",
    "held_cursors",
    "routes",
    "subscriptions",
    "resubscribing",
    "revocation_grants",
    "pending_append_bytes",
    "tasks",
];

/// Everything read at one point of the run.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// 0 for the baseline.
    pub round: usize,
    /// Visits made so far.
    pub visits: u64,
    /// Visits that failed so far.
    pub failed: u64,
    /// Seconds the round's visits took.
    pub visit_secs: f64,
    /// Seconds from the round's last visit until the tables settled and the gateways
    /// trimmed (or the deadlines).
    pub settle_secs: f64,
    /// Every settling table was back at its baseline.
    pub settled: bool,
    pub gateways: Vec<GatewayReading>,
    pub redis: RedisReading,
}

impl Row {
    /// Settling tables (and Redis channels) that differ from `baseline`: name, baseline,
    /// now, per gateway.
    pub fn unsettled(&self, baseline: &Row) -> Vec<String> {
        let mut off = Vec::new();
        for (i, (now, base)) in self.gateways.iter().zip(&baseline.gateways).enumerate() {
            for table in SETTLING {
                let (b, n) = (table_of(base, table), table_of(now, table));
                if b != n {
                    off.push(format!("gateway {} {table}: {b} -> {n}", i + 1));
                }
            }
        }
        if self.redis.channels != baseline.redis.channels {
            off.push(format!(
                "redis channels: {} -> {}",
                baseline.redis.channels, self.redis.channels
            ));
        }
        off
    }

    /// A table summed over the gateways.
    pub fn sum(&self, table: &str) -> u64 {
        self.gateways.iter().map(|g| table_of(g, table)).sum()
    }
}

fn table_of(g: &GatewayReading, table: &str) -> u64 {
    g.tables.get(table).copied().unwrap_or(0)
}

#[derive(Debug, Clone, Serialize)]
pub struct SoakReport {
    pub label: String,
    /// The settings that shaped the run.
    pub settings: BTreeMap<String, String>,
    pub rows: Vec<Row>,
    /// The first visits' errors (at most a few).
    pub errors: Vec<String>,
}

impl SoakReport {
    /// RSS growth of each gateway from the row after `from` visits (the first row at or
    /// past it) to the last row, in percent.
    pub fn rss_growth(&self, from: u64) -> Option<(u64, Vec<f64>)> {
        let start = self.rows.iter().find(|r| r.round > 0 && r.visits >= from)?;
        let end = self.rows.last()?;
        let growth = start
            .gateways
            .iter()
            .zip(&end.gateways)
            .map(|(a, b)| (b.rss_kib as f64 / a.rss_kib.max(1) as f64 - 1.0) * 100.0)
            .collect();
        Some((start.visits, growth))
    }

    /// Where growth is measured from: after 10,000 visits, or after half of a shorter run.
    pub fn growth_from(&self) -> u64 {
        let total = self.rows.last().map_or(0, |r| r.visits);
        10_000.min(total / 2)
    }

    /// Whether every round settled and no visit failed.
    pub fn is_clean(&self) -> bool {
        self.rows.iter().all(|r| r.settled) && self.rows.last().is_some_and(|r| r.failed == 0)
    }

    pub fn markdown(&self) -> String {
        let mut out = format!("# Soak: {}\n\n", self.label);
        let settings: Vec<String> = self
            .settings
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let _ = writeln!(out, "Settings: {}.\n", settings.join(", "));
        out.push_str(
            "| round | visits | failed | s | settled | RSS gw1 MiB | RSS gw2 MiB | allocated MiB | \
             malloc free MiB | trims | rooms | routes | subs | cursors | id cache | grants | tasks | \
             series | redis chans | claims |\n",
        );
        out.push_str(&"|---".repeat(20));
        out.push_str("|\n");
        for r in &self.rows {
            let mib = |kib: u64| kib as f64 / 1024.0;
            let rss = |i: usize| r.gateways.get(i).map_or(0.0, |g| mib(g.rss_kib));
            let alloc = |kind: &str| {
                r.gateways
                    .iter()
                    .filter_map(|g| g.allocator.get(kind))
                    .sum::<u64>() as f64
                    / (1 << 20) as f64
            };
            let series: u64 = r.gateways.iter().map(|g| g.metric_series).sum();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.1} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.round,
                r.visits,
                r.failed,
                r.visit_secs,
                if r.settled {
                    format!("yes ({:.1} s)", r.settle_secs)
                } else {
                    "NO".into()
                },
                rss(0),
                rss(1),
                alloc("allocated"),
                alloc("free_retained"),
                r.gateways.iter().map(|g| g.trims).sum::<u64>(),
                r.sum("rooms"),
                r.sum("routes"),
                r.sum("subscriptions"),
                r.sum("awareness_states") + r.sum("cursor_owners"),
                r.sum("identity_cache_keys"),
                r.sum("revocation_grants"),
                r.sum("tasks"),
                series,
                r.redis.channels,
                r.redis.cursor_claims,
            );
        }
        out.push_str(
            "\nRSS and allocator figures are per gateway (allocated, malloc free: summed over \
             both); tables are summed over both gateways. `cursors`: awareness states plus \
             cursor owners in open rooms; `id cache`: identity cache keys; `series`: samples \
             on /metrics; `trims`: the gateways' `malloc_trim`s so far; `claims`: cursor claim keys in Redis (they lapse 30 s after their \
             owner left).\n",
        );
        if let Some((from, growth)) = self.rss_growth(self.growth_from()) {
            let growth: Vec<String> = growth.iter().map(|g| format!("{g:+.1}%")).collect();
            let _ = writeln!(
                out,
                "\nRSS growth from visit {from} to the end: {}.",
                growth.join(" and ")
            );
        }
        if let Some(base) = self.rows.first() {
            let off: Vec<String> = self.rows.iter().flat_map(|r| r.unsettled(base)).collect();
            if off.is_empty() {
                out.push_str("Every settling table was back at its baseline after every round.\n");
            } else {
                let _ = writeln!(out, "Tables off their baseline: {}.", off.join("; "));
            }
        }
        for e in &self.errors {
            let _ = writeln!(out, "- error: {e}");
        }
        out
    }

    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::write(dir.join("soak.json"), serde_json::to_string_pretty(self)?)?;
        std::fs::write(dir.join("soak.md"), self.markdown())?;
        Ok(())
    }
}
