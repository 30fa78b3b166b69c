//! Did a joiner get the whole document? Checked without applying it.
//!
//! A `join-storm` joiner that applied its 20 MB sync step 2 into a `Doc` cost the harness
//! more than the gateways (150 copies on the same 2 cores: a p50 of 3.99 s measured the
//! harness). A light joiner decodes the update (`Update::decode_v1`, no integration) and
//! compares what it names with what the seeder wrote: the ids of every block (inserted
//! clock ranges per client, deleted or not), the delete set, and the visible length they
//! give. Blocks may arrive split or merged differently (the gateway's doc splits items
//! where edits landed), so ranges are normalised before hashing. A truncated or wrong
//! document has other ids or another length; content under the right ids is what the
//! sampled full joiners check, by applying it and comparing the text itself.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::ops::Range;

use yrs::updates::decoder::Decode;
use yrs::{Doc, GetString, IdSet, ReadTxn, StateVector, Text, TextRef, Transact, Update};

/// What the seeder knows of the document every joiner must receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpectedDoc {
    /// Length of the text in UTF-16 units.
    pub len: u32,
    /// Hash of the normalised inserted and deleted ids.
    pub ids: u64,
    /// Hash of the text itself.
    pub text: u64,
}

impl ExpectedDoc {
    /// The expectation for a document whose root text is `text`.
    pub fn of(doc: &Doc, text: &TextRef) -> anyhow::Result<ExpectedDoc> {
        let txn = doc.transact();
        let full = txn.encode_state_as_update_v1(&StateVector::default());
        let update = Update::decode_v1(&full)?;
        let (len, ids) = fingerprint(&update);
        let expected = ExpectedDoc {
            len,
            ids,
            text: text_hash(&text.get_string(&txn)),
        };
        let text_len = text.len(&txn);
        anyhow::ensure!(
            text_len == len,
            "the seeded update names {len} live units but the text has {text_len}"
        );
        Ok(expected)
    }

    /// Checks a decoded sync step 2 (the light joiner's check).
    pub fn check_update(&self, update: &Update) -> Result<(), String> {
        let (len, ids) = fingerprint(update);
        if len != self.len {
            return Err(format!(
                "received a document of {len} units, expected {}",
                self.len
            ));
        }
        if ids != self.ids {
            return Err(format!(
                "received a document of the right length ({len} units) but other ids \
                 ({ids:016x}, expected {:016x})",
                self.ids
            ));
        }
        Ok(())
    }

    /// Checks the text of a document a full joiner applied.
    pub fn check_text(&self, text: &str, len: u32) -> Result<(), String> {
        if len != self.len {
            return Err(format!(
                "synced to a text of {len} units, expected {}",
                self.len
            ));
        }
        if text_hash(text) != self.text {
            return Err(format!(
                "synced to a text of {len} units unlike the seeded one"
            ));
        }
        Ok(())
    }
}

/// Visible length (UTF-16 units of live blocks) and a hash of the normalised ids.
pub fn fingerprint(update: &Update) -> (u32, u64) {
    let inserted = update.insertions(true);
    let deleted = update.delete_set();
    let mut live = inserted.clone();
    live.diff_with(deleted);
    let len: u32 = normalised(&live)
        .iter()
        .flat_map(|(_, ranges)| ranges.iter().map(|r| r.end - r.start))
        .sum();
    let mut h = DefaultHasher::new();
    normalised(&inserted).hash(&mut h);
    0xdeu8.hash(&mut h);
    normalised(deleted).hash(&mut h);
    (len, h.finish())
}

/// Per client (ascending), its clock ranges sorted with adjacent and overlapping ones merged.
fn normalised(set: &IdSet) -> Vec<(u64, Vec<Range<u32>>)> {
    set.iter()
        .map(|(client, ranges)| {
            let mut rs: Vec<Range<u32>> =
                ranges.iter().filter(|r| r.start < r.end).cloned().collect();
            rs.sort_by_key(|r| r.start);
            let mut merged: Vec<Range<u32>> = Vec::with_capacity(rs.len());
            for r in rs {
                match merged.last_mut() {
                    Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
                    _ => merged.push(r),
                }
            }
            (client.get(), merged)
        })
        .filter(|(_, rs)| !rs.is_empty())
        .collect()
}

fn text_hash(text: &str) -> u64 {
    let mut h = DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::new_doc;

    /// A document written in chunks with some deletions, as the seeder would.
    fn seeded() -> (Doc, TextRef) {
        let (doc, text) = new_doc(7);
        for chunk in 0..5 {
            let mut txn = doc.transact_mut();
            let at = text.len(&txn);
            text.insert(&mut txn, at, &format!("line {chunk} of the seeded text\n"));
        }
        text.remove_range(&mut doc.transact_mut(), 3, 4);
        (doc, text)
    }

    fn full_update(doc: &Doc) -> Update {
        let bytes = doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        Update::decode_v1(&bytes).expect("own update decodes")
    }

    #[test]
    fn the_whole_document_passes_through_a_replica_that_split_its_blocks() {
        let (doc, text) = seeded();
        let expected = ExpectedDoc::of(&doc, &text).expect("expectation");
        // A gateway's replica, built from the updates and re-encoded: blocks may split.
        let (replica, rtext) = new_doc(8);
        replica
            .transact_mut()
            .apply_update(full_update(&doc))
            .expect("applies");
        let received = full_update(&replica);
        assert_eq!(expected.check_update(&received), Ok(()));
        let txn = replica.transact();
        assert_eq!(
            expected.check_text(&rtext.get_string(&txn), rtext.len(&txn)),
            Ok(())
        );
    }

    /// Client 7's chunks `0..n`, without the deletion.
    fn chunks(n: usize) -> Doc {
        let (doc, text) = new_doc(7);
        for chunk in 0..n {
            let mut txn = doc.transact_mut();
            let at = text.len(&txn);
            text.insert(&mut txn, at, &format!("line {chunk} of the seeded text\n"));
        }
        doc
    }

    #[test]
    fn a_truncated_or_wrong_document_fails() {
        let (doc, text) = seeded();
        let expected = ExpectedDoc::of(&doc, &text).expect("expectation");

        // Truncated: missing the last chunk.
        let err = expected.check_update(&full_update(&chunks(4)));
        assert!(
            err.as_ref().is_err_and(|e| e.contains("units, expected")),
            "{err:?}"
        );
        // Missing the deletion: the same blocks, longer.
        let err = expected.check_update(&full_update(&chunks(5)));
        assert!(
            err.as_ref().is_err_and(|e| e.contains("units, expected")),
            "{err:?}"
        );
        // Same length, other ids: another writer typed the same text.
        let (other, otext) = new_doc(9);
        otext.insert(
            &mut other.transact_mut(),
            0,
            &text.get_string(&doc.transact()),
        );
        let err = expected.check_update(&full_update(&other));
        assert!(
            err.as_ref().is_err_and(|e| e.contains("other ids")),
            "{err:?}"
        );
        // An empty document.
        assert!(expected.check_update(&Update::new()).is_err());

        // The full joiner's text check: other content of the right length, a wrong length.
        let txn = doc.transact();
        let mut wrong = text.get_string(&txn);
        wrong.replace_range(0..1, "X");
        assert!(expected.check_text(&wrong, text.len(&txn)).is_err());
        assert!(expected.check_text(&text.get_string(&txn), 3).is_err());
    }
}
