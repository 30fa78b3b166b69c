//! The committed benchmark reports (`BENCHMARKS.md`, `benchmarks.html`) read the same in
//! any clone: no absolute path of the machine that made them, and every link of the HTML
//! page points at a file committed beside it (`benchmarks/`).

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("load/ has a parent")
        .to_path_buf()
}

/// Absolute paths of a machine (a checkout, a `--work-dir` under `/tmp`).
fn absolute_paths(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for prefix in ["/tmp/", "/home/", "/root/", "/work/", "/Users/", "/var/"] {
        for (at, _) in text.match_indices(prefix) {
            // `//host/...` inside a URL is no path of this machine.
            if at > 0 && text.as_bytes()[at - 1] == b'/' {
                continue;
            }
            let end = text[at..]
                .find(|c: char| c.is_whitespace() || c == '"' || c == '<')
                .map_or(text.len(), |n| at + n);
            found.push(text[at..end].to_owned());
        }
    }
    found
}

#[test]
fn reports_hold_no_absolute_paths() {
    for name in ["BENCHMARKS.md", "benchmarks.html"] {
        let text = std::fs::read_to_string(repo().join(name)).expect(name);
        let found = absolute_paths(&text);
        assert!(found.is_empty(), "{name} holds absolute paths: {found:?}");
    }
}

#[test]
fn every_link_of_the_html_report_is_a_committed_file() {
    let text = std::fs::read_to_string(repo().join("benchmarks.html")).expect("benchmarks.html");
    for (at, _) in text.match_indices("href=\"") {
        let rest = &text[at + 6..];
        let link = &rest[..rest.find('"').expect("closing quote")];
        if link.starts_with("http://") || link.starts_with("https://") || link.starts_with('#') {
            continue;
        }
        assert!(!link.starts_with('/'), "absolute link {link}");
        assert!(
            repo().join(link).is_file(),
            "benchmarks.html links to {link}, which is not committed"
        );
    }
}

#[test]
fn the_checker_finds_what_it_should() {
    assert_eq!(
        absolute_paths("--json /tmp/compare-final/us.json and http://127.0.0.1:1/doc"),
        vec!["/tmp/compare-final/us.json".to_owned()]
    );
    assert!(absolute_paths("target/release/collab-load --work-dir $WORK_DIR").is_empty());
}
