//! The side-by-side table: per scenario, each figure for every system, the ratios us/peer
//! (us/hocuspocus, us/floor, us/write-floor), and whether our figure meets the issue's
//! target for it.
//!
//! Targets (issue 5): edit-storm p99 at most 1/5 of Hocuspocus's and at most 2x the
//! floor's; fan-out p99 under 10 ms; idle at most 8 KiB of RSS per connection; join-storm
//! time to synced p50 under 1 s with peak RSS (both servers together) under 1 GiB.
//! Issue 23: server CPU per delivery within 3x the write-floor's (edit-storm), at most
//! 2 µs per update per observer (fan-out).
//!
//! Every scenario shows the harness's own CPU seconds beside the servers': the harness shares
//! the machine's cores with them, so a reader sees which side was the bottleneck.
//!
//! A figure from a run that was not clean (missing deliveries, errors, ...) is marked with
//! [`UNCLEAN`], and so are the ratios and verdicts drawn from it.

/// Marks a figure from a run that was not clean.
pub const UNCLEAN: &str = "*";

use super::figures::Figures;
use super::runs::{Outcome, Run};
use super::systems::System;

/// One compared figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Figure {
    P50,
    P99,
    DeliveriesPerSecond,
    CpuSeconds,
    CpuPerDelivery,
    HarnessCpuSeconds,
    PeakRss,
    RssPerConnection,
    Problems,
}

impl Figure {
    fn value(self, f: &Figures) -> Option<f64> {
        let (_, latency) = f.headline();
        let measured = latency.count > 0;
        match self {
            Figure::P50 => measured.then_some(latency.p50),
            Figure::P99 => measured.then_some(latency.p99),
            Figure::DeliveriesPerSecond => Some(f.deliveries_per_second),
            Figure::CpuSeconds => f.server_cpu_seconds(),
            Figure::CpuPerDelivery => f.server_us_per_delivery(),
            Figure::HarnessCpuSeconds => f.harness_cpu_seconds(),
            Figure::PeakRss => f.server_peak_rss_mib(),
            Figure::RssPerConnection => f.rss_per_connection_bytes(),
            Figure::Problems => None,
        }
    }

    fn label(self, headline: &str) -> String {
        match self {
            Figure::P50 => format!("{headline} p50 ms"),
            Figure::P99 => format!("{headline} p99 ms"),
            Figure::DeliveriesPerSecond => "deliveries/s".to_owned(),
            Figure::CpuSeconds => "server CPU s (both)".to_owned(),
            Figure::CpuPerDelivery => "server CPU µs per delivery".to_owned(),
            Figure::HarnessCpuSeconds => "harness CPU s".to_owned(),
            Figure::PeakRss => "server peak RSS MiB (both)".to_owned(),
            Figure::RssPerConnection => "RSS per connection B".to_owned(),
            Figure::Problems => "problems".to_owned(),
        }
    }
}

/// A table ready to print as text, Markdown or HTML.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// The systems that get a ratio column us/peer: every other one, when `us` is measured.
pub fn peers(systems: &[System]) -> Vec<System> {
    if systems.contains(&System::Us) {
        systems
            .iter()
            .copied()
            .filter(|s| *s != System::Us)
            .collect()
    } else {
        Vec::new()
    }
}

