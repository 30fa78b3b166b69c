//! Replays a trace into one yrs doc and measures what the doc costs: one [`Case`] per
//! call, in this process (the caller runs each case in a fresh process so that resident
//! memory figures do not carry over).
//!
//! Docs are made like the gateway's (UTF-16 offsets, root text `monaco`, fixed client ids so
//! that sizes repeat). `local-*` applies each trace transaction as a local edit of the doc.
//! `replica-*` is what a gateway's replica does: an author doc (GC on, like a Yjs client)
//! makes the edits and emits one v1 update per transaction, all generated before the clock
//! and the counters start; the replica decodes and applies each update in a transaction of
//! its own. For `replica-gc-off` the replica is then collected ([`collect::outside`]),
//! sparing the deletions of the last `undo_window` updates (standing in for live undo
//! items): the policy proposed in `load/traces/README.md`.

use std::time::Instant;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use yrs::updates::decoder::Decode;
use yrs::{
    ClientID, Doc, GetString, IdSet, OffsetKind, Options, ReadTxn, StateVector, Text, TextRef,
    Transact, Update,
};

use super::census::{self, Census};
use super::collect;
use super::trace::Trace;
use crate::heap;
use crate::procstat;

/// Name of the root text, as the gateway's and the demo's.
const TEXT: &str = "monaco";

/// Client id of the doc that makes the edits.
const AUTHOR: u64 = 1;

/// Client id of the replica that applies them as updates.
const REPLICA: u64 = 2;

/// How a trace reaches the doc, and whether the doc collects deleted content.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Case {
    LocalGcOn,
    LocalGcOff,
    ReplicaGcOn,
    ReplicaGcOff,
}

impl Case {
    pub const ALL: [Case; 4] = [
        Case::LocalGcOn,
        Case::LocalGcOff,
        Case::ReplicaGcOn,
        Case::ReplicaGcOff,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Case::LocalGcOn => "local-gc-on",
            Case::LocalGcOff => "local-gc-off",
            Case::ReplicaGcOn => "replica-gc-on",
            Case::ReplicaGcOff => "replica-gc-off",
        }
    }

    pub fn gc(self) -> bool {
        matches!(self, Case::LocalGcOn | Case::ReplicaGcOn)
    }

    fn as_updates(self) -> bool {
        matches!(self, Case::ReplicaGcOn | Case::ReplicaGcOff)
    }
}

/// What one case cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    pub case: Case,
    /// Trace transactions replayed (one yrs transaction, or one update, each).
    pub txns: usize,
    /// Final text length, UTF-16 code units.
    pub text_len: u32,
    /// Whether the final text is the trace's `endContent`.
    pub matches_end: bool,
    /// `encode_state_as_update_v1(&StateVector::default())` of the doc.
    pub state_bytes: usize,
    /// The same after loading that state into a fresh doc with the same GC setting.
    pub reload_bytes: usize,
    /// The same after loading it into a fresh doc with GC on (what collecting everything
    /// would leave).
    pub gc_reload_bytes: usize,
    /// The doc's structs, from its encoded state.
    pub census: Census,
    /// Heap the replay left allocated (net, bytes), when the counting allocator is installed.
    pub heap_bytes: Option<i64>,
    /// Highest net heap during the replay.
    pub heap_peak_bytes: Option<i64>,
    /// Resident set after the replay minus before, KiB.
    pub rss_growth_kib: i64,
    /// Peak resident set during the replay minus the resident set before, KiB.
    pub rss_peak_growth_kib: i64,
    /// Time of the replay alone, milliseconds.
    pub replay_ms: f64,
    /// Replica cases: total size of the v1 updates applied.
    pub update_bytes: Option<usize>,
    /// `replica-gc-off`: the replica after collecting all but the undo window.
    pub partial_gc: Option<PartialGc>,
}

/// A GC-off replica after `TransactionMut::gc` on every deletion outside the undo window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartialGc {
    /// Updates (from the end of the trace) whose deletions were spared.
    pub undo_window: usize,
    pub state_bytes: usize,
    pub census: Census,
    /// Heap the doc holds afterwards (the replay's figure plus what the collection changed).
    pub heap_bytes: Option<i64>,
    pub gc_ms: f64,
    /// Whether the text is unchanged by the collection.
    pub text_unchanged: bool,
}

