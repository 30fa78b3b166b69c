//! The parts of a [`Report`](super::Report) that only one scenario fills: `idle`'s RSS per
//! connection and `join-storm`'s seed and time to synced.
//!
//! They are part of the report's format, so they live here and not with the scenarios
//! that fill them: the report holds them and every scenario builds a report, so defined in
//! `scenario/idle.rs` and `scenario/join_storm.rs` the report and the scenarios would
//! import each other.

use serde::Serialize;

use super::percentiles::Percentiles;

/// RSS growth of one server process over the idle run.
#[derive(Debug, Clone, Serialize)]
pub struct IdleServer {
    pub pid: u32,
    /// Connections this figure is divided by.
    pub connections: u64,
    pub rss_before_kib: Option<u64>,
    pub rss_after_kib: Option<u64>,
    /// `(rss_after - rss_before) / connections`, in bytes.
    pub rss_per_connection_bytes: Option<f64>,
}

/// What `idle` adds to the report.
#[derive(Debug, Clone, Serialize)]
pub struct IdleReport {
    pub requested_connections: u64,
    /// Connections actually opened (after the open-file clamp).
    pub connections: u64,
    /// Set when `connections` was clamped: the soft open-file limit of this process.
    pub clamped_to_fd_limit: Option<u64>,
    pub settle_seconds: f64,
    pub servers: Vec<IdleServer>,
    /// Sum of every pid's RSS growth over all synced connections, in bytes.
    pub rss_per_connection_bytes: Option<f64>,
    /// The harness's own RSS growth per connection, in bytes.
    pub harness_rss_per_connection_bytes: Option<f64>,
}

/// What `join-storm` adds to the report.
#[derive(Debug, Clone, Serialize)]
pub struct JoinStormReport {
    pub joiners: u64,
    /// Length of the seeded text in UTF-16 units (= bytes: it is ASCII); every joiner
    /// must see exactly this.
    pub doc_len: u64,
    pub seed_updates: u64,
    /// From the seeder's connect to the verifier seeing the whole document.
    pub seed_seconds: f64,
    pub settle_seconds: f64,
    /// Joiners that had the seeded document once synced (its text, or the ids and length
    /// of the decoded update for a light joiner).
    pub synced_full_doc: u64,
    /// From the barrier opening to the last joiner synced (or the connect timeout).
    pub storm_seconds: f64,
    /// The headline, per joiner: from the start of its connect to the gateway's step 2
    /// applied.
    pub sync_ms: Percentiles,
    /// Sum over the `--pid` servers of their peak RSS during the storm, KiB.
    pub servers_peak_rss_kib: Option<u64>,
}
