//! The workspace as `cargo metadata` describes it: every member crate, its directory and
//! its targets (library, binaries, tests, benches, examples, build script), and the Rust
//! files under each member that the line cap covers. A crate added to the workspace is
//! covered without an edit here.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// One workspace member.
#[derive(Debug, Clone)]
pub struct Member {
    pub name: String,
    /// The directory holding its `Cargo.toml`.
    pub dir: PathBuf,
    /// Root files of its targets, each the root of its own module tree.
    pub roots: Vec<PathBuf>,
}

/// The workspace root (the directory of the top `Cargo.toml`).
pub fn root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// Every workspace member, from `cargo metadata --no-deps`.
pub fn members() -> Vec<Member> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(root())
        .output()
        .expect("running cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata's JSON");
    let packages = meta["packages"].as_array().expect("packages");
    let mut members: Vec<Member> = packages
        .iter()
        .map(|p| {
            let manifest = PathBuf::from(p["manifest_path"].as_str().expect("manifest_path"));
            let roots = p["targets"]
                .as_array()
                .expect("targets")
                .iter()
                .filter_map(|t| t["src_path"].as_str().map(PathBuf::from))
                .collect();
            Member {
                name: p["name"].as_str().expect("name").to_owned(),
                dir: manifest
                    .parent()
                    .expect("a manifest's directory")
                    .to_path_buf(),
                roots,
            }
        })
        .collect();
    members.sort_by(|a, b| a.dir.cmp(&b.dir));
    members
}

/// Directories never searched for Rust files: build output, JavaScript packages, and the
/// fuzzer (outside the workspace, exempt from the cap).
const SKIPPED_DIRS: [&str; 4] = ["target", "node_modules", "fuzz", ".git"];

/// Every `.rs` file under `dir` (skipping [`SKIPPED_DIRS`] and generated files, which say
/// `@generated` in their first lines), with its text, sorted by path.
pub fn rust_files(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let entries =
            std::fs::read_dir(&d).unwrap_or_else(|e| panic!("cannot list {}: {e}", d.display()));
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() {
                if !SKIPPED_DIRS.iter().any(|s| name == *s) {
                    todo.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
                if !generated(&text) {
                    files.push((path, text));
                }
            }
        }
    }
    files.sort();
    files
}

/// Whether a file says it is generated (`@generated` in its first 5 lines).
pub fn generated(text: &str) -> bool {
    text.lines().take(5).any(|l| l.contains("@generated"))
}

/// The files with more than `max` lines, with their line counts.
pub fn long_files(files: &[(String, String)], max: usize) -> Vec<(String, usize)> {
    files
        .iter()
        .map(|(name, text)| (name.clone(), text.lines().count()))
        .filter(|(_, lines)| *lines > max)
        .collect()
}
