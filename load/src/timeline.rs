//! Throughput over time: one [`Tick`] per second while a scenario runs, so a report shows
//! how rates, latency and server load moved during the run and not only their totals (a
//! stall, a slow start or a backlog that grows are invisible in the end figures).
//!
//! The status line ([`crate::progress`]) ticks every second anyway and reads the server
//! processes then; it hands each reading to a [`Sampler`], which turns running totals into
//! per-second rates and stores the tick in the run's [`Timeline`].

use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::fleet::Shared;
use crate::procstat::Watch;
use crate::stats::Stats;
use crate::tracker::Counts;

/// What happened during one second of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tick {
    /// Seconds since the scenario started (end of this interval).
    pub t: f64,
    /// Phase of the run at the end of the interval (connect, edit, drain, stop).
    pub phase: String,
    /// Editors (or connections) synced so far.
    pub synced: u64,
    pub edits_per_s: f64,
    pub deliveries_per_s: f64,
    pub cursor_updates_per_s: f64,
    pub cursor_deliveries_per_s: f64,
    /// Propagation percentiles of the edit deliveries completed in this interval.
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Resident set of all `--pid` servers together.
    pub server_rss_kib: Option<u64>,
    /// CPU of all `--pid` servers together in this interval (100 = one core busy).
    pub server_cpu_percent: Option<f64>,
    /// CPU of the harness itself in this interval.
    pub harness_cpu_percent: Option<f64>,
}

/// The ticks of one run, shared between the sampler and the report.
#[derive(Debug, Default)]
pub struct Timeline {
    ticks: Mutex<Vec<Tick>>,
}

impl Timeline {
    pub fn push(&self, tick: Tick) {
        self.ticks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(tick);
    }

    pub fn ticks(&self) -> Vec<Tick> {
        self.ticks.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Turns running totals into per-second ticks.
pub struct Sampler {
    started: Instant,
    last: Instant,
    totals: Counts,
    /// CPU seconds of each watched process at the last tick.
    cpu: Vec<Option<f64>>,
}

impl Sampler {
    pub fn new(started: Instant, watches: &[Watch]) -> Sampler {
        Sampler {
            started,
            last: started,
            totals: Counts::default(),
            cpu: watches
                .iter()
                .map(|w| w.last.map(|s| s.cpu_seconds))
                .collect(),
        }
    }

    /// A tick from the run's counters and freshly updated `watches` (the `--pid` servers
    /// first, the harness last, as every scenario orders them).
    pub fn sample(&mut self, shared: &Shared, watches: &[Watch], now: Instant) -> Tick {
        let secs = now.duration_since(self.last).as_secs_f64().max(1e-3);
        let totals = shared.tracker.progress();
        let rate = |now: u64, before: u64| now.saturating_sub(before) as f64 / secs;
        let interval = shared.tracker.take_interval();
        let quantile =
            |q: f64| (!interval.is_empty()).then(|| interval.value_at_quantile(q) as f64 / 1000.0);

        let mut cpu_percent = Vec::with_capacity(watches.len());
        for (k, w) in watches.iter().enumerate() {
            let now_cpu = w.last.map(|s| s.cpu_seconds);
            let before = self.cpu.get(k).copied().flatten();
            cpu_percent.push(match (before, now_cpu) {
                (Some(a), Some(b)) => Some((b - a).max(0.0) / secs * 100.0),
                _ => None,
            });
            if let Some(slot) = self.cpu.get_mut(k) {
                *slot = now_cpu;
            }
        }
        let servers = watches.len().saturating_sub(1);
        let server_rss_kib = if servers == 0 {
            None
        } else {
            watches[..servers]
                .iter()
                .map(|w| w.last.map(|s| s.rss_kib))
                .sum()
        };
        let server_cpu_percent = if servers == 0 {
            None
        } else {
            cpu_percent[..servers].iter().copied().sum()
        };

        let tick = Tick {
            t: now.duration_since(self.started).as_secs_f64(),
            phase: shared.phase.borrow().name().to_owned(),
            synced: Stats::get(&shared.stats.synced),
            edits_per_s: rate(totals.edits, self.totals.edits),
            deliveries_per_s: rate(totals.delivered, self.totals.delivered),
            cursor_updates_per_s: rate(totals.cursor_updates, self.totals.cursor_updates),
            cursor_deliveries_per_s: rate(totals.cursor_delivered, self.totals.cursor_delivered),
            p50_ms: quantile(0.5),
            p99_ms: quantile(0.99),
            server_rss_kib,
            server_cpu_percent,
            harness_cpu_percent: cpu_percent.last().copied().flatten(),
        };
        self.last = now;
        self.totals = totals;
        tick
    }
}