/// The side-by-side table of `runs` for `systems` (in column order) and `scenarios`.
pub fn build(runs: &[Run], systems: &[System], scenarios: &[String]) -> Table {
    let peers = peers(systems);
    let mut header = vec!["scenario".to_owned(), "figure".to_owned()];
    header.extend(systems.iter().map(|s| s.name().to_owned()));
    header.extend(peers.iter().map(|p| format!("us/{p}")));
    header.push("target (us)".to_owned());

    let mut rows = Vec::new();
    for scenario in scenarios {
        let figures = |system: System| {
            runs.iter()
                .find(|r| r.system == system && &r.scenario == scenario)
                .and_then(|r| match &r.outcome {
                    Outcome::Measured { figures, .. } => Some(figures),
                    _ => None,
                })
        };
        let unclean = |system: System| {
            runs.iter().any(|r| {
                r.system == system
                    && &r.scenario == scenario
                    && matches!(r.outcome, Outcome::Measured { clean: false, .. })
            })
        };
        let mark = |dirty: bool| if dirty { UNCLEAN } else { "" };
        let headline = systems
            .iter()
            .find_map(|s| figures(*s))
            .map_or("latency", |f| f.headline().0);
        let mut list = vec![Figure::P50, Figure::P99];
        let any = |fig: Figure| {
            systems
                .iter()
                .filter_map(|s| figures(*s))
                .any(|f| fig.value(f).is_some_and(|v| v > 0.0))
        };
        if any(Figure::DeliveriesPerSecond) {
            list.push(Figure::DeliveriesPerSecond);
        }
        list.push(Figure::CpuSeconds);
        if any(Figure::DeliveriesPerSecond) {
            list.push(Figure::CpuPerDelivery);
        }
        list.extend([Figure::HarnessCpuSeconds, Figure::PeakRss]);
        if any(Figure::RssPerConnection) {
            list.push(Figure::RssPerConnection);
        }
        list.push(Figure::Problems);

        for fig in list {
            let mut row = vec![scenario.clone(), fig.label(headline)];
            for system in systems {
                let run = runs
                    .iter()
                    .find(|r| r.system == *system && &r.scenario == scenario);
                row.push(cell(fig, run.map(|r| &r.outcome)));
            }
            let ours = figures(System::Us).and_then(|f| fig.value(f));
            for peer in &peers {
                let theirs = figures(*peer).and_then(|f| fig.value(f));
                row.push(match (ours, theirs) {
                    (Some(a), Some(b)) if b > 0.0 => format!(
                        "{:.2}x{}",
                        a / b,
                        mark(unclean(System::Us) || unclean(*peer))
                    ),
                    _ => String::new(),
                });
            }
            let value_of = |s: System| figures(s).and_then(|f| fig.value(f));
            let verdict = target(scenario, fig, &value_of);
            let dirty = unclean(System::Us)
                || (scenario == "edit-storm"
                    && (unclean(System::Hocuspocus)
                        || unclean(System::Floor)
                        || unclean(System::WriteFloor)));
            row.push(if verdict.is_empty() {
                verdict
            } else {
                verdict + mark(dirty)
            });
            rows.push(row);
        }
    }
    Table { header, rows }
}

fn cell(fig: Figure, outcome: Option<&Outcome>) -> String {
    match outcome {
        None => "-".to_owned(),
        Some(Outcome::Skipped(_)) => "skipped".to_owned(),
        Some(Outcome::Failed(_)) => "failed".to_owned(),
        Some(Outcome::NotApplicable(_)) => "n/a".to_owned(),
        Some(Outcome::Measured { figures, clean }) => {
            if fig == Figure::Problems {
                let p = figures.problems();
                if p.is_empty() {
                    "none".to_owned()
                } else {
                    p.join(", ")
                }
            } else {
                let mark = if *clean { "" } else { UNCLEAN };
                fig.value(figures)
                    .map_or("?".to_owned(), |v| number(v) + mark)
            }
        }
    }
}

