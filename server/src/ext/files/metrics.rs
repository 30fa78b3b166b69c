//! The files metrics: loads from the source, writes back by outcome, write lag (first
//! unwritten edit to the write's return), outside changes merged, and conflicts.

use std::time::Duration;

use metrics::{counter, describe_counter, describe_histogram, histogram};

pub fn describe() {
    describe_counter!(
        "collab_file_loads_total",
        "Files opened with no state in Redis, by outcome (seeded, seeded-elsewhere, refused, failed)"
    );
    describe_counter!(
        "collab_file_writes_total",
        "Write-backs to the file source by outcome (written, conflict, failed)"
    );
    describe_histogram!(
        "collab_file_write_lag_seconds",
        "From the first edit a write-back carries to the write's return"
    );
    describe_counter!(
        "collab_file_outside_merges_total",
        "Changes made to files outside, merged into their documents"
    );
}

pub fn load(outcome: &'static str) {
    counter!("collab_file_loads_total", "outcome" => outcome).increment(1);
}

pub fn write(outcome: &'static str) {
    counter!("collab_file_writes_total", "outcome" => outcome).increment(1);
}

pub fn write_lag(lag: Duration) {
    histogram!("collab_file_write_lag_seconds").record(lag.as_secs_f64());
}

pub fn outside_merge() {
    counter!("collab_file_outside_merges_total").increment(1);
}
