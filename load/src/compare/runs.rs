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

/// The folder, beside the combined HTML page, that holds each run's own page: committed
/// with the report, so the page's links work in a clone and on a code host.
pub const PAGES_DIR: &str = "benchmarks";

impl Run {
    /// A run not made yet; its files go to `work_dir` as `SYSTEM-SCENARIO.*`, except its
    /// HTML page, which goes to `pages_dir` (the report's [`PAGES_DIR`]).
    pub(super) fn new(system: System, scenario: &str, work_dir: &Path, pages_dir: &Path) -> Run {
        let name = format!("{system}-{scenario}");
        Run {
            system,
            scenario: scenario.to_owned(),
            outcome: Outcome::Skipped("not run".to_owned()),
            commands: Vec::new(),
            json: work_dir.join(&name).with_extension("json"),
            html: pages_dir.join(name).with_extension("html"),
        }
    }

    /// The link to this run's page from the combined page: `benchmarks/SYSTEM-SCENARIO.html`.
    pub fn page_link(&self) -> String {
        let file = self.html.file_name().unwrap_or_default().to_string_lossy();
        format!("{PAGES_DIR}/{file}")
    }
}

/// How paths appear in a report's commands: relative to the repository root (the current
/// directory) when under it, and the `--work-dir` as `$WORK_DIR` when outside it, so no
/// report carries the absolute paths of the machine that made it.
#[derive(Debug, Clone)]
pub struct Shown {
    /// The current directory, with a trailing `/`.
    root: String,
    /// Spellings of a work dir outside the root (as typed, resolved), each with a trailing `/`.
    work_dir: Vec<String>,
}

impl Shown {
    /// Paths under `root` shown relative to it; `work_dir` (as typed, and `resolved`) as
    /// `$WORK_DIR` when it lies outside `root`.
    pub fn new(root: &Path, work_dir: &Path, resolved: &Path) -> Shown {
        let with_slash = |p: &Path| format!("{}/", p.to_string_lossy().trim_end_matches('/'));
        let root_text = with_slash(root);
        let work_dir = [work_dir, resolved]
            .into_iter()
            .filter(|p| p.is_absolute())
            .map(with_slash)
            .filter(|p| !p.starts_with(&root_text))
            .collect();
        Shown {
            root: root_text,
            work_dir,
        }
    }

    /// `text` (a command line) with its paths shown as described above.
    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for dir in &self.work_dir {
            out = out.replace(dir.as_str(), "$WORK_DIR/");
            out = out.replace(dir.trim_end_matches('/'), "$WORK_DIR");
        }
        out.replace(self.root.as_str(), "")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_show_no_absolute_paths() {
        let shown = Shown::new(
            Path::new("/home/ci/collab"),
            Path::new("/tmp/compare-final"),
            Path::new("/tmp/compare-final"),
        );
        assert_eq!(
            shown.text(
                "/home/ci/collab/target/release/collab-load compare --work-dir /tmp/compare-final \
                 --json /tmp/compare-final/us-idle.json --html /home/ci/collab/benchmarks/us-idle.html"
            ),
            "target/release/collab-load compare --work-dir $WORK_DIR \
             --json $WORK_DIR/us-idle.json --html benchmarks/us-idle.html"
        );
        // A work dir inside the repository is just a relative path.
        let inside = Shown::new(
            Path::new("/r"),
            Path::new("target/compare"),
            Path::new("/r/target/compare"),
        );
        assert_eq!(
            inside.text("x --json /r/target/compare/us-idle.json"),
            "x --json target/compare/us-idle.json"
        );
    }

    #[test]
    fn a_run_page_is_linked_relative_to_the_combined_page() {
        let run = Run::new(
            System::ALL[0],
            "idle",
            Path::new("/tmp/w"),
            Path::new("/r/benchmarks"),
        );
        assert_eq!(
            run.page_link(),
            format!("benchmarks/{}-idle.html", System::ALL[0])
        );
        assert_eq!(
            run.json,
            Path::new("/tmp/w").join(format!("{}-idle.json", System::ALL[0]))
        );
    }
}
