//! The HTML report: one self-contained page (inline CSS and SVG; no script, font or other
//! resource to fetch) that a person can open from disk. [`single`] draws one run; the
//! comparison builds its page from the same parts ([`page`], [`table`], [`latency_chart`],
//! [`timeline_charts`]).
//!
//! Latency charts plot milliseconds against the percentile on a "nines" scale (50 %, 90 %,
//! 99 %, 99.9 % ... equally spaced), so the tail that decides how an editor feels is as
//! wide as the median.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use super::svg::{Chart, Series, escape};
use super::{Percentiles, Report, utc_string};
use crate::timeline::Tick;

/// Highest number of nines drawn; the maximum sits there too.
const MAX_NINES: f64 = 5.0;

/// Writes the page of one run ([`single`]) to `path`. A function here rather than a method
/// of [`Report`], so that `report/mod.rs` needs nothing from this file, which needs it.
pub fn write(r: &Report, path: &Path) -> anyhow::Result<()> {
    std::fs::write(path, single(r)).with_context(|| format!("cannot write {}", path.display()))
}

/// The page of one run: the figures, the latency distributions, the run over time.
pub fn single(r: &Report) -> String {
    let title = format!("collab-load {} ({})", r.scenario, r.framing);
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>{}</h1><p>Started {} against {}.</p>",
        escape(&title),
        escape(&utc_string(r.started_unix_ms)),
        escape(&r.targets.join(", "))
    );
    body.push_str("<h2>Figures</h2>");
    let rows: Vec<Vec<String>> = r.rows().into_iter().map(|(k, v)| vec![k, v]).collect();
    body.push_str(&table(&["figure".to_owned(), "value".to_owned()], &rows));

    body.push_str("<h2>Latency distribution</h2><div class=\"charts\">");
    let charts = [
        latency_chart(
            "Edit propagation by target",
            &[
                ("all", &r.propagation_ms),
                ("same target", &r.propagation_same_target_ms),
                ("cross target", &r.propagation_cross_target_ms),
            ],
        ),
        latency_chart(
            "Cursor propagation",
            &[("cursor", &r.cursor_propagation_ms)],
        ),
        latency_chart(
            "Connect and sync",
            &[("connect", &r.connect_ms), ("sync", &r.sync_ms)],
        ),
    ];
    for chart in charts.into_iter().flatten() {
        body.push_str(&chart);
    }
    body.push_str("</div>");

    body.push_str("<h2>Over time</h2>");
    body.push_str(&timeline_charts(&[("", &r.timeline)]));
    page(&title, &body)
}

