//! The runs of a comparison: one scenario on one system and how it went, what `compare`
//! records for each and what the side-by-side [`super::table`] and the written
//! [`super::output`] read.
//!
//! Its own module, not part of `compare/mod.rs`: `mod.rs` builds the table and the output
//! from the runs, so with the runs there `mod.rs` and those children would import each
//! other.

use std::path::{Path, PathBuf};

use super::figures::Figures;
use super::systems::System;

/// How one scenario went on one system.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The run completed; `clean` when nothing went missing or wrong.
    Measured {
        figures: Box<Figures>,
        clean: bool,
    },
    Failed(String),
    Skipped(String),
    /// The scenario means nothing on this system (why).
    NotApplicable(String),
}

/// One scenario on one system.
#[derive(Debug, Clone)]
pub struct Run {
    pub system: System,
    pub scenario: String,
    pub outcome: Outcome,
    /// The commands that started its processes, in order.
    pub commands: Vec<String>,
    pub json: PathBuf,
    pub html: PathBuf,
}

impl Run {
    /// A run not made yet; its files go to `work_dir` as `SYSTEM-SCENARIO.*`.
    pub(super) fn new(system: System, scenario: &str, work_dir: &Path) -> Run {
        let stem = work_dir.join(format!("{system}-{scenario}"));
        Run {
            system,
            scenario: scenario.to_owned(),
            outcome: Outcome::Skipped("not run".to_owned()),
            commands: Vec::new(),
            json: stem.with_extension("json"),
            html: stem.with_extension("html"),
        }
    }
}