/// Replays `trace` as `case` and measures it; `undo_window` matters to `replica-gc-off` only.
pub fn measure(trace: &Trace, case: Case, undo_window: usize) -> anyhow::Result<Measurement> {
    let counted = heap::installed();
    let updates = if case.as_updates() {
        Some(author_updates(trace))
    } else {
        None
    };
    let doc = new_doc(if case.as_updates() { REPLICA } else { AUTHOR }, case.gc());
    let text = doc.get_or_insert_text(TEXT);

    let pid = std::process::id();
    procstat::reset_peak(pid);
    let before = procstat::sample(pid).context("reading /proc/self")?;
    if counted {
        heap::start();
    }
    let started = Instant::now();
    match &updates {
        Some(updates) => apply_updates(&doc, updates)?,
        None => edit_locally(&doc, &text, trace),
    }
    let replay_ms = started.elapsed().as_secs_f64() * 1e3;
    let heap_reading = counted.then(heap::stop);
    let after = procstat::sample(pid).context("reading /proc/self")?;

    let final_text = text.get_string(&doc.transact());
    let state = encode_state(&doc);
    let mut measurement = Measurement {
        case,
        txns: trace.txns.len(),
        text_len: text.len(&doc.transact()),
        matches_end: final_text == trace.end_content,
        state_bytes: state.len(),
        reload_bytes: encode_state(&reload(&state, case.gc())?).len(),
        gc_reload_bytes: encode_state(&reload(&state, true)?).len(),
        census: census::count(&state)?,
        heap_bytes: heap_reading.map(|r| r.live),
        heap_peak_bytes: heap_reading.map(|r| r.peak),
        rss_growth_kib: after.rss_kib as i64 - before.rss_kib as i64,
        rss_peak_growth_kib: after.peak_rss_kib as i64 - before.rss_kib as i64,
        replay_ms,
        update_bytes: updates.as_ref().map(|u| u.iter().map(Vec::len).sum()),
        partial_gc: None,
    };
    if let (Case::ReplicaGcOff, Some(updates)) = (case, &updates) {
        let partial = collect_outside_window(&doc, updates, undo_window, counted)?;
        measurement.partial_gc = Some(PartialGc {
            heap_bytes: measurement
                .heap_bytes
                .zip(partial.heap_bytes)
                .map(|(a, b)| a + b),
            text_unchanged: text.get_string(&doc.transact()) == final_text,
            ..partial
        });
    }
    Ok(measurement)
}

fn new_doc(client_id: u64, gc: bool) -> Doc {
    Doc::with_options(Options {
        client_id: ClientID::new(client_id),
        offset_kind: OffsetKind::Utf16,
        skip_gc: !gc,
        ..Options::default()
    })
}

fn edit_locally(doc: &Doc, text: &TextRef, trace: &Trace) {
    if !trace.start_content.is_empty() {
        text.insert(&mut doc.transact_mut(), 0, &trace.start_content);
    }
    for txn in &trace.txns {
        let mut t = doc.transact_mut();
        for patch in &txn.patches {
            if patch.delete() > 0 {
                text.remove_range(&mut t, patch.pos(), patch.delete());
            }
            if !patch.insert().is_empty() {
                text.insert(&mut t, patch.pos(), patch.insert());
            }
        }
    }
}

/// The v1 update of each trace transaction, made by an author doc with GC on (the start
/// content, if any, as one more update first).
fn author_updates(trace: &Trace) -> Vec<Vec<u8>> {
    let author = new_doc(AUTHOR, true);
    let text = author.get_or_insert_text(TEXT);
    let mut updates = Vec::with_capacity(trace.txns.len() + 1);
    if !trace.start_content.is_empty() {
        let mut t = author.transact_mut();
        text.insert(&mut t, 0, &trace.start_content);
        updates.push(t.encode_update_v1());
    }
    for txn in &trace.txns {
        let mut t = author.transact_mut();
        for patch in &txn.patches {
            if patch.delete() > 0 {
                text.remove_range(&mut t, patch.pos(), patch.delete());
            }
            if !patch.insert().is_empty() {
                text.insert(&mut t, patch.pos(), patch.insert());
            }
        }
        let mut update = t.encode_update_v1();
        update.shrink_to_fit();
        updates.push(update);
    }
    updates
}

/// Applies each update in a transaction of its own, as the gateway's replica does.
fn apply_updates(doc: &Doc, updates: &[Vec<u8>]) -> anyhow::Result<()> {
    for (i, update) in updates.iter().enumerate() {
        let update = Update::decode_v1(update).with_context(|| format!("decoding update {i}"))?;
        doc.transact_mut()
            .apply_update(update)
            .with_context(|| format!("applying update {i}"))?;
    }
    Ok(())
}

fn encode_state(doc: &Doc) -> Vec<u8> {
    doc.transact()
        .encode_state_as_update_v1(&StateVector::default())
}

fn reload(state: &[u8], gc: bool) -> anyhow::Result<Doc> {
    let doc = new_doc(REPLICA + 1, gc);
    doc.transact_mut()
        .apply_update(Update::decode_v1(state)?)
        .context("reloading the state")?;
    Ok(doc)
}

