//! Undoing or redoing one stored item on a room's replica.
//!
//! yrs's `UndoManager` knows how to revert an item with Yjs semantics (content others
//! inserted inside an undone range stays; deleted content comes back as new items that
//! point at the old ones). A transient manager is seeded with the one item, scoped to the
//! file's text, and asked to undo or redo it; what it pushed on its other stack is the
//! inverse item, and the transaction's update is what every other replica needs.
//! The replica has GC off, so deleted content is still there to restore.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};

use collab_protocol::UndoOp;
use yrs::undo::{Options, StackItem, UndoManager};

use crate::replica::{ApplyError, Replica};

use super::item::UndoItem;

/// What applying an item changed.
#[derive(Debug)]
pub struct Undone {
    /// The v1 update that made the change, for the clients, the log and other gateways.
    pub update: Vec<u8>,
    /// The item that reverts this change, for the other stack (redo after an undo).
    pub inverse: Option<UndoItem>,
}

/// Key of the update observer while an item is applied.
const OBSERVER: &str = "collab-undo";

/// Applies `item` (undo or redo) to the replica. `Ok(None)`: it changed nothing (its
/// content is gone or was reverted already). Must not run while a transaction on the
/// replica's doc is open (the room task holds none between inputs).
pub fn apply(replica: &Replica, item: UndoItem, op: UndoOp) -> Result<Option<Undone>, ApplyError> {
    let doc = replica.doc();
    let text = replica.text_ref();
    let stack = vec![StackItem::<()>::new(
        doc.guid(),
        item.deletions,
        item.insertions,
    )];
    let options = match op {
        UndoOp::Undo => Options {
            init_undo_stack: stack,
            ..Options::default()
        },
        UndoOp::Redo => Options {
            init_redo_stack: stack,
            ..Options::default()
        },
    };
    let updates = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
    let sink = updates.clone();
    doc.observe_update_v1(OBSERVER, move |_, event| {
        if let Ok(mut updates) = sink.lock() {
            updates.push(event.update.clone());
        }
    })
    .map_err(|e| ApplyError::Apply(e.to_string()))?;
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut manager: UndoManager<()> = UndoManager::with_options(options);
        manager.expand_scope(doc, &text);
        let changed = match op {
            UndoOp::Undo => manager.undo_blocking(),
            UndoOp::Redo => manager.redo_blocking(),
        };
        let other = match op {
            UndoOp::Undo => manager.redo_stack(),
            UndoOp::Redo => manager.undo_stack(),
        };
        let inverse = other
            .last()
            .map(|s| UndoItem::new(s.insertions().clone(), s.deletions().clone()))
            .filter(|inverse| !inverse.is_empty());
        (changed, inverse)
    }));
    let _ = doc.unobserve_update_v1(OBSERVER);
    replica.touched();
    let (changed, inverse) = outcome.map_err(|_| ApplyError::Panicked)?;
    let updates = std::mem::take(&mut *updates.lock().map_err(|_| ApplyError::Panicked)?);
    let updates: Vec<Vec<u8>> = updates
        .into_iter()
        .filter(|u| !crate::replica::is_empty_update(u))
        .collect();
    if !changed || updates.is_empty() {
        return Ok(None);
    }
    let update = if updates.len() == 1 {
        updates.into_iter().next().unwrap_or_default()
    } else {
        let parts: Vec<&[u8]> = updates.iter().map(Vec::as_slice).collect();
        yrs::merge_updates_v1(&parts).map_err(|e| ApplyError::Apply(e.to_string()))?
    };
    Ok(Some(Undone { update, inverse }))
}

#[cfg(test)]
mod tests {
    use yrs::updates::decoder::Decode;
    use yrs::{Doc, GetString, OffsetKind, Options as DocOptions, Text, Transact, Update};

    use super::*;

    /// A user's doc, GC off like the clients' and the replica's peers do not need to be.
    fn user(client: u64) -> Doc {
        Doc::with_options(DocOptions {
            client_id: yrs::ClientID::new(client),
            offset_kind: OffsetKind::Utf16,
            ..DocOptions::default()
        })
    }

