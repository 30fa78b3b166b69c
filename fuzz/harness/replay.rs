//! Replays one target's committed corpus (`fuzz/corpus/<target>/`) through its harness
//! function, as a regular test: every file is run, and the test fails naming each file
//! that panicked.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

/// The corpus folder of `target`, found from the including crate's manifest directory
/// (`protocol/` or `server/`, both beside `fuzz/`).
pub fn dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

/// Runs every file of `target`'s corpus through `run`; panics listing the files that failed.
pub fn corpus(target: &str, run: fn(&[u8])) {
    let dir = dir(target);
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read the corpus {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a corpus entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "the corpus {} is empty", dir.display());
    let failed: Vec<String> = files
        .iter()
        .filter(|file| {
            let data = std::fs::read(file).expect("a readable corpus file");
            catch_unwind(AssertUnwindSafe(|| run(&data))).is_err()
        })
        .map(|file| file.display().to_string())
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} {target} corpus inputs failed: {failed:#?}",
        failed.len(),
        files.len()
    );
    println!("replayed {} {target} corpus inputs", files.len());
}
