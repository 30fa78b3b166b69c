//! The figures of one run: a serializable [`Report`], printed as a table, written as JSON,
//! or drawn as a self-contained HTML page ([`html`], with hand-written SVG charts from
//! [`svg`]).

pub mod html;
pub mod percentiles;
pub mod sections;
pub mod svg;

pub use percentiles::Percentiles;

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;

use self::sections::{IdleReport, JoinStormReport};
use crate::procstat::ProcReport;
use crate::shared::Shared;
use crate::stats::Stats;

/// Diagnostic lines kept per kind.
const SAMPLES: usize = 10;

/// Everything a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: String,
    pub framing: String,
    pub targets: Vec<String>,
    /// Start of the run, Unix milliseconds.
    pub started_unix_ms: u64,
    /// The scenario's sizes as given.
    pub settings: serde_json::Value,
    pub editors: u64,
    pub files: u64,
    pub connected: u64,
    pub synced: u64,
    pub connect_failures: u64,
    /// WebSocket handshake times.
    pub connect_ms: Percentiles,
    /// From the open socket to the gateway's sync step 2.
    pub sync_ms: Percentiles,
    /// Length of the edit phase.
    pub edit_seconds: f64,
    /// Time spent after the edit phase waiting for outstanding deliveries.
    pub drain_seconds: f64,
    pub edits: u64,
    /// Sum over edits of the editors of the file (other than the sender) connected at send.
    pub expected_deliveries: u64,
    pub deliveries: u64,
    pub missing_deliveries: u64,
    /// Deliveries of deletions the receiver already had through another editor's deletion
    /// of the same character (a gateway may drop the second as a no-op); counted in
    /// `deliveries`, not in `propagation_ms`.
    pub superseded_deliveries: u64,
    pub edits_per_second: f64,
    pub deliveries_per_second: f64,
    /// From an edit's send to its arrival at another editor of the file, per delivery.
    pub propagation_ms: Percentiles,
    /// Deliveries between editors connected to the same target.
    pub propagation_same_target_ms: Percentiles,
    /// Deliveries between editors connected to different targets (gateway to gateway).
    pub propagation_cross_target_ms: Percentiles,
    pub cursor_updates: u64,
    pub cursor_expected_deliveries: u64,
    pub cursor_deliveries: u64,
    pub cursor_missing_deliveries: u64,
    /// Cursor states a receiver skipped because a newer state of the same cursor came (a
    /// gateway may replace a queued state for a lagging receiver); counted in
    /// `cursor_deliveries`, not in `cursor_propagation_ms`.
    #[serde(default)]
    pub cursor_superseded_deliveries: u64,
    pub cursor_propagation_ms: Percentiles,
    pub frames_sent: u64,
    pub frames_received: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub errors: u64,
    pub disconnects: u64,
    /// The first error and disconnect messages, verbatim.
    pub error_samples: Vec<String>,
    /// The oldest deliveries still missing at the end: which edit, from whom, to whom.
    pub missing_samples: Vec<String>,
    /// Files whose editors' final documents were compared (state vector and text).
    pub files_checked: u64,
    /// Files whose editors did not end with the same document.
    pub diverged_files: u64,
    pub divergence_samples: Vec<String>,
    pub servers: Vec<ProcReport>,
    /// This process (the harness itself): if its CPU nears the machine's cores, the
    /// latencies measure the harness, not the servers.
    pub harness: Option<ProcReport>,
    /// One tick per second of the run: rates, latency and server load over time.
    pub timeline: Vec<crate::timeline::Tick>,
    /// The `idle` scenario's RSS per connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle: Option<IdleReport>,
    /// The `join-storm` scenario's seed and time to synced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_storm: Option<JoinStormReport>,
}

/// What a scenario hands over besides the fleet's shared state.
pub struct RunInfo {
    pub scenario: String,
    pub targets: Vec<String>,
    pub started_unix_ms: u64,
    pub settings: serde_json::Value,
    pub editors: u64,
    pub files: u64,
    pub edit_seconds: f64,
    pub drain_seconds: f64,
    pub servers: Vec<ProcReport>,
    pub harness: Option<ProcReport>,
}

