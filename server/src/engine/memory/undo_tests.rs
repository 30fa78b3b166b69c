//! The memory undo lists follow the Redis scripts' rules: the capture window, the item
//! size cap, depth, expiry, redo cleared by a new edit, and notices only when a count
//! moves between zero and non-zero.

use std::sync::Arc;
use std::time::Duration;

use collab_protocol::UndoOp;

use super::{MAX_ITEM_BYTES, UndoLists};
use crate::engine::log::{AppendBatch, Authored};
use collab_room_core::ext::undo::{UndoPolicy, UndoRecord};

fn policy() -> UndoPolicy {
    UndoPolicy {
        capture: Duration::from_millis(500),
        depth: 3,
        ttl: Duration::from_secs(10),
    }
}

fn part(user: &str, record: UndoRecord) -> Authored {
    Authored {
        author: Some(Arc::from(user)),
        update: vec![0, 0],
        undo: Some(record),
    }
}

fn edit(lists: &mut UndoLists, user: &str, bytes: &[u8], now: u64) -> usize {
    let batch = AppendBatch::single(part(user, UndoRecord::Edit(bytes.to_vec())));
    lists.record(&batch, &policy(), now).len()
}

fn pop(lists: &mut UndoLists, user: &str, op: UndoOp, now: u64) -> Option<Vec<u8>> {
    lists.pop(user, op, now).0.item
}

#[test]
fn edits_within_the_capture_window_are_one_item() {
    let mut lists = UndoLists::default();
    assert_eq!(
        edit(&mut lists, "ann", b"a", 1000),
        1,
        "0 -> 1 is announced"
    );
    assert_eq!(edit(&mut lists, "ann", b"b", 1400), 0);
    // The window counts from the last edit: 1400 + 499.
    edit(&mut lists, "ann", b"c", 1899);
    edit(&mut lists, "ann", b"d", 2399);
    assert_eq!(lists.counts("ann", 2400).undo, 2);
    assert_eq!(
        pop(&mut lists, "ann", UndoOp::Undo, 2400),
        Some(b"d".to_vec())
    );
    assert_eq!(
        pop(&mut lists, "ann", UndoOp::Undo, 2400),
        Some(b"abc".to_vec())
    );
    assert_eq!(pop(&mut lists, "ann", UndoOp::Undo, 2400), None);
}

#[test]
fn one_batch_of_a_users_edits_is_one_record_and_users_stay_apart() {
    let mut lists = UndoLists::default();
    let batch = AppendBatch::merge(vec![
        part("ann", UndoRecord::Edit(b"1".to_vec())),
        part("ann", UndoRecord::Edit(b"2".to_vec())),
        part("bob", UndoRecord::Edit(b"3".to_vec())),
    ])
    .expect("merges");
    assert_eq!(lists.record(&batch, &policy(), 10).len(), 2);
    assert_eq!(
        pop(&mut lists, "ann", UndoOp::Undo, 10),
        Some(b"12".to_vec())
    );
    assert_eq!(
        pop(&mut lists, "bob", UndoOp::Undo, 10),
        Some(b"3".to_vec())
    );
}

#[test]
fn an_item_stops_growing_at_the_size_cap() {
    let mut lists = UndoLists::default();
    let big = vec![b'x'; MAX_ITEM_BYTES - 100];
    edit(&mut lists, "ann", &big, 1000);
    edit(&mut lists, "ann", &[b'y'; 200], 1001);
    assert_eq!(lists.counts("ann", 1002).undo, 2);
}

#[test]
fn inverses_go_to_the_other_list_and_a_new_edit_clears_redo() {
    let mut lists = UndoLists::default();
    edit(&mut lists, "ann", b"a", 1000);
    pop(&mut lists, "ann", UndoOp::Undo, 1100);
    let undone = AppendBatch::single(part("ann", UndoRecord::Undone(b"-a".to_vec())));
    assert_eq!(
        lists.record(&undone, &policy(), 1200).len(),
        1,
        "redo 0 -> 1"
    );
    assert_eq!(
        pop(&mut lists, "ann", UndoOp::Redo, 1300),
        Some(b"-a".to_vec())
    );
    let redone = AppendBatch::single(part("ann", UndoRecord::Redone(b"a'".to_vec())));
    lists.record(&redone, &policy(), 1300);
    // An inverse never absorbs a later edit, however soon it comes.
    edit(&mut lists, "ann", b"b", 1301);
    assert_eq!(
        pop(&mut lists, "ann", UndoOp::Undo, 1302),
        Some(b"b".to_vec())
    );
    assert_eq!(
        pop(&mut lists, "ann", UndoOp::Undo, 1302),
        Some(b"a'".to_vec())
    );

    let undone = AppendBatch::single(part("ann", UndoRecord::Undone(b"-z".to_vec())));
    lists.record(&undone, &policy(), 2000);
    edit(&mut lists, "ann", b"c", 3000);
    assert_eq!(lists.counts("ann", 3000).redo, 0, "a new edit clears redo");
}

#[test]
fn lists_keep_their_depth_and_expire_after_their_ttl() {
    let mut lists = UndoLists::default();
    for (n, at) in [1000, 2000, 3000, 4000].into_iter().enumerate() {
        edit(&mut lists, "ann", &[b'0' + n as u8], at);
    }
    assert_eq!(lists.counts("ann", 4000).undo, 3, "depth 3");
    assert_eq!(lists.counts("ann", 13_999).undo, 3);
    assert_eq!(
        lists.counts("ann", 14_000).undo,
        0,
        "10 s after the last push"
    );
    assert_eq!(edit(&mut lists, "ann", b"n", 14_001), 1, "0 -> 1 again");
}
