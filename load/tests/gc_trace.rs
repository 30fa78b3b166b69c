//! `collab-load gc-trace` end to end, through the built binary (so its counting allocator
//! is installed): a slice of the committed B4 trace (`load/traces/automerge-paper.json.gz`)
//! and a small synthetic trace, every case in a child process. Checks that each replay
//! ends with the trace's `endContent`, that a GC-off state is never smaller than the GC-on
//! one (also after a reload), that collecting a GC-off replica outside the undo window
//! leaves the text alone and lands between the two, and that a wrong `endContent` exits 3.

use std::path::{Path, PathBuf};
use std::process::Command;

use collab_load::gc_trace::replay::{Case, Measurement};
use collab_load::gc_trace::trace::Trace;

fn committed_trace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("traces/automerge-paper.json.gz")
}

/// Runs `gc-trace` once per case on `trace`; returns its exit code and measurements.
fn gc_trace(trace: &Path, dir: &Path, extra: &[&str]) -> (Option<i32>, Vec<Measurement>) {
    let json = dir.join("runs.json");
    let out = Command::new(env!("CARGO_BIN_EXE_collab-load"))
        .arg("gc-trace")
        .arg("--trace")
        .arg(trace)
        .args(["--runs", "1", "--undo-window", "200", "--json"])
        .arg(&json)
        .args(extra)
        .output()
        .expect("runs collab-load");
    let text = std::fs::read_to_string(&json).unwrap_or_else(|e| {
        panic!(
            "no {}: {e}; stderr: {}",
            json.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let runs: Vec<Vec<Measurement>> = serde_json::from_str(&text).expect("parses");
    (out.status.code(), runs.into_iter().flatten().collect())
}

fn by_case(runs: &[Measurement], case: Case) -> &Measurement {
    runs.iter()
        .find(|m| m.case == case)
        .unwrap_or_else(|| panic!("no {}", case.name()))
}

fn check(runs: &[Measurement], end: &str) {
    assert_eq!(runs.len(), 4, "{runs:?}");
    for m in runs {
        assert!(m.matches_end, "{}: not the end text", m.case.name());
        assert_eq!(m.text_len as usize, end.encode_utf16().count());
        assert!(m.heap_bytes.is_some(), "the binary counts heap");
    }
    for (on, off) in [
        (Case::LocalGcOn, Case::LocalGcOff),
        (Case::ReplicaGcOn, Case::ReplicaGcOff),
    ] {
        let (on, off) = (by_case(runs, on), by_case(runs, off));
        assert!(off.state_bytes >= on.state_bytes, "{on:?} vs {off:?}");
        assert!(off.reload_bytes >= on.reload_bytes, "{on:?} vs {off:?}");
        assert!(off.census.with_content >= on.census.with_content);
        // Loading the GC-off state into a GC-on doc drops what GC on never kept.
        assert!(off.gc_reload_bytes <= off.state_bytes);
    }
    let on = by_case(runs, Case::ReplicaGcOn);
    let off = by_case(runs, Case::ReplicaGcOff);
    let partial = off
        .partial_gc
        .as_ref()
        .expect("replica-gc-off is collected");
    assert!(partial.text_unchanged);
    assert!(partial.state_bytes <= off.state_bytes, "{partial:?}");
    assert!(partial.state_bytes >= on.state_bytes, "{partial:?}");
}

#[test]
fn a_slice_of_the_b4_trace_ends_with_its_text_and_gc_off_is_never_smaller() {
    let dir = tempfile::tempdir().expect("tempdir");
    let full = Trace::read(&committed_trace()).expect("reads the committed trace");
    assert_eq!(
        full.patches().count(),
        259_778,
        "the whole automerge-paper trace"
    );
    // The same slice as `--first 3000`, written out so that its endContent is in the file.
    let slice = full.prefix(3000);
    let path = dir.path().join("slice.json");
    let json = serde_json::json!({
        "startContent": slice.start_content,
        "endContent": slice.end_content,
        "txns": slice.txns.iter().map(|t| serde_json::json!({
            "patches": t.patches.iter().map(|p| (p.pos(), p.delete(), p.insert())).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    std::fs::write(&path, json.to_string()).expect("writes the slice");
    let (code, runs) = gc_trace(&path, dir.path(), &[]);
    assert_eq!(code, Some(0));
    check(&runs, &slice.end_content);
    // The slice deletes: GC off keeps strictly more.
    assert!(slice.patches().any(|p| p.delete() > 0));
    assert!(
        by_case(&runs, Case::LocalGcOff).state_bytes > by_case(&runs, Case::LocalGcOn).state_bytes
    );

    let (code, runs) = gc_trace(&committed_trace(), dir.path(), &["--first", "3000"]);
    assert_eq!(code, Some(0));
    check(&runs, &slice.end_content);
}

#[test]
fn a_synthetic_trace_with_multi_patch_txns_and_non_ascii_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("synthetic.json");
    // Patches of one txn in descending positions, as the format promises; "é" and "€" are
    // one UTF-16 unit each but several UTF-8 bytes.
    let trace = r#"{"startContent":"","endContent":"héllo wörld €","txns":[
        {"patches":[[0,0,"hello world"]]},
        {"patches":[[7,1,"ö"],[1,1,"é"]]},
        {"patches":[[11,0," €!"]]},
        {"patches":[[13,1,""]]}]}"#;
    std::fs::write(&path, trace).expect("writes");
    let (code, runs) = gc_trace(&path, dir.path(), &[]);
    assert_eq!(code, Some(0));
    check(&runs, "héllo wörld €");

    let wrong = dir.path().join("wrong.json");
    std::fs::write(&wrong, trace.replace(r#""héllo wörld €""#, r#""nope""#)).expect("writes");
    let (code, runs) = gc_trace(&wrong, dir.path(), &["--cases", "local-gc-on"]);
    assert_eq!(code, Some(3), "a wrong end text fails the run");
    assert!(!runs[0].matches_end);
}