    /// Applies a local edit to `doc`, hands its update to the replica, returns the item
    /// the replica captured.
    fn edit(
        doc: &Doc,
        replica: &Replica,
        f: impl FnOnce(&yrs::TextRef, &mut yrs::TransactionMut),
    ) -> UndoItem {
        let text = doc.get_or_insert_text("monaco");
        let update = {
            let mut txn = doc.transact_mut();
            f(&text, &mut txn);
            txn.encode_update_v1()
        };
        let edit = replica
            .apply_edit(&update)
            .expect("applies")
            .expect("changes");
        UndoItem::new(edit.insertions, edit.deletions)
    }

    fn sync(doc: &Doc, update: &[u8]) {
        doc.transact_mut()
            .apply_update(Update::decode_v1(update).expect("decodes"))
            .expect("applies");
    }

    #[test]
    fn undo_removes_only_the_item_and_redo_brings_it_back() {
        let replica = Replica::new("monaco");
        let (ann, bob) = (user(1), user(2));
        let a = edit(&ann, &replica, |t, txn| t.insert(txn, 0, "hello "));
        let snapshot = replica.diff(&yrs::StateVector::default()).expect("encodes");
        sync(&bob, &snapshot);
        edit(&bob, &replica, |t, txn| t.insert(txn, 6, "world"));
        assert_eq!(replica.text(), "hello world");

        let undone = apply(&replica, a, UndoOp::Undo)
            .expect("applies")
            .expect("changes");
        assert_eq!(replica.text(), "world");
        let peer = Doc::new();
        sync(
            &peer,
            &replica.diff(&yrs::StateVector::default()).expect("encodes"),
        );
        assert_eq!(
            peer.get_or_insert_text("monaco")
                .get_string(&peer.transact()),
            "world"
        );

        let inverse = undone.inverse.expect("an inverse for redo");
        apply(&replica, inverse, UndoOp::Redo)
            .expect("applies")
            .expect("changes");
        assert_eq!(replica.text(), "hello world");
    }

    #[test]
    fn undoing_a_deletion_restores_the_text_and_others_insertions_stay() {
        let replica = Replica::new("monaco");
        let (ann, bob) = (user(1), user(2));
        edit(&ann, &replica, |t, txn| t.insert(txn, 0, "abcdef"));
        sync(
            &bob,
            &replica.diff(&yrs::StateVector::default()).expect("encodes"),
        );
        // Bob types inside what Ann is about to have typed: Ann's range keeps Bob's letters.
        let mine = edit(&ann, &replica, |t, txn| t.insert(txn, 6, "XYZ"));
        sync(
            &bob,
            &replica.diff(&yrs::StateVector::default()).expect("encodes"),
        );
        edit(&bob, &replica, |t, txn| t.insert(txn, 7, "b"));
        assert_eq!(replica.text(), "abcdefXbYZ");
        apply(&replica, mine, UndoOp::Undo)
            .expect("applies")
            .expect("changes");
        assert_eq!(replica.text(), "abcdefb");

        sync(
            &ann,
            &replica.diff(&yrs::StateVector::default()).expect("encodes"),
        );
        let deletion = edit(&ann, &replica, |t, txn| t.remove_range(txn, 0, 3));
        assert_eq!(replica.text(), "defb");
        apply(&replica, deletion, UndoOp::Undo)
            .expect("applies")
            .expect("changes");
        assert_eq!(replica.text(), "abcdefb");
    }

    #[test]
    fn an_item_undone_twice_changes_nothing_the_second_time() {
        let replica = Replica::new("monaco");
        let ann = user(1);
        let a = edit(&ann, &replica, |t, txn| t.insert(txn, 0, "hi"));
        assert!(
            apply(&replica, a.clone(), UndoOp::Undo)
                .expect("applies")
                .is_some()
        );
        assert!(apply(&replica, a, UndoOp::Undo).expect("applies").is_none());
        assert_eq!(replica.text(), "");
    }
}
