//! The metrics the room core records: rejected inputs, catch-ups from the log, answered
//! undo requests. They go through the `metrics` facade, which only records (a few atomic
//! operations per call): the gateway installs the exporter and describes every metric,
//! these included, in one place (`collab_server::metrics`).

use metrics::counter;

pub fn catch_up() {
    counter!("collab_catch_ups_total").increment(1);
}

pub fn rejected(reason: &'static str) {
    counter!("collab_rejected_total", "reason" => reason).increment(1);
}

/// A server-side undo or redo request answered: `applied` or `nothing` (no item that
/// changed anything).
pub fn undo(op: &'static str, outcome: &'static str) {
    counter!("collab_undo_total", "op" => op, "outcome" => outcome).increment(1);
}