/// A figure with as many decimals as its size deserves.
pub fn number(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Whether our figure meets the target for this row ("" when there is none).
fn target(scenario: &str, fig: Figure, value: &dyn Fn(System) -> Option<f64>) -> String {
    let us = value(System::Us);
    let verdict = |ok: Option<bool>| match ok {
        Some(true) => "met",
        Some(false) => "MISSED",
        None => "no figure",
    };
    let check = |what: &str, ok: Option<bool>| format!("{what}: {}", verdict(ok));
    match (scenario, fig) {
        ("edit-storm", Figure::P99) => {
            let peer = value(System::Hocuspocus);
            let floor = value(System::Floor);
            let vs_peer = us.zip(peer).map(|(a, b)| a <= b / 5.0);
            let vs_floor = us.zip(floor).map(|(a, b)| a <= 2.0 * b);
            format!(
                "{}; {}",
                check("<= 1/5 of hocuspocus", vs_peer),
                check("<= 2x floor", vs_floor)
            )
        }
        ("edit-storm", Figure::CpuPerDelivery) => {
            let floor = value(System::WriteFloor);
            check(
                "<= 3x write-floor",
                us.zip(floor).map(|(a, b)| a <= 3.0 * b),
            )
        }
        ("fan-out", Figure::P99) => check("< 10 ms", us.map(|v| v < 10.0)),
        ("fan-out", Figure::CpuPerDelivery) => check("<= 2 µs", us.map(|v| v <= 2.0)),
        ("idle", Figure::RssPerConnection) => check("<= 8 KiB", us.map(|v| v <= 8192.0)),
        ("join-storm", Figure::P50) => check("< 1 s", us.map(|v| v < 1000.0)),
        ("join-storm", Figure::PeakRss) => check("< 1 GiB", us.map(|v| v < 1024.0)),
        _ => String::new(),
    }
}

/// The table as aligned plain text.
pub fn text(t: &Table) -> String {
    let columns = t.header.len();
    let mut widths: Vec<usize> = t.header.iter().map(|h| h.chars().count()).collect();
    for row in &t.rows {
        for (k, c) in row.iter().enumerate().take(columns) {
            widths[k] = widths[k].max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(k, c)| format!("{c:<w$}", w = widths.get(k).copied().unwrap_or(0)))
            .collect();
        parts.join("  ").trim_end().to_owned() + "\n"
    };
    let mut s = line(&t.header);
    for row in &t.rows {
        s.push_str(&line(row));
    }
    s
}

/// The table in Markdown (pipes and asterisks in cells escaped).
pub fn markdown(t: &Table) -> String {
    let line = |cells: &[String]| {
        let parts: Vec<String> = cells
            .iter()
            .map(|c| c.replace('|', "\\|").replace('*', "\\*"))
            .collect();
        format!("| {} |\n", parts.join(" | "))
    };
    let mut s = line(&t.header);
    s.push_str(&format!("|{}\n", "---|".repeat(t.header.len())));
    for row in &t.rows {
        s.push_str(&line(row));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Percentiles;
    use std::path::PathBuf;

    fn run(system: System, scenario: &str, p99: f64, rss_per_conn: Option<f64>) -> Run {
        let mut figures = Figures {
            scenario: scenario.to_owned(),
            editors: 2,
            synced: 2,
            deliveries_per_second: 100.0,
            propagation_ms: Percentiles {
                count: 10,
                p50: p99 / 2.0,
                p99,
                ..Percentiles::default()
            },
            ..Figures::default()
        };
        figures.idle = rss_per_conn.map(|b| super::super::figures::IdleFigures {
            rss_per_connection_bytes: Some(b),
        });
        Run {
            system,
            scenario: scenario.to_owned(),
            outcome: Outcome::Measured {
                figures: Box::new(figures),
                clean: true,
            },
            commands: Vec::new(),
            json: PathBuf::new(),
            html: PathBuf::new(),
        }
    }

    /// `run` with its servers' CPU seconds over `deliveries`.
    fn with_cpu(mut run: Run, cpu_seconds: f64, deliveries: u64) -> Run {
        if let Outcome::Measured { figures, .. } = &mut run.outcome {
            figures.deliveries = deliveries;
            figures.servers = vec![super::super::figures::ServerFigures {
                cpu_seconds: Some(cpu_seconds),
                peak_rss_kib: None,
            }];
        }
        run
    }

    #[test]
    fn ratios_and_targets() {
        let runs = vec![
            with_cpu(run(System::Us, "edit-storm", 2.0, None), 0.3, 10_000),
            run(System::Hocuspocus, "edit-storm", 20.0, None),
            run(System::Floor, "edit-storm", 0.5, None),
            with_cpu(
                run(System::WriteFloor, "edit-storm", 0.25, None),
                0.08,
                10_000,
            ),
            run(System::Us, "idle", 1.0, Some(6000.0)),
            Run {
                outcome: Outcome::Skipped("node missing".to_owned()),
                ..run(System::Hocuspocus, "idle", 0.0, None)
            },
        ];
        let t = build(
            &runs,
            &System::ALL,
            &["edit-storm".to_owned(), "idle".to_owned()],
        );
        assert_eq!(
            t.header,
            [
                "scenario",
                "figure",
                "us",
                "hocuspocus",
                "floor",
                "write-floor",
                "us/hocuspocus",
                "us/floor",
                "us/write-floor",
                "target (us)"
            ]
        );
        let row = |scenario: &str, figure: &str| {
            t.rows
                .iter()
                .find(|r| r[0] == scenario && r[1] == figure)
                .cloned()
                .unwrap_or_default()
        };
        let p99 = row("edit-storm", "propagation p99 ms");
        assert_eq!(
            p99[2..9],
            ["2.00", "20.0", "0.50", "0.25", "0.10x", "4.00x", "8.00x"]
        );
        assert_eq!(p99[9], "<= 1/5 of hocuspocus: met; <= 2x floor: MISSED");
        // 0.3 s over 10,000 deliveries against 0.08 s: 30 against 8 µs.
        let cpu = row("edit-storm", "server CPU µs per delivery");
        assert_eq!(cpu[2..9], ["30.0", "?", "?", "8.00", "", "", "3.75x"]);
        assert_eq!(cpu[9], "<= 3x write-floor: MISSED");
        let rss = row("idle", "RSS per connection B");
        assert_eq!(rss[2..6], ["6000", "skipped", "-", "-"]);
        assert_eq!(rss[9], "<= 8 KiB: met");
        let problems = t.rows.iter().filter(|r| r[1] == "problems").count();
        assert_eq!(problems, 2);
        assert!(markdown(&t).starts_with("| scenario | figure | us |"));
        assert!(text(&t).lines().count() == t.rows.len() + 1);
    }

    #[test]
    fn unclean_runs_mark_their_figures_ratios_and_verdicts() {
        let mut peer = run(System::Hocuspocus, "edit-storm", 20.0, None);
        if let Outcome::Measured { figures, clean } = &mut peer.outcome {
            figures.errors = 3;
            *clean = false;
        }
        let runs = vec![
            run(System::Us, "edit-storm", 2.0, None),
            peer,
            Run {
                outcome: Outcome::NotApplicable("no document".to_owned()),
                ..run(System::Floor, "edit-storm", 0.0, None)
            },
        ];
        let t = build(&runs, &System::ALL, &["edit-storm".to_owned()]);
        let p99 = t
            .rows
            .iter()
            .find(|r| r[1] == "propagation p99 ms")
            .cloned()
            .unwrap_or_default();
        assert_eq!(p99[2..9], ["2.00", "20.0*", "n/a", "-", "0.10x*", "", ""]);
        assert_eq!(p99[9], "<= 1/5 of hocuspocus: met; <= 2x floor: no figure*");
        let problems = t.rows.iter().find(|r| r[1] == "problems").cloned();
        assert_eq!(
            problems.unwrap_or_default()[2..6],
            ["none", "3 errors", "n/a", "-"]
        );
    }

    #[test]
    fn without_us_there_are_no_ratios() {
        let runs = vec![run(System::Floor, "fan-out", 3.0, None)];
        let t = build(&runs, &[System::Floor], &["fan-out".to_owned()]);
        assert_eq!(t.header, ["scenario", "figure", "floor", "target (us)"]);
        let p99 = &t.rows[1];
        assert_eq!(p99[3], "< 10 ms: no figure");
    }
}
