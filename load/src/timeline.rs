//! Throughput over time: one [`Tick`] per second while a scenario runs, so a report shows
//! how rates, latency and server load moved during the run and not only their totals (a
//! stall, a slow start or a backlog that grows are invisible in the end figures).
//!
//! The status line ([`crate::progress`]) ticks every second anyway and reads the server
//! processes then; it hands each reading to a [`crate::sampler::Sampler`], which turns
//! running totals into per-second rates and stores the tick in the run's [`Timeline`].

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

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