/// A complete HTML document around `body` (already escaped markup).
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>\n",
        escape(title)
    )
}

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em;color:#222;max-width:1400px}\
table{border-collapse:collapse;margin:.5em 0 1.5em}\
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top;font-size:13px}\
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}\
.charts{display:flex;flex-wrap:wrap;gap:12px}.chart{border:1px solid #eee;max-width:100%;height:auto}\
.met{color:#176317;font-weight:bold}.missed{color:#b00;font-weight:bold}\
pre{background:#f6f6f6;padding:8px;overflow-x:auto;font-size:12px}";

/// An HTML table; every cell is escaped. Cells that look like numbers align right.
pub fn table(header: &[String], rows: &[Vec<String>]) -> String {
    let mut s = String::from("<table><thead><tr>");
    for h in header {
        let _ = write!(s, "<th>{}</th>", escape(h));
    }
    s.push_str("</tr></thead><tbody>");
    for row in rows {
        s.push_str("<tr>");
        for cell in row {
            let class = if looks_numeric(cell) {
                " class=\"num\""
            } else {
                ""
            };
            let _ = write!(s, "<td{class}>{}</td>", escape(cell));
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
    s
}

/// A plain number or a ratio like `0.25x`, possibly marked as from an unclean run (`*`).
fn looks_numeric(cell: &str) -> bool {
    let cell = cell.strip_suffix('*').unwrap_or(cell);
    cell.strip_suffix('x')
        .unwrap_or(cell)
        .parse::<f64>()
        .is_ok()
}

/// Position of quantile `q` on the nines scale: 0.9 -> 1, 0.99 -> 2, ...
pub fn nines(q: f64) -> f64 {
    if q >= 1.0 {
        MAX_NINES
    } else {
        (-(1.0 - q).log10()).clamp(0.0, MAX_NINES)
    }
}

/// Latency by percentile of several distributions on one chart; `None` when all are empty.
pub fn latency_chart(title: &str, distributions: &[(&str, &Percentiles)]) -> Option<String> {
    let series: Vec<Series> = distributions
        .iter()
        .filter(|(_, p)| p.count > 0 && !p.spectrum.is_empty())
        .enumerate()
        .map(|(k, (name, p))| Series {
            name: format!("{name} (n={})", p.count),
            points: p.spectrum.iter().map(|[q, ms]| (nines(*q), *ms)).collect(),
            colour: k,
            dashed: false,
        })
        .collect();
    if series.is_empty() {
        return None;
    }
    // Lines an order of magnitude apart (a slow peer next to us) would flatten the lower
    // ones against the axis on a linear scale.
    let maxima: Vec<f64> = distributions
        .iter()
        .filter(|(_, p)| p.count > 0)
        .map(|(_, p)| p.max.max(1e-3))
        .collect();
    let highest = maxima.iter().copied().fold(0.0, f64::max);
    let lowest = maxima.iter().copied().fold(f64::INFINITY, f64::min);
    let log_y = highest / lowest > 10.0;
    let x_ticks = [
        (0.0, "0%"),
        (1.0, "90%"),
        (2.0, "99%"),
        (3.0, "99.9%"),
        (4.0, "99.99%"),
        (5.0, "max"),
    ]
    .into_iter()
    .map(|(x, l)| (x, l.to_owned()))
    .collect();
    Some(
        Chart {
            title: title.to_owned(),
            x_label: "percentile".to_owned(),
            y_label: if log_y { "ms (log)" } else { "ms" }.to_owned(),
            series,
            x_ticks,
            log_y,
        }
        .render(),
    )
}

/// A value of a tick drawn over time.
type Metric = (&'static str, fn(&Tick) -> Option<f64>);

/// The charts over time, in order: each is (title, y axis, metrics).
const TIMELINE_CHARTS: [(&str, &str, &[Metric]); 6] = [
    (
        "Sent per second",
        "per second",
        &[
            ("edits", |t| Some(t.edits_per_s)),
            ("cursor updates", |t| Some(t.cursor_updates_per_s)),
        ],
    ),
    (
        "Deliveries per second",
        "per second",
        &[
            ("edit deliveries", |t| Some(t.deliveries_per_s)),
            ("cursor deliveries", |t| Some(t.cursor_deliveries_per_s)),
        ],
    ),
    (
        "Edit propagation per second",
        "ms",
        &[("p50", |t| t.p50_ms), ("p99", |t| t.p99_ms)],
    ),
    (
        "CPU",
        "% of one core",
        &[
            ("servers", |t| t.server_cpu_percent),
            ("harness", |t| t.harness_cpu_percent),
        ],
    ),
    (
        "Server memory",
        "RSS MiB (all --pid)",
        &[("servers", |t| t.server_rss_kib.map(|k| k as f64 / 1024.0))],
    ),
    (
        "Synced editors",
        "editors",
        &[("synced", |t| Some(t.synced as f64))],
    ),
];

/// Charts of one or several runs over time (several: one line per run and metric, named
/// by the run's label). Metrics that stay at zero or unknown in every run are left out.
pub fn timeline_charts(runs: &[(&str, &[Tick])]) -> String {
    let mut s = String::from("<div class=\"charts\">");
    let mut any = false;
    for (title, y_label, metrics) in TIMELINE_CHARTS {
        let mut series = Vec::new();
        // One colour per run (per metric when there is one run); a run's second metric
        // is dashed.
        let several = runs.len() > 1;
        for (r, (run, ticks)) in runs.iter().enumerate() {
            for (m, (metric, value)) in metrics.iter().enumerate() {
                let points: Vec<(f64, f64)> = ticks
                    .iter()
                    .filter_map(|t| value(t).map(|v| (t.t, v)))
                    .collect();
                if points.iter().all(|(_, v)| *v == 0.0) {
                    continue;
                }
                let name = match (run.is_empty(), metrics.len()) {
                    (true, _) => (*metric).to_owned(),
                    (false, 1) => (*run).to_owned(),
                    (false, _) => format!("{run} {metric}"),
                };
                series.push(Series {
                    name,
                    points,
                    colour: if several { r } else { m },
                    dashed: several && m > 0,
                });
            }
        }
        if series.is_empty() {
            continue;
        }
        any = true;
        s.push_str(
            &Chart {
                title: title.to_owned(),
                x_label: "seconds since start".to_owned(),
                y_label: y_label.to_owned(),
                series,
                x_ticks: Vec::new(),
                log_y: false,
            }
            .render(),
        );
    }
    if !any {
        s.push_str("<p>No per-second samples (the run was shorter than a second).</p>");
    }
    s.push_str("</div>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn percentiles(ms: &[f64]) -> Percentiles {
        let mut h = crate::tracker::new_histogram();
        for v in ms {
            h.saturating_record((v * 1000.0) as u64);
        }
        Percentiles::from_micros(&h)
    }

    fn tick(t: f64, deliveries: f64) -> Tick {
        Tick {
            t,
            phase: "edit".to_owned(),
            synced: 4,
            edits_per_s: 10.0,
            deliveries_per_s: deliveries,
            cursor_updates_per_s: 0.0,
            cursor_deliveries_per_s: 0.0,
            p50_ms: Some(1.0),
            p99_ms: Some(3.0),
            server_rss_kib: Some(20_480),
            server_cpu_percent: Some(12.0),
            harness_cpu_percent: None,
        }
    }

    #[test]
    fn nines_scale() {
        assert_eq!(nines(0.0), 0.0);
        assert!((nines(0.99) - 2.0).abs() < 1e-9);
        assert_eq!(nines(1.0), MAX_NINES);
    }

    #[test]
    fn latency_chart_skips_empty_distributions() {
        let empty = percentiles(&[]);
        assert!(latency_chart("x", &[("a", &empty)]).is_none());
        let full = percentiles(&[1.0, 2.0, 5.0, 40.0]);
        let svg =
            latency_chart("Edit <propagation>", &[("a", &full), ("b", &empty)]).unwrap_or_default();
        assert!(svg.contains("Edit &lt;propagation&gt;"));
        assert!(svg.contains("a (n=4)") && !svg.contains("b (n="));
        assert!(svg.contains("99.9%"));
        assert!(svg.contains(">ms<"), "close lines: linear axis");
        let slow = percentiles(&[300.0, 900.0, 2000.0]);
        let both = latency_chart("x", &[("us", &full), ("peer", &slow)]).unwrap_or_default();
        assert!(both.contains(">ms (log)<"), "lines far apart: log axis");
    }

    #[test]
    fn timeline_names_lines_by_run_when_several() {
        let a = [tick(1.0, 100.0), tick(2.0, 120.0)];
        let b = [tick(1.0, 50.0), tick(2.0, 0.0)];
        let html = timeline_charts(&[("us", &a), ("peer", &b)]);
        assert!(html.contains("us edit deliveries") && html.contains("peer p99"));
        assert!(html.contains("Server memory") && !html.contains("cursor deliveries"));
        assert!(
            html.contains(">us<"),
            "single-metric charts name lines by run"
        );
        let none = timeline_charts(&[("", &[])]);
        assert!(none.contains("No per-second samples"));
    }

    #[test]
    fn table_escapes_cells() {
        let t = table(
            &["<h>".to_owned()],
            &[
                vec!["<script>alert(1)</script>".to_owned()],
                vec!["12.5".to_owned()],
                vec!["0.25x".to_owned()],
                vec!["20 / 4".to_owned()],
            ],
        );
        assert!(!t.contains("<script>") && t.contains("&lt;script&gt;"));
        assert!(t.contains("<td class=\"num\">12.5</td>"));
        assert!(t.contains("<td class=\"num\">0.25x</td>"));
        assert!(t.contains("<td>20 / 4</td>"));
    }
}