impl Report {
    pub fn new(info: RunInfo, shared: &Shared) -> Report {
        let s = &shared.stats;
        let summary = shared.tracker.summary();
        let times = s.times();
        let (files_checked, diverged_files, divergence_samples) =
            shared.tracker.divergence(SAMPLES);
        let busy = (info.edit_seconds + info.drain_seconds).max(1e-9);
        Report {
            scenario: info.scenario,
            framing: shared.framing.name().to_owned(),
            targets: info.targets,
            started_unix_ms: info.started_unix_ms,
            settings: info.settings,
            editors: info.editors,
            files: info.files,
            connected: Stats::get(&s.connected),
            synced: Stats::get(&s.synced),
            connect_failures: Stats::get(&s.connect_failures),
            connect_ms: Percentiles::from_micros(&times.connect_us),
            sync_ms: Percentiles::from_micros(&times.sync_us),
            edit_seconds: info.edit_seconds,
            drain_seconds: info.drain_seconds,
            edits: summary.edits,
            expected_deliveries: summary.expected,
            deliveries: summary.delivered,
            missing_deliveries: summary.missing(),
            superseded_deliveries: summary.superseded,
            edits_per_second: summary.edits as f64 / info.edit_seconds.max(1e-9),
            deliveries_per_second: summary.delivered as f64 / busy,
            propagation_ms: Percentiles::from_micros(&summary.edit_latency_us),
            propagation_same_target_ms: Percentiles::from_micros(&summary.same_target_us),
            propagation_cross_target_ms: Percentiles::from_micros(&summary.cross_target_us),
            cursor_updates: summary.cursor_updates,
            cursor_expected_deliveries: summary.cursor_expected,
            cursor_deliveries: summary.cursor_delivered,
            cursor_missing_deliveries: summary.cursor_missing(),
            cursor_superseded_deliveries: summary.cursor_superseded,
            cursor_propagation_ms: Percentiles::from_micros(&summary.cursor_latency_us),
            frames_sent: Stats::get(&s.frames_sent),
            frames_received: Stats::get(&s.frames_received),
            bytes_sent: Stats::get(&s.bytes_sent),
            bytes_received: Stats::get(&s.bytes_received),
            errors: Stats::get(&s.errors),
            disconnects: Stats::get(&s.disconnects),
            error_samples: s.samples(),
            missing_samples: shared.tracker.missing_samples(SAMPLES, Instant::now()),
            files_checked,
            diverged_files,
            divergence_samples,
            servers: info.servers,
            harness: info.harness,
            timeline: shared.timeline.ticks(),
            idle: None,
            join_storm: None,
        }
    }

    /// Whether every editor synced, every delivery arrived, and nothing went wrong.
    pub fn is_clean(&self) -> bool {
        self.synced == self.editors
            && self.connect_failures == 0
            && self.missing_deliveries == 0
            && self.cursor_missing_deliveries == 0
            && self.errors == 0
            && self.disconnects == 0
            && self.diverged_files == 0
    }

    /// Writes the report as pretty JSON to `path`.
    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        let json = serde_json::to_string_pretty(self)?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// The human table.
    pub fn table(&self) -> String {
        let mut t = String::new();
        for (k, v) in self.rows() {
            let _ = writeln!(t, "  {k:<28} {v}");
        }
        t
    }

