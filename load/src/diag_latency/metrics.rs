//! The gateways' diagnostics metrics around a `diag-latency` run: `/metrics` read from
//! every gateway before and after the probes, and the difference as parses per probe, mean
//! parse time (sum / count of `collab_diagnostics_parse_seconds`, the parse's wall time on
//! a pool thread) and cache outcomes.

use serde::Serialize;

use crate::scrape;
use crate::target::Target;

/// Deltas of the gateways' diagnostics metrics over the probes (all gateways summed).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ParseFigures {
    pub parses: f64,
    pub parses_timed_out: f64,
    pub parses_too_big: f64,
    pub parse_seconds_sum: f64,
    pub parse_seconds_count: f64,
    pub parses_per_probe: f64,
    /// Mean of `collab_diagnostics_parse_seconds` over the probes (wall time of a parse
    /// on a pool thread), ms.
    pub mean_parse_ms: f64,
    pub cache_hit: f64,
    pub cache_claimed: f64,
    pub cache_elsewhere: f64,
    pub cache_error: f64,
}

/// The `/metrics` text of every gateway at one moment.
pub struct Snapshot(Vec<String>);

/// Reads every gateway's `/metrics`.
pub async fn snapshot(targets: &[&Target]) -> anyhow::Result<Snapshot> {
    let mut bodies = Vec::new();
    for t in targets {
        bodies.push(scrape::metrics(t).await?);
    }
    Ok(Snapshot(bodies))
}

impl Snapshot {
    fn sum(&self, name: &str) -> f64 {
        self.0.iter().map(|b| scrape::sum(b, name)).sum()
    }

    fn sum_with(&self, name: &str, label: &str, value: &str) -> f64 {
        self.0
            .iter()
            .map(|b| scrape::sum_with(b, name, label, value))
            .sum()
    }
}

/// What changed between two snapshots, over `probes` probes.
pub fn figures(before: &Snapshot, after: &Snapshot, probes: u64) -> ParseFigures {
    let d = |name: &str| after.sum(name) - before.sum(name);
    let dl = |name: &str, label: &str, value: &str| {
        after.sum_with(name, label, value) - before.sum_with(name, label, value)
    };
    let parses = d("collab_diagnostics_parses_total");
    let sum = d("collab_diagnostics_parse_seconds_sum");
    let count = d("collab_diagnostics_parse_seconds_count");
    let cache = |o: &str| dl("collab_diagnostics_cache_total", "outcome", o);
    ParseFigures {
        parses,
        parses_timed_out: dl("collab_diagnostics_parses_total", "outcome", "timed-out"),
        parses_too_big: dl("collab_diagnostics_parses_total", "outcome", "too-big"),
        parse_seconds_sum: sum,
        parse_seconds_count: count,
        parses_per_probe: parses / probes as f64,
        mean_parse_ms: if count > 0.0 {
            sum / count * 1000.0
        } else {
            0.0
        },
        cache_hit: cache("hit"),
        cache_claimed: cache("claimed"),
        cache_elsewhere: cache("elsewhere"),
        cache_error: cache("error"),
    }
}
