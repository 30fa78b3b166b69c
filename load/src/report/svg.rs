//! Hand-written SVG line charts: the few lines the HTML report needs, no script, no fonts
//! beyond the viewer's default, so a page opens anywhere and can be attached to an issue.
//!
//! A [`Chart`] has named series of `(x, y)` points, drawn over axes with round tick values
//! (or given tick labels, as the latency chart's percentile scale needs) and a legend. All
//! text goes through [`escape`].

use std::fmt::Write as _;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 64.0;
/// Height of each further row of legend entries.
const LEGEND_ROW: f64 = 15.0;

/// Line colours, one per series in order (readable on white, distinct in grey too).
const PALETTE: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
];

/// One line of a chart.
#[derive(Debug, Clone, Default)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    /// Index into the palette: lines of one system or metric share a colour.
    pub colour: usize,
    /// Dashed, to tell a second metric of the same colour apart.
    pub dashed: bool,
}

/// A line chart.
#[derive(Debug, Clone, Default)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// Tick positions and labels of the x axis; round values are chosen when empty.
    pub x_ticks: Vec<(f64, String)>,
    /// A logarithmic y axis (powers of ten), for lines that differ by orders of magnitude;
    /// values at or below zero sit on the axis floor.
    pub log_y: bool,
}

impl Chart {
    /// The chart as an `<svg>` element.
    pub fn render(&self) -> String {
        let points = self.series.iter().flat_map(|s| s.points.iter()).copied();
        let (mut x0, mut x1, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
        let mut y_min_positive = f64::INFINITY;
        for (x, y) in points.filter(|(x, y)| x.is_finite() && y.is_finite()) {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y1 = y1.max(y);
            if y > 0.0 {
                y_min_positive = y_min_positive.min(y);
            }
        }
        for (x, _) in &self.x_ticks {
            x0 = x0.min(*x);
            x1 = x1.max(*x);
        }
        if !x0.is_finite() {
            (x0, x1) = (0.0, 1.0);
        }
        if x1 <= x0 {
            x1 = x0 + 1.0;
        }
        let y_ticks = if self.log_y {
            decade_ticks(y_min_positive, y1)
        } else {
            nice_ticks(0.0, if y1 > 0.0 { y1 } else { 1.0 })
        };
        let y0 = y_ticks.first().copied().unwrap_or(0.0);
        let y1 = y_ticks.last().copied().unwrap_or(1.0);
        let log_y = self.log_y;
        // Fraction of the plot height at which `y` sits.
        let y_frac = move |y: f64| {
            if log_y {
                (y.max(y0).log10() - y0.log10()) / (y1.log10() - y0.log10())
            } else {
                y / y1
            }
        };
        let x_ticks: Vec<(f64, String)> = if self.x_ticks.is_empty() {
            // Round ends: the axis runs from the first tick to the last.
            let ticks = nice_ticks(x0, x1);
            x0 = ticks.first().copied().unwrap_or(x0).min(x0);
            x1 = ticks.last().copied().unwrap_or(x1).max(x1);
            ticks.into_iter().map(|t| (t, format_number(t))).collect()
        } else {
            self.x_ticks.clone()
        };
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let px = |x: f64| LEFT + (x - x0) / (x1 - x0) * plot_w;
        let py = |y: f64| TOP + plot_h - y_frac(y) * plot_h;

        let legend = legend_layout(&self.series);
        let rows = legend.iter().map(|(_, row)| row + 1).max().unwrap_or(1);
        let height = HEIGHT + LEGEND_ROW * (rows - 1) as f64;

        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" aria-label="{}">"#,
            escape(&self.title)
        );
        let _ = write!(
            s,
            r#"<text x="{}" y="18" text-anchor="middle" font-size="14" font-weight="bold">{}</text>"#,
            WIDTH / 2.0,
            escape(&self.title)
        );
        for t in &y_ticks {
            let y = py(*t);
            let _ = write!(
                s,
                r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="11">{}</text>"##,
                WIDTH - RIGHT,
                LEFT - 4.0,
                y + 4.0,
                escape(&format_number(*t))
            );
        }
        for (t, label) in &x_ticks {
            let x = px(*t);
            let _ = write!(
                s,
                r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#eee"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" font-size="11">{}</text>"##,
                TOP + plot_h,
                TOP + plot_h + 14.0,
                escape(label)
            );
        }
        let _ = write!(
            s,
            r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>"##
        );
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="12">{}</text>"#,
            LEFT + plot_w / 2.0,
            TOP + plot_h + 30.0,
            escape(&self.x_label)
        );
        let _ = write!(
            s,
            r#"<text transform="translate(14 {:.1}) rotate(-90)" text-anchor="middle" font-size="12">{}</text>"#,
            TOP + plot_h / 2.0,
            escape(&self.y_label)
        );
        for (series, (lx, row)) in self.series.iter().zip(&legend) {
            let colour = PALETTE[series.colour % PALETTE.len()];
            let dash = if series.dashed {
                r#" stroke-dasharray="5 3""#
            } else {
                ""
            };
            let path: Vec<(f64, f64)> = series
                .points
                .iter()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .map(|(x, y)| (px(*x), py(*y)))
                .collect();
            if let [(cx, cy)] = path.as_slice() {
                let _ = write!(
                    s,
                    r#"<circle cx="{cx:.1}" cy="{cy:.1}" r="3" fill="{colour}"/>"#
                );
            } else if !path.is_empty() {
                let points: Vec<String> =
                    path.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
                let _ = write!(
                    s,
                    r#"<polyline fill="none" stroke="{colour}" stroke-width="1.8"{dash} points="{}"/>"#,
                    points.join(" ")
                );
            }
            let ly = HEIGHT - 12.0 + LEGEND_ROW * *row as f64;
            let _ = write!(
                s,
                r#"<line x1="{lx:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="2.5"{dash}/><text x="{:.1}" y="{ly:.1}" font-size="11">{}</text>"#,
                ly - 4.0,
                lx + 14.0,
                ly - 4.0,
                lx + 18.0,
                escape(&series.name)
            );
        }
        s.push_str("</svg>");
        s
    }
}