    /// The figures as (name, value) rows, for the table and the HTML page.
    pub fn rows(&self) -> Vec<(String, String)> {
        let mut t = Vec::new();
        let mut row = |k: &str, v: String| t.push((k.to_owned(), v));
        row("scenario", format!("{} ({})", self.scenario, self.framing));
        row("targets", self.targets.join(", "));
        row("settings", self.settings.to_string());
        row(
            "editors / files",
            format!("{} / {}", self.editors, self.files),
        );
        row(
            "connected / synced / failed",
            format!(
                "{} / {} / {}",
                self.connected, self.synced, self.connect_failures
            ),
        );
        row("connect ms", dist(&self.connect_ms));
        row("sync ms", dist(&self.sync_ms));
        row(
            "edit phase / drain",
            format!("{:.1} s / {:.1} s", self.edit_seconds, self.drain_seconds),
        );
        row(
            "edits",
            format!("{} ({:.0}/s)", self.edits, self.edits_per_second),
        );
        row(
            "deliveries / expected",
            format!(
                "{} / {} ({:.0}/s), missing {}, superseded {}",
                self.deliveries,
                self.expected_deliveries,
                self.deliveries_per_second,
                self.missing_deliveries,
                self.superseded_deliveries
            ),
        );
        row("propagation ms", dist(&self.propagation_ms));
        row("  same target", dist(&self.propagation_same_target_ms));
        row("  cross target", dist(&self.propagation_cross_target_ms));
        if self.cursor_updates > 0 {
            row(
                "cursor updates / deliveries",
                format!(
                    "{} / {} of {}, missing {}, superseded {}",
                    self.cursor_updates,
                    self.cursor_deliveries,
                    self.cursor_expected_deliveries,
                    self.cursor_missing_deliveries,
                    self.cursor_superseded_deliveries
                ),
            );
            row("cursor propagation ms", dist(&self.cursor_propagation_ms));
        }
        row(
            "frames sent / received",
            format!(
                "{} / {} ({} / {} bytes)",
                self.frames_sent, self.frames_received, self.bytes_sent, self.bytes_received
            ),
        );
        row(
            "converged files",
            format!(
                "{} of {} checked",
                self.files_checked - self.diverged_files,
                self.files_checked
            ),
        );
        row(
            "errors / disconnects",
            format!("{} / {}", self.errors, self.disconnects),
        );
        let procs = self
            .servers
            .iter()
            .map(|p| (format!("server pid {}", p.pid), p))
            .chain(self.harness.iter().map(|p| ("harness".to_owned(), p)));
        for (name, p) in procs {
            let mib = |kib: Option<u64>| {
                kib.map_or("?".to_owned(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
            };
            row(
                &name,
                format!(
                    "cpu {} s, peak rss {}{}, rss {}{}",
                    p.cpu_seconds.map_or("?".to_owned(), |c| format!("{c:.2}")),
                    mib(p.peak_rss_kib),
                    if p.peak_reset { "" } else { " (since start)" },
                    mib(p.rss_kib),
                    p.error
                        .as_ref()
                        .map_or(String::new(), |e| format!(" [{e}]")),
                ),
            );
        }
        if let Some(idle) = &self.idle {
            let bytes = |b: Option<f64>| b.map_or("?".to_owned(), |b| format!("{b:.0} B"));
            row(
                "idle connections",
                format!(
                    "{} of {} requested{}",
                    idle.connections,
                    idle.requested_connections,
                    idle.clamped_to_fd_limit.map_or(String::new(), |l| format!(
                        " (clamped: open-file limit {l})"
                    ))
                ),
            );
            for s in &idle.servers {
                row(
                    &format!("rss/conn pid {}", s.pid),
                    format!(
                        "{} over {} connections ({} -> {} KiB)",
                        bytes(s.rss_per_connection_bytes),
                        s.connections,
                        s.rss_before_kib.map_or("?".to_owned(), |k| k.to_string()),
                        s.rss_after_kib.map_or("?".to_owned(), |k| k.to_string()),
                    ),
                );
            }
            row("rss/conn all servers", bytes(idle.rss_per_connection_bytes));
            row(
                "rss/conn harness",
                bytes(idle.harness_rss_per_connection_bytes),
            );
        }
        if let Some(j) = &self.join_storm {
            row(
                "seeded document",
                format!(
                    "{} units in {} updates, {:.1} s; storm after {:.1} s idle",
                    j.doc_len, j.seed_updates, j.seed_seconds, j.settle_seconds
                ),
            );
            row(
                "joiners synced, full doc",
                format!(
                    "{} of {} in {:.2} s",
                    j.synced_full_doc, j.joiners, j.storm_seconds
                ),
            );
            row("time to synced ms", dist(&j.sync_ms));
            row(
                "servers peak rss (sum)",
                j.servers_peak_rss_kib
                    .map_or("-".to_owned(), |k| format!("{:.1} MiB", k as f64 / 1024.0)),
            );
        }
        for e in &self.error_samples {
            row("error", e.clone());
        }
        for m in &self.missing_samples {
            row("missing", m.clone());
        }
        for d in &self.divergence_samples {
            row("diverged", d.clone());
        }
        t
    }
}

fn dist(p: &Percentiles) -> String {
    if p.count == 0 {
        return "-".to_owned();
    }
    format!(
        "p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}  (n={})",
        p.p50, p.p90, p.p99, p.p999, p.max, p.count
    )
}

/// `unix_ms` as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc_string(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (days are grouped in 400-year
/// eras of 146,097 days, years starting in March so the leap day comes last).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::Fleet;
    use crate::framing::Framing;
    use crate::timeline::Tick;

    #[test]
    fn utc_dates() {
        assert_eq!(utc_string(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_string(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(
            utc_string(1_795_478_400_000 + 3_723_000),
            "2026-11-24 01:02:03 UTC"
        );
    }

    /// A report with a propagation distribution, a timeline, and markup in its names.
    fn sample_report() -> Report {
        let fleet = Fleet::new(1, Framing::YWebsocket, 1);
        let mut r = Report::new(
            RunInfo {
                scenario: "edit-storm <b>&".to_owned(),
                targets: vec!["ws://127.0.0.1:1/doc?<x>".to_owned()],
                started_unix_ms: 0,
                settings: serde_json::json!({ "editors": 4 }),
                editors: 4,
                files: 1,
                edit_seconds: 2.0,
                drain_seconds: 0.1,
                servers: Vec::new(),
                harness: None,
            },
            fleet.shared(),
        );
        let mut h = crate::tracker::new_histogram();
        for us in [800, 1200, 1500, 9000] {
            h.saturating_record(us);
        }
        r.propagation_ms = Percentiles::from_micros(&h);
        r.propagation_same_target_ms = Percentiles::from_micros(&h);
        r.timeline = (1..=3)
            .map(|t| Tick {
                t: f64::from(t),
                phase: "edit".to_owned(),
                synced: 4,
                edits_per_s: 20.0,
                deliveries_per_s: 60.0,
                cursor_updates_per_s: 0.0,
                cursor_deliveries_per_s: 0.0,
                p50_ms: Some(1.2),
                p99_ms: Some(9.0),
                server_rss_kib: Some(10_240),
                server_cpu_percent: Some(5.0),
                harness_cpu_percent: Some(20.0),
            })
            .collect();
        r
    }

    #[test]
    fn html_page_holds_table_charts_and_escaped_names() {
        let page = html::single(&sample_report());
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("edit-storm &lt;b&gt;&amp;"));
        assert!(!page.contains("<b>&"), "names are escaped");
        assert!(page.contains("ws://127.0.0.1:1/doc?&lt;x&gt;"));
        assert!(page.contains("<td>propagation ms</td>"));
        assert!(page.contains("Edit propagation by target"));
        assert!(page.contains("same target (n=4)"));
        assert!(page.contains("Deliveries per second"));
        assert!(page.contains("Edit propagation per second"));
        assert!(page.matches("<svg").count() >= 5);
        assert!(!page.contains("<script") && !page.contains("src="));
    }

    #[test]
    fn timeline_and_spectrum_are_in_the_json() {
        let json = serde_json::to_value(sample_report()).unwrap_or_default();
        assert_eq!(json["timeline"].as_array().map(Vec::len), Some(3));
        assert_eq!(json["timeline"][0]["deliveries_per_s"], 60.0);
        let spectrum = json["propagation_ms"]["spectrum"].as_array().cloned();
        assert_eq!(
            spectrum.as_ref().map(Vec::len),
            Some(percentiles::SPECTRUM.len())
        );
        let back: Percentiles = serde_json::from_value(json["propagation_ms"].clone())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.count, 4);
    }
}
