//! What the comparison reads back from a run's JSON report: only the figures it compares,
//! every one optional, so scenarios that add fields of their own need nothing here.

use serde::Deserialize;

use crate::report::Percentiles;
use crate::timeline::Tick;

/// The compared figures of one scenario run on one system.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Figures {
    pub scenario: String,
    pub editors: u64,
    pub synced: u64,
    pub connect_failures: u64,
    pub edits: u64,
    pub edits_per_second: f64,
    pub expected_deliveries: u64,
    pub deliveries: u64,
    pub deliveries_per_second: f64,
    pub missing_deliveries: u64,
    pub cursor_deliveries: u64,
    pub cursor_missing_deliveries: u64,
    pub errors: u64,
    pub disconnects: u64,
    pub diverged_files: u64,
    pub propagation_ms: Percentiles,
    pub cursor_propagation_ms: Percentiles,
    pub sync_ms: Percentiles,
    pub servers: Vec<ServerFigures>,
    /// The harness itself: beside the servers' CPU, it shows who was the bottleneck.
    pub harness: Option<ServerFigures>,
    pub timeline: Vec<Tick>,
    pub idle: Option<IdleFigures>,
}

/// CPU and memory of one `--pid` server over the run.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ServerFigures {
    pub cpu_seconds: Option<f64>,
    pub peak_rss_kib: Option<u64>,
}

/// The `idle` scenario's memory per connection.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct IdleFigures {
    pub rss_per_connection_bytes: Option<f64>,
}

impl Figures {
    /// The latency a scenario is about, with its name: time to synced for `join-storm`
    /// (and runs without deliveries, like `idle`), cursor propagation for `awareness`,
    /// edit propagation otherwise.
    pub fn headline(&self) -> (&'static str, &Percentiles) {
        match self.scenario.as_str() {
            "join-storm" => ("sync", &self.sync_ms),
            "awareness" => ("cursor", &self.cursor_propagation_ms),
            _ if self.propagation_ms.count > 0 => ("propagation", &self.propagation_ms),
            _ if self.cursor_propagation_ms.count > 0 => ("cursor", &self.cursor_propagation_ms),
            _ => ("sync", &self.sync_ms),
        }
    }

    /// CPU seconds of all servers together; `None` unless every server was measured.
    pub fn server_cpu_seconds(&self) -> Option<f64> {
        if self.servers.is_empty() {
            return None;
        }
        self.servers.iter().map(|s| s.cpu_seconds).sum()
    }

    /// CPU seconds of the harness process during the run.
    pub fn harness_cpu_seconds(&self) -> Option<f64> {
        self.harness.as_ref()?.cpu_seconds
    }

    /// Server CPU per delivery over the seconds of the edit phase (the timeline's ticks), µs;
    /// over the whole run when the timeline has no edit-phase tick with CPU.
    pub fn server_us_per_delivery(&self) -> Option<f64> {
        let edit: Vec<_> = self
            .timeline
            .iter()
            .filter(|t| t.phase == "edit" && t.server_cpu_percent.is_some())
            .collect();
        let deliveries: f64 = edit.iter().map(|t| t.deliveries_per_s).sum();
        if deliveries > 0.0 {
            let cpu_percent: f64 = edit.iter().filter_map(|t| t.server_cpu_percent).sum();
            // percent of a core for a second = 10,000 µs
            return Some(cpu_percent * 1e4 / deliveries);
        }
        let cpu = self.server_cpu_seconds()?;
        (self.deliveries > 0).then(|| cpu * 1e6 / self.deliveries as f64)
    }

    /// Peak RSS of all servers together, MiB.
    pub fn server_peak_rss_mib(&self) -> Option<f64> {
        if self.servers.is_empty() {
            return None;
        }
        let kib: Option<u64> = self.servers.iter().map(|s| s.peak_rss_kib).sum();
        kib.map(|k| k as f64 / 1024.0)
    }

    pub fn rss_per_connection_bytes(&self) -> Option<f64> {
        self.idle.as_ref()?.rss_per_connection_bytes
    }

    /// What went wrong in the run, if anything (empty when clean).
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        let mut count = |n: u64, what: &str| {
            if n > 0 {
                p.push(format!("{n} {what}"));
            }
        };
        count(self.editors.saturating_sub(self.synced), "not synced");
        count(self.connect_failures, "connect failures");
        count(self.missing_deliveries, "missing deliveries");
        count(self.cursor_missing_deliveries, "missing cursor deliveries");
        count(self.errors, "errors");
        count(self.disconnects, "disconnects");
        count(self.diverged_files, "diverged files");
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_report_with_unknown_and_missing_fields() {
        let json = serde_json::json!({
            "scenario": "join-storm",
            "editors": 3, "synced": 2,
            "sync_ms": { "count": 2, "min": 1.0, "mean": 2.0, "p50": 2.0, "p90": 3.0,
                         "p99": 3.0, "p999": 3.0, "max": 3.0 },
            "servers": [ { "pid": 1, "cpu_seconds": 1.5, "peak_rss_kib": 2048 },
                         { "pid": 2, "cpu_seconds": 0.5, "peak_rss_kib": 1024 } ],
            "harness": { "pid": 3, "cpu_seconds": 0.25 },
            "seed_seconds": 4.0
        });
        let f: Figures = serde_json::from_value(json).unwrap_or_default();
        assert_eq!(f.headline().0, "sync");
        assert_eq!(f.headline().1.p50, 2.0);
        assert_eq!(f.server_cpu_seconds(), Some(2.0));
        assert_eq!(f.server_peak_rss_mib(), Some(3.0));
        assert_eq!(f.harness_cpu_seconds(), Some(0.25));
        assert_eq!(f.problems(), ["1 not synced"]);
        assert!(f.rss_per_connection_bytes().is_none());
    }
}