/// Where each series' legend entry goes: its x and its row below the plot.
fn legend_layout(series: &[Series]) -> Vec<(f64, usize)> {
    let mut out = Vec::with_capacity(series.len());
    let (mut x, mut row) = (LEFT, 0);
    for s in series {
        let w = 28.0 + 6.2 * s.name.chars().count() as f64;
        if x + w > WIDTH - RIGHT && x > LEFT {
            (x, row) = (LEFT, row + 1);
        }
        out.push((x, row));
        x += w;
    }
    out
}

/// Escapes text for HTML and SVG content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Round tick values covering `lo..=hi` (about five of them, steps of 1, 2 or 5 x 10^k).
pub fn nice_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return vec![lo.min(0.0), lo.max(1.0)];
    }
    let raw = (hi - lo) / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let first = (lo / step).floor() * step;
    let mut ticks = Vec::new();
    let mut k = 0.0;
    loop {
        let t = first + k * step;
        ticks.push(t);
        if t >= hi - step * 1e-9 || ticks.len() > 50 {
            break;
        }
        k += 1.0;
    }
    ticks
}

/// Powers of ten from below `lo` to above `hi` (at least two), for a log axis.
pub fn decade_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let lo = if lo.is_finite() && lo > 0.0 { lo } else { 1.0 };
    let hi = if hi.is_finite() { hi.max(lo) } else { lo };
    let first = lo.log10().floor() as i32;
    let last = (hi.log10().ceil() as i32).max(first + 1);
    (first..=last).map(|e| 10f64.powi(e)).collect()
}

/// A tick label: no trailing zeros, thousands as "k".
fn format_number(v: f64) -> String {
    let a = v.abs();
    if a >= 10_000.0 {
        format!("{}k", trim(v / 1000.0))
    } else {
        trim(v)
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape(r#"<a href="x">&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(nice_ticks(0.0, 9.3), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        let labels: Vec<String> = nice_ticks(0.0, 1.0)
            .into_iter()
            .map(format_number)
            .collect();
        assert_eq!(labels, ["0", "0.2", "0.4", "0.6", "0.8", "1"]);
        let t = nice_ticks(0.0, 1234.0);
        assert!(t.first() == Some(&0.0) && *t.last().unwrap_or(&0.0) >= 1234.0);
        assert_eq!(format_number(12_000.0), "12k");
        assert_eq!(format_number(0.25), "0.25");
    }

    #[test]
    fn renders_series_and_escaped_names() {
        let chart = Chart {
            title: "a < b".to_owned(),
            x_label: "s".to_owned(),
            y_label: "ms".to_owned(),
            series: vec![
                Series {
                    name: "x&y".to_owned(),
                    points: vec![(0.0, 1.0), (1.0, 2.0), (2.0, f64::NAN)],
                    ..Series::default()
                },
                Series {
                    name: "one".to_owned(),
                    points: vec![(1.0, 1.0)],
                    colour: 1,
                    dashed: true,
                },
            ],
            x_ticks: Vec::new(),
            log_y: false,
        };
        let svg = chart.render();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("a &lt; b") && svg.contains("x&amp;y"));
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert_eq!(svg.matches("<circle").count(), 1);
        assert!(!svg.contains("NaN"));
        assert!(svg.contains(r#"height="300""#), "one legend row");
    }

    #[test]
    fn log_axis_spans_decades() {
        assert_eq!(
            decade_ticks(0.3, 2500.0),
            vec![0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0]
        );
        assert_eq!(decade_ticks(5.0, 5.0), vec![1.0, 10.0]);
        assert_eq!(decade_ticks(f64::INFINITY, 0.0), vec![1.0, 10.0]);
        let svg = Chart {
            series: vec![Series {
                name: "a".to_owned(),
                points: vec![(0.0, 0.0), (1.0, 2.0), (2.0, 2000.0)],
                ..Series::default()
            }],
            log_y: true,
            ..Chart::default()
        }
        .render();
        assert!(svg.contains(">1000<") && svg.contains(">1<") && !svg.contains("NaN"));
    }

    #[test]
    fn long_legends_wrap_into_rows() {
        let series: Vec<Series> = (0..8)
            .map(|k| Series {
                name: format!("hocuspocus servers {k}"),
                points: vec![(0.0, 1.0), (1.0, 2.0)],
                colour: k,
                dashed: k % 2 == 1,
            })
            .collect();
        let layout = legend_layout(&series);
        assert!(layout.iter().all(|(x, _)| *x + 28.0 < WIDTH));
        assert!(layout.last().is_some_and(|(_, row)| *row >= 2));
        let svg = Chart {
            series,
            ..Chart::default()
        }
        .render();
        assert!(!svg.contains(r#"height="300""#));
        assert_eq!(svg.matches("stroke-dasharray").count(), 8);
    }
}
