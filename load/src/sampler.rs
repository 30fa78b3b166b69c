//! Turning the run's running totals into one [`Tick`] per second: rates since the last
//! tick, the latency of the deliveries completed in between, server CPU and RSS.
//!
//! Its own module, not part of [`crate::timeline`]: a sampler reads the run's
//! [`Shared`] state, which holds the [`crate::timeline::Timeline`], so with the sampler in
//! `timeline` the two would import each other. `timeline` keeps what a tick is.

use std::time::Instant;

use crate::procstat::Watch;
use crate::shared::Shared;
use crate::stats::Stats;
use crate::timeline::Tick;
use crate::tracker::Counts;

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
