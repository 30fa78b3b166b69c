//! The engine-neutral shapes of a file's log on the way in: what an append takes and
//! returns, and what a compaction did (what a read brings back is [`super::tail`]).
//!
//! A log entry is one merged update with the gateway it came from; the authored parts of
//! a batch travel beside it, so the users who wrote each update can be recorded later
//! (per-user undo) without changing the interface.

use std::sync::Arc;

use super::error::EngineError;
use collab_room_core::ext::undo::UndoRecord;

/// Result of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub pos: u64,
    pub log_len: u64,
}

/// What a compaction did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompactOutcome {
    Compacted {
        pos: u64,
        entries: usize,
        state_bytes: usize,
    },
    /// Another gateway compacted first; its snapshot stands.
    LostRace,
    NothingToDo,
}

/// One accepted update and the user id who wrote it (`None`: the gateway's own restore of
/// a whole state, which is nobody's edit), with what it means for the author's undo and
/// redo lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authored {
    pub author: Option<Arc<str>>,
    pub update: Vec<u8>,
    /// Recorded only with an author.
    pub undo: Option<UndoRecord>,
}

/// A merge that failed, with the parts handed back so they can go to the log one by one.
#[derive(Debug)]
pub struct MergeFailed {
    pub error: EngineError,
    pub parts: Vec<Authored>,
}

/// Updates that go to the log as one entry.
#[derive(Debug, Clone)]
pub struct AppendBatch {
    parts: Vec<Authored>,
    /// The merge of the parts; `None` when there is one part, which is its own merge.
    merged: Option<Vec<u8>>,
}

impl AppendBatch {
    pub fn single(part: Authored) -> Self {
        AppendBatch {
            parts: vec![part],
            merged: None,
        }
    }

    /// Several updates as one log entry (yrs::merge_updates_v1 when more than one); each keeps its author.
    pub fn merge(parts: Vec<Authored>) -> Result<Self, MergeFailed> {
        if parts.len() == 1 {
            return Ok(AppendBatch {
                parts,
                merged: None,
            });
        }
        let updates: Vec<&[u8]> = parts.iter().map(|p| p.update.as_slice()).collect();
        let merged = match yrs::merge_updates_v1(&updates) {
            Ok(merged) => merged,
            Err(e) => {
                let error = EngineError::Corrupt(e.to_string());
                return Err(MergeFailed { error, parts });
            }
        };
        Ok(AppendBatch {
            parts,
            merged: Some(merged),
        })
    }

    /// The log entry's update: the single part's bytes, or the merge.
    pub fn update(&self) -> &[u8] {
        match (&self.merged, self.parts.first()) {
            (Some(merged), _) => merged,
            (None, Some(part)) => &part.update,
            (None, None) => &[],
        }
    }

    /// The digest of the log entry's update ([`collab_room_core::digest`]): stored in the
    /// entry, so a gateway recognises its own entries by content.
    pub fn digest(&self) -> u64 {
        collab_room_core::digest::of(self.update())
    }

    /// Every update with its author, in order.
    pub fn parts(&self) -> &[Authored] {
        &self.parts
    }

    /// The sum of the parts' lengths: what was reserved for them in the pending budget.
    pub fn bytes(&self) -> usize {
        self.parts.iter().map(|p| p.update.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use yrs::updates::decoder::Decode;
    use yrs::{Doc, GetString, ReadTxn, StateVector, Text, Transact, Update};

    use super::*;

    /// An update inserting `text` at the start of a fresh doc's "t", by client `client`.
    fn edit(client: u64, text: &str) -> Vec<u8> {
        let doc = Doc::with_client_id(client);
        let t = doc.get_or_insert_text("t");
        let mut txn = doc.transact_mut();
        t.insert(&mut txn, 0, text);
        txn.encode_state_as_update_v1(&StateVector::default())
    }

    fn authored(user: &str, update: Vec<u8>) -> Authored {
        Authored {
            author: Some(Arc::from(user)),
            update,
            undo: None,
        }
    }

    #[test]
    fn single_is_its_own_update() {
        let update = edit(1, "hi");
        let batch = AppendBatch::single(authored("ann", update.clone()));
        assert_eq!(batch.update(), update.as_slice());
        assert_eq!(batch.bytes(), update.len());
        assert_eq!(batch.parts()[0].author.as_deref(), Some("ann"));
    }

    #[test]
    fn merge_keeps_authors_in_order_and_both_edits() {
        let (a, b) = (edit(1, "hello"), edit(2, "world"));
        let batch =
            AppendBatch::merge(vec![authored("ann", a.clone()), authored("bob", b.clone())])
                .expect("merge");
        let users: Vec<Option<&str>> = batch.parts().iter().map(|p| p.author.as_deref()).collect();
        assert_eq!(users, [Some("ann"), Some("bob")]);
        assert_eq!(batch.parts()[0].update, a);
        assert_eq!(batch.parts()[1].update, b);
        assert_eq!(batch.bytes(), a.len() + b.len());

        let doc = Doc::new();
        let t = doc.get_or_insert_text("t");
        let mut txn = doc.transact_mut();
        let update = Update::decode_v1(batch.update()).expect("decodes");
        txn.apply_update(update).expect("applies");
        let text = t.get_string(&txn);
        assert!(text.contains("hello") && text.contains("world"), "{text:?}");
        assert_eq!(text.len(), "helloworld".len());
    }

    #[test]
    fn merge_of_one_is_single() {
        let update = edit(1, "x");
        let batch = AppendBatch::merge(vec![authored("ann", update.clone())]).expect("merge");
        assert_eq!(batch.update(), update.as_slice());
    }

    #[test]
    fn merge_refuses_garbage_and_hands_the_parts_back() {
        let parts = vec![
            authored("ann", vec![0xff; 4]),
            authored("bob", vec![0xff; 4]),
        ];
        match AppendBatch::merge(parts.clone()) {
            Err(failed) => {
                assert!(matches!(failed.error, EngineError::Corrupt(_)));
                assert_eq!(failed.parts, parts);
            }
            Ok(_) => panic!("garbage does not merge"),
        }
    }
}