/// Collects every deleted item of `doc` except those the last `window` updates deleted
/// ([`collect::outside`]). `heap_bytes` of the result is the change the collection made,
/// not the doc's total.
fn collect_outside_window(
    doc: &Doc,
    updates: &[Vec<u8>],
    window: usize,
    counted: bool,
) -> anyhow::Result<PartialGc> {
    let mut spared = IdSet::new();
    for update in &updates[updates.len().saturating_sub(window)..] {
        spared.merge_with(Update::decode_v1(update)?.delete_set().clone());
    }
    if counted {
        heap::start();
    }
    let started = Instant::now();
    collect::outside(doc, &spared)?;
    let gc_ms = started.elapsed().as_secs_f64() * 1e3;
    let heap_reading = counted.then(heap::stop);
    let after = encode_state(doc);
    Ok(PartialGc {
        undo_window: window,
        state_bytes: after.len(),
        census: census::count(&after)?,
        heap_bytes: heap_reading.map(|r| r.live),
        gc_ms,
        text_unchanged: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Types "hello world", deletes "world", types "there" (and an é, to cross UTF-8).
    fn small_trace() -> Trace {
        let mut txns = Vec::new();
        for (i, c) in "hello world".chars().enumerate() {
            txns.push(format!(r#"{{"patches":[[{i},0,"{c}"]]}}"#));
        }
        for i in (6..11).rev() {
            txns.push(format!(r#"{{"patches":[[{i},1,""]]}}"#));
        }
        txns.push(r#"{"patches":[[6,0,"thére"]]}"#.to_owned());
        let json = format!(
            r#"{{"endContent":"hello thére","txns":[{}]}}"#,
            txns.join(",")
        );
        serde_json::from_str(&json).expect("parses")
    }

    #[test]
    fn every_case_ends_with_the_trace_text_and_gc_off_is_never_smaller() {
        let trace = small_trace();
        let m: Vec<Measurement> = Case::ALL
            .iter()
            .map(|&case| measure(&trace, case, 2).expect("measures"))
            .collect();
        for m in &m {
            assert!(m.matches_end, "{}: wrong end text", m.case.name());
            assert_eq!(m.text_len, 11);
            assert!(m.reload_bytes <= m.state_bytes + 8, "{m:?}");
            assert!(m.gc_reload_bytes <= m.state_bytes, "{m:?}");
        }
        assert!(m[1].state_bytes > m[0].state_bytes, "local: {m:?}");
        assert!(m[3].state_bytes > m[2].state_bytes, "replica: {m:?}");
        assert!(m[1].census.with_content > m[0].census.with_content);
        let partial = m[3].partial_gc.as_ref().expect("replica-gc-off collects");
        assert!(partial.text_unchanged);
        assert!(partial.state_bytes <= m[3].state_bytes);
        assert!(partial.state_bytes >= m[2].state_bytes);
    }

    /// The mechanism of the proposed policy, with the gateway's undo path (a transient
    /// manager seeded with a stored item, on a replica reloaded from the compacted state):
    /// collecting the deletions outside the window leaves the window's deletion undoable,
    /// and the collected one can no longer be restored. ("hello " is typed before "big world"
    /// so that it is a block of its own: a block a spared deletion shares is kept whole.)
    #[test]
    fn collecting_outside_the_window_keeps_the_window_undoable() {
        use yrs::undo::{Options as UndoOptions, StackItem, UndoManager};

        let trace: Trace = serde_json::from_str(
            r#"{"endContent":"world","txns":[
                {"patches":[[0,0,"big world"]]},
                {"patches":[[0,0,"hello "]]},
                {"patches":[[0,6,""]]},
                {"patches":[[0,4,""]]}]}"#,
        )
        .expect("parses");
        let updates = author_updates(&trace);
        let replica = new_doc(REPLICA, false);
        apply_updates(&replica, &updates).expect("applies");
        collect_outside_window(&replica, &updates, 1, false).expect("collects");
        let compacted = encode_state(&replica);
        let census = census::count(&compacted).expect("counts");
        assert_eq!(census.tombstones, 1, "only \"hello \" lost its content");

        let deletions = |i: usize| {
            Update::decode_v1(&updates[i])
                .expect("decodes")
                .delete_set()
                .clone()
        };
        let undo = |deleted: IdSet| {
            let doc = reload(&compacted, false).expect("reloads");
            let text = doc.get_or_insert_text(TEXT);
            let item = StackItem::new(doc.guid(), deleted, IdSet::new());
            let mut undo: UndoManager<()> = UndoManager::with_options(UndoOptions {
                init_undo_stack: vec![item],
                ..UndoOptions::default()
            });
            undo.expand_scope(&doc, &text);
            undo.undo_blocking();
            text.get_string(&doc.transact())
        };
        assert_eq!(undo(deletions(3)), "big world", "inside the window");
        assert_eq!(undo(deletions(2)), "world", "collected: nothing to restore");
    }
}
