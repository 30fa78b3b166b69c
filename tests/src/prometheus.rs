//! Reading the Prometheus text a gateway serves at `/metrics` ([`crate::Gateway::metrics`]).
//!
//! Just enough of the exposition format for tests: sample lines `name{l="v",...} value`
//! and `# TYPE name kind` lines.

/// The value of the sample `name` whose labels include every `(label, value)` of `labels`,
/// summed over the samples that match (so `&[]` totals a counter over all its labels);
/// `None` when no sample matches.
pub fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut total = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, number)) = line.rsplit_once(' ') else {
            continue;
        };
        let (series_name, series_labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        if series_name != name {
            continue;
        }
        let matches = labels.iter().all(|(label, want)| {
            series_labels
                .split(',')
                .any(|pair| pair == format!("{label}=\"{want}\""))
        });
        if let (true, Ok(number)) = (matches, number.parse::<f64>()) {
            *total.get_or_insert(0.0) += number;
        }
    }
    total
}

/// Like [`value`], with 0 for a series not exposed yet (a counter before its first event).
pub fn count(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    value(text, name, labels).unwrap_or(0.0)
}

/// True when `text` declares `name` (`# TYPE name ...`) or has a sample of it (histograms
/// expose `name_bucket`, `name_sum` and `name_count`).
pub fn exposes(text: &str, name: &str) -> bool {
    text.lines().any(|line| {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            return rest.split_whitespace().next() == Some(name);
        }
        let series = line.split(['{', ' ']).next().unwrap_or("");
        !line.starts_with('#')
            && [
                name.to_owned(),
                format!("{name}_bucket"),
                format!("{name}_sum"),
                format!("{name}_count"),
            ]
            .iter()
            .any(|n| n == series)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# TYPE collab_rejected_total counter\n\
        collab_rejected_total{reason=\"frame-too-big\"} 2\n\
        collab_rejected_total{reason=\"message-rate\"} 1\n\
        # TYPE collab_connections gauge\n\
        collab_connections 3\n\
        collab_redis_seconds_bucket{op=\"append\",le=\"0.001\"} 4\n";

    #[test]
    fn reads_samples_by_name_and_labels() {
        assert_eq!(
            value(
                TEXT,
                "collab_rejected_total",
                &[("reason", "frame-too-big")]
            ),
            Some(2.0)
        );
        assert_eq!(value(TEXT, "collab_rejected_total", &[]), Some(3.0));
        assert_eq!(value(TEXT, "collab_connections", &[]), Some(3.0));
        assert_eq!(value(TEXT, "collab_rooms", &[]), None);
        assert_eq!(
            count(TEXT, "collab_rejected_total", &[("reason", "byte-rate")]),
            0.0
        );
        assert!(exposes(TEXT, "collab_connections"));
        assert!(exposes(TEXT, "collab_redis_seconds"));
        assert!(!exposes(TEXT, "collab_rooms"));
    }
}
