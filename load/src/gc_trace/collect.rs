//! Collecting the deleted content of a GC-off doc except what a set of deletions still
//! needs (the deletions of live undo and redo items): the mechanism of the memory policy
//! proposed in `load/traces/README.md`.
//!
//! yrs offers `TransactionMut::gc(Some(&ids))`, which collects even a `skip_gc` doc, but in
//! yrs 0.28.1 it walks blocks from the *range's* start clock rather than the first block's
//! (`GCCollector::mark_in_scope`, gc.rs): a range that starts inside a block collects that
//! whole block (content outside the range included) and can leave blocks it does cover
//! alone. The test below shows it. So [`outside`] hands it only ranges made of whole blocks,
//! read from the doc's encoded state: a block partly spared is kept whole.

use std::collections::HashMap;
use std::ops::Range;

use yrs::updates::decoder::Decode;
use yrs::{ClientID, Doc, ID, IdSet, ReadTxn, StateVector, Transact, Update};

use super::census::{self, Kind};

/// Collects every deleted item of `doc` that `spared` does not touch.
pub fn outside(doc: &Doc, spared: &IdSet) -> anyhow::Result<()> {
    let state = doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    let collectable = Update::decode_v1(&state)?.delete_set().diff(spared);
    let whole = whole_blocks(&state, &collectable)?;
    doc.transact_mut().gc(Some(&whole));
    Ok(())
}

/// The blocks of `state` (items with content) that lie wholly inside `ids`.
fn whole_blocks(state: &[u8], ids: &IdSet) -> anyhow::Result<IdSet> {
    let ranges: HashMap<ClientID, Vec<Range<u32>>> = ids
        .iter()
        .map(|(client, r)| (*client, r.iter().cloned().collect()))
        .collect();
    let mut whole = IdSet::new();
    census::walk(state, |s| {
        if s.kind != Kind::Item {
            return;
        }
        let Some(ranges) = ranges.get(&s.client) else {
            return;
        };
        // The last range starting at or before the block's start must reach its end.
        let i = ranges.partition_point(|r| r.start <= s.clock);
        if i > 0 && ranges[i - 1].end >= s.clock + s.len {
            whole.insert(ID::new(s.client, s.clock), s.len);
        }
    })?;
    Ok(whole)
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::{GetString, Options, Text};

    /// Two blocks, clocks 0..10 ("0123456789") and 10..20 ("ABCDEFGHIJ"), all deleted in
    /// three steps; the first step (clocks 0..5) is spared. Returns the doc and that step.
    fn doc_with_a_spared_deletion() -> (Doc, IdSet) {
        let doc = Doc::with_options(Options {
            client_id: ClientID::new(1),
            skip_gc: true,
            ..Options::default()
        });
        let text = doc.get_or_insert_text("monaco");
        text.insert(&mut doc.transact_mut(), 0, "0123456789");
        text.insert(&mut doc.transact_mut(), 0, "ABCDEFGHIJ");
        let spared = {
            let mut t = doc.transact_mut();
            text.remove_range(&mut t, 10, 5);
            t.delete_set().clone()
        };
        text.remove_range(&mut doc.transact_mut(), 10, 5);
        text.remove_range(&mut doc.transact_mut(), 0, 10);
        assert_eq!(text.get_string(&doc.transact()), "");
        (doc, spared)
    }

    fn structs(doc: &Doc) -> Vec<(u32, Kind)> {
        let state = doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        let mut out = Vec::new();
        census::walk(&state, |s| out.push((s.clock, s.kind))).expect("walks");
        out
    }

    #[test]
    fn yrs_gc_with_a_range_starting_inside_a_block_collects_the_wrong_blocks() {
        // If this starts failing, yrs fixed `mark_in_scope`: `outside` could then pass the
        // collectable set to `gc` as it is.
        let (doc, spared) = doc_with_a_spared_deletion();
        let state = doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        let collectable = Update::decode_v1(&state)
            .expect("decodes")
            .delete_set()
            .diff(&spared);
        doc.transact_mut().gc(Some(&collectable));
        // The spared block 0..10 lost its content; the collectable 10..20 kept it.
        assert_eq!(structs(&doc), vec![(0, Kind::Tombstone), (10, Kind::Item)]);
    }

    #[test]
    fn collects_whole_blocks_only_and_spares_any_block_a_spared_deletion_touches() {
        let (doc, spared) = doc_with_a_spared_deletion();
        outside(&doc, &spared).expect("collects");
        assert_eq!(structs(&doc), vec![(0, Kind::Item), (10, Kind::Tombstone)]);
        // Nothing spared: everything deleted goes.
        outside(&doc, &IdSet::new()).expect("collects");
        assert_eq!(
            structs(&doc),
            vec![(0, Kind::Tombstone), (10, Kind::Tombstone)]
        );
    }
}
