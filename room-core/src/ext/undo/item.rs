//! One undo item: the ids a user's edits inserted and the ids they deleted, as yrs's
//! `StackItem` holds them, and the bytes Redis keeps for it.
//!
//! A stored item is a sequence of parts, each `varUint8Array(insertions v1)
//! varUint8Array(deletions v1)`: the append script extends the top item of a user's list
//! by concatenating the new part while the capture window is open, so Redis never needs to
//! understand an `IdSet`. Decoding merges the parts back into one item.

use yrs::encoding::read::{Cursor, Read};
use yrs::encoding::write::Write;
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{IdSet, StateVector};

/// The stored form does not decode.
#[derive(Debug, thiserror::Error)]
#[error("a stored undo item does not decode: {0}")]
pub struct ItemError(String);

/// What an edit (or several, merged) inserted and deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UndoItem {
    pub insertions: IdSet,
    pub deletions: IdSet,
}

impl UndoItem {
    pub fn new(insertions: IdSet, deletions: IdSet) -> Self {
        UndoItem {
            insertions,
            deletions,
        }
    }

    /// An item that changed nothing is not worth a place on a stack.
    pub fn is_empty(&self) -> bool {
        self.insertions.is_empty() && self.deletions.is_empty()
    }

    /// The stored form of this item as one part.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.write_buf(self.insertions.encode_v1());
        out.write_buf(self.deletions.encode_v1());
        out
    }

    /// A stored item: one part or several concatenated, merged into one.
    pub fn decode(stored: &[u8]) -> Result<Self, ItemError> {
        let mut cursor = Cursor::new(stored);
        let mut item = UndoItem::default();
        let bad = |e: yrs::encoding::read::Error| ItemError(e.to_string());
        while cursor.has_content() {
            let insertions = IdSet::decode_v1(cursor.read_buf().map_err(bad)?).map_err(bad)?;
            let deletions = IdSet::decode_v1(cursor.read_buf().map_err(bad)?).map_err(bad)?;
            item.insertions.merge_with(insertions);
            item.deletions.merge_with(deletions);
        }
        Ok(item)
    }

    /// Whether a replica at `sv` lacks some of the content this item names (it then has to
    /// catch up from the log before the item can be applied whole).
    pub fn beyond(&self, sv: &StateVector) -> bool {
        [&self.insertions, &self.deletions].into_iter().any(|set| {
            set.iter().any(|(client, ranges)| {
                let end = ranges.iter().map(|r| r.end).max().unwrap_or(0);
                end > sv.get(client)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use yrs::{ClientID, ID, ReadTxn, Text, Transact};

    use super::*;

    fn set(client: u64, clock: u32, len: u32) -> IdSet {
        let mut s = IdSet::new();
        s.insert(ID::new(ClientID::new(client), clock), len);
        s
    }

    #[test]
    fn parts_concatenated_decode_as_their_merge() {
        let first = UndoItem::new(set(1, 0, 3), IdSet::new());
        let second = UndoItem::new(set(1, 3, 2), set(2, 0, 1));
        let mut stored = first.encode();
        stored.extend_from_slice(&second.encode());
        let item = UndoItem::decode(&stored).expect("decodes");
        assert_eq!(item.insertions, set(1, 0, 5));
        assert_eq!(item.deletions, set(2, 0, 1));
        assert_eq!(UndoItem::decode(&first.encode()).expect("decodes"), first);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [&[0xff_u8, 0xff, 0xff][..], &[5, 1, 2], &[1]] {
            assert!(UndoItem::decode(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn knows_when_a_replica_lacks_its_content() {
        let doc = yrs::Doc::with_client_id(7);
        let text = doc.get_or_insert_text("monaco");
        text.insert(&mut doc.transact_mut(), 0, "abc");
        let sv = doc.transact().state_vector();
        assert!(!UndoItem::new(set(7, 0, 3), IdSet::new()).beyond(&sv));
        assert!(UndoItem::new(set(7, 2, 2), IdSet::new()).beyond(&sv));
        assert!(UndoItem::new(IdSet::new(), set(8, 0, 1)).beyond(&sv));
    }
}
