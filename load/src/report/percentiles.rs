//! A latency distribution in milliseconds, as reports keep it: a few percentiles for the
//! table and a spectrum of quantiles for the charts.
//!
//! Its own module, not part of `report/mod.rs`: the report holds the parts in
//! [`super::sections`], and `join-storm`'s part is a distribution too, so with it in
//! `mod.rs` the report and its child would import each other. The report re-exports it as
//! `report::Percentiles`.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Quantiles kept in [`Percentiles::spectrum`]: dense where tails matter.
pub(crate) const SPECTRUM: [f64; 16] = [
    0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.98, 0.99, 0.995, 0.998, 0.999, 0.9995, 0.9999, 0.99999,
    1.0,
];

/// A latency distribution in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub min: f64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    /// `[quantile, ms]` pairs from the minimum to the maximum, for charts.
    #[serde(default)]
    pub spectrum: Vec<[f64; 2]>,
}

impl Percentiles {
    /// From a histogram of microseconds.
    pub fn from_micros(h: &Histogram<u64>) -> Percentiles {
        let ms = |us: u64| us as f64 / 1000.0;
        if h.is_empty() {
            return Percentiles {
                count: 0,
                min: 0.0,
                mean: 0.0,
                p50: 0.0,
                p90: 0.0,
                p99: 0.0,
                p999: 0.0,
                max: 0.0,
                spectrum: Vec::new(),
            };
        }
        Percentiles {
            count: h.len(),
            min: ms(h.min()),
            mean: h.mean() / 1000.0,
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
            spectrum: SPECTRUM
                .iter()
                .map(|&q| [q, ms(h.value_at_quantile(q))])
                .collect(),
        }
    }
}
