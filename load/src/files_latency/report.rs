//! What `files-latency` measured, as one serializable report: the table it prints and the
//! JSON `--json` writes, and when a run counts as clean.

use std::fmt::Write as _;

use serde::Serialize;

use super::measure::{Loss, WriteRate, median};
use crate::latency::{self, Latency, ProbeReport};

#[derive(Debug, Clone, Serialize)]
pub struct FilesReport {
    pub write_back_ms: u64,
    pub write_back_max_ms: u64,
    pub pace_ms: u64,
    /// How the file is watched: polled every this many milliseconds.
    pub poll_ms: u64,
    /// Writer keystroke sent -> the file read from disk holds it.
    pub keystroke_to_disk: Latency,
    pub keystrokes_typed: usize,
    pub keystrokes_on_disk: usize,
    /// `collab_file_writes_total{outcome="written"}` of both gateways over the typing.
    pub writes: WriteRate,
    /// A line rewritten on disk -> the observer on the other gateway has it.
    pub outside_to_editors: Latency,
    pub outside_requested: u64,
    pub rpo_runs: Vec<Loss>,
    pub rpo_median_lost: f64,
    pub rpo_median_span_ms: f64,
    pub rpo_max_lost: usize,
}

impl FilesReport {
    pub fn summarize_rpo(&mut self) {
        let lost: Vec<f64> = self.rpo_runs.iter().map(|l| l.lost as f64).collect();
        let span: Vec<f64> = self.rpo_runs.iter().map(|l| l.span_ms).collect();
        self.rpo_median_lost = median(&lost);
        self.rpo_median_span_ms = median(&span);
        self.rpo_max_lost = self.rpo_runs.iter().map(|l| l.lost).max().unwrap_or(0);
    }
}

impl ProbeReport for FilesReport {
    fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "files-latency: --files dir, --write-back-ms {}, --write-back-max-ms {}, a \
             keystroke every {} ms, the file polled every {} ms",
            self.write_back_ms, self.write_back_max_ms, self.pace_ms, self.poll_ms
        );
        latency::latency_rows(
            &mut out,
            28,
            &[
                ("keystroke -> disk", &self.keystroke_to_disk),
                ("outside write -> editor", &self.outside_to_editors),
            ],
        );
        let _ = writeln!(
            out,
            "keystrokes on disk: {} of {}",
            self.keystrokes_on_disk, self.keystrokes_typed
        );
        let w = &self.writes;
        let _ = writeln!(
            out,
            "writes of the file: {} in {:.1} s of typing = {:.1}/min (bound {:.1}/min: {})",
            w.writes,
            w.window_secs,
            w.per_minute,
            w.bound_per_minute,
            if w.within_bound { "within" } else { "OVER" }
        );
        for (i, l) in self.rpo_runs.iter().enumerate() {
            let _ = writeln!(
                out,
                "RPO run {}: typed {}, recovered {}, lost {} covering {:.0} ms",
                i + 1,
                l.typed,
                l.recovered,
                l.lost,
                l.span_ms
            );
        }
        let _ = writeln!(
            out,
            "RPO (kill -9 every gateway, FLUSHALL, reopen): median {} characters lost, \
             covering {:.0} ms of typing; max {}",
            self.rpo_median_lost, self.rpo_median_span_ms, self.rpo_max_lost
        );
        out
    }

    fn is_clean(&self) -> bool {
        self.keystrokes_on_disk == self.keystrokes_typed
            && self.writes.within_bound
            && self.outside_to_editors.count == self.outside_requested
    }
}
