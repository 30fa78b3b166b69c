//! The tracker's unit tests: deliveries, supersession, targets, departures, cursors.

use super::*;
use yrs::updates::decoder::Decode;
use yrs::{ClientID, Doc, Options, Text, Transact};

fn doc(id: u64) -> Doc {
    Doc::with_options(Options {
        client_id: ClientID::new(id),
        ..Options::default()
    })
}

fn edit(doc: &Doc, f: impl FnOnce(&mut yrs::TransactionMut, &yrs::TextRef)) -> Vec<u8> {
    let text = doc.get_or_insert_text("monaco");
    let mut txn = doc.transact_mut();
    f(&mut txn, &text);
    txn.encode_update_v1()
}

fn update(bytes: &[u8]) -> Update {
    Update::decode_v1(bytes).unwrap()
}

#[test]
fn inserts_and_deletes_are_delivered_once_per_receiver() {
    let t = Tracker::new(1);
    let (a, b, c) = (
        t.join(0, 0, String::new()),
        t.join(0, 0, String::new()),
        t.join(0, 0, String::new()),
    );
    let da = doc(1);
    let now = Instant::now();

    let ins = edit(&da, |txn, text| text.insert(txn, 0, "hello"));
    t.sent(0, a, &update(&ins), now);
    let del = edit(&da, |txn, text| text.remove_range(txn, 1, 2));
    t.sent(0, a, &update(&del), now);
    assert_eq!(t.outstanding(), (4, 0));

    // The sender never counts its own edits; a repeat counts nothing.
    assert_eq!(t.received(0, a, &update(&ins), now), 0);
    assert_eq!(t.received(0, b, &update(&ins), now), 1);
    assert_eq!(t.received(0, b, &update(&ins), now), 0);
    assert_eq!(t.received(0, b, &update(&del), now), 1);
    // A merged update (as a sync step 2 would carry) delivers both at once.
    let merged = Update::merge_updates([update(&ins), update(&del)]);
    assert_eq!(t.received(0, c, &merged, now), 2);

    let s = t.summary();
    assert_eq!(
        (s.edits, s.expected, s.delivered, s.missing()),
        (2, 4, 4, 0)
    );
    assert_eq!(s.edit_latency_us.len(), 4);
    assert_eq!(t.outstanding(), (0, 0));
}

#[test]
fn a_deletion_someone_else_made_first_counts_as_superseded() {
    let t = Tracker::new(1);
    let (a, b, c) = (
        t.join(0, 0, String::new()),
        t.join(0, 0, String::new()),
        t.join(0, 0, String::new()),
    );
    let now = Instant::now();
    let (da, db) = (doc(1), doc(2));
    let ins = edit(&da, |txn, text| text.insert(txn, 0, "x"));
    t.sent(0, a, &update(&ins), now);
    for s in [b, c] {
        t.received(0, s, &update(&ins), now);
    }
    db.transact_mut().apply_update(update(&ins)).unwrap();
    // b deletes "x"; c gets it; then a, not having seen it, deletes "x" too.
    let del_b = edit(&db, |txn, text| text.remove_range(txn, 0, 1));
    t.sent(0, b, &update(&del_b), now);
    assert_eq!(t.received(0, c, &update(&del_b), now), 1);
    let del_a = edit(&da, |txn, text| text.remove_range(txn, 0, 1));
    t.sent(0, a, &update(&del_a), now);
    // b and c had "x" deleted already, so a's deletion is complete at once (a gateway
    // would drop it as a no-op); and a has "x" deleted now, so b's is complete too.
    assert_eq!(t.outstanding(), (0, 0));
    assert_eq!(t.received(0, a, &update(&del_b), now), 0);
    let s = t.summary();
    assert_eq!((s.expected, s.delivered, s.missing()), (6, 6, 0));
    assert_eq!(s.superseded, 3);
    assert_eq!(s.edit_latency_us.len(), 3);
    assert_eq!(t.outstanding(), (0, 0));
}

#[test]
fn concurrent_deleters_do_not_wait_for_each_other() {
    let t = Tracker::new(1);
    let (a, b) = (t.join(0, 0, String::new()), t.join(0, 1, String::new()));
    let now = Instant::now();
    let (da, db) = (doc(1), doc(2));
    let ins = edit(&da, |txn, text| text.insert(txn, 0, "x"));
    t.sent(0, a, &update(&ins), now);
    t.received(0, b, &update(&ins), now);
    db.transact_mut().apply_update(update(&ins)).unwrap();
    // a deletes "x", then b deletes it before a's deletion reaches it. Each gateway
    // drops the other's deletion as a no-op: neither update arrives anywhere.
    let del_a = edit(&da, |txn, text| text.remove_range(txn, 0, 1));
    t.sent(0, a, &update(&del_a), now);
    assert_eq!(t.outstanding(), (1, 0));
    let del_b = edit(&db, |txn, text| text.remove_range(txn, 0, 1));
    t.sent(0, b, &update(&del_b), now);
    let s = t.summary();
    assert_eq!((s.expected, s.delivered, s.superseded), (3, 3, 2));
    assert_eq!(t.outstanding(), (0, 0));
}

#[test]
fn deliveries_are_split_by_same_and_cross_target() {
    let t = Tracker::new(1);
    let a = t.join(0, 0, String::new());
    let b = t.join(0, 0, String::new());
    let c = t.join(0, 1, String::new());
    let ins = edit(&doc(3), |txn, text| text.insert(txn, 0, "x"));
    let now = Instant::now();
    t.sent(0, a, &update(&ins), now);
    t.received(0, b, &update(&ins), now);
    t.received(0, c, &update(&ins), now);
    let s = t.summary();
    assert_eq!((s.same_target_us.len(), s.cross_target_us.len()), (1, 1));
}

#[test]
fn departed_editors_are_not_expected_but_missing_ones_are_reported() {
    let t = Tracker::new(2);
    let (a, b, c) = (
        t.join(1, 0, String::new()),
        t.join(1, 0, String::new()),
        t.join(1, 0, String::new()),
    );
    t.leave(1, c);
    let da = doc(7);
    let ins = edit(&da, |txn, text| text.insert(txn, 0, "x"));
    t.sent(1, a, &update(&ins), Instant::now());
    let s = t.summary();
    assert_eq!((s.expected, s.missing()), (1, 1));
    let _ = b;
}

#[test]
fn cursor_updates_are_tracked_by_client_and_clock() {
    let t = Tracker::new(1);
    let (a, b) = (t.join(0, 0, String::new()), t.join(0, 0, String::new()));
    let now = Instant::now();
    t.cursor_sent(0, a, 42, 1, now);
    t.cursor_sent(0, a, 42, 2, now);
    t.cursor_sent(0, a, 42, 3, now);
    assert_eq!(t.cursor_received(0, b, [(42, 1), (43, 1)], now), 1);
    let s = t.summary();
    assert_eq!(
        (s.cursor_updates, s.cursor_delivered, s.cursor_missing()),
        (3, 1, 2)
    );
    // Clock 2 never comes (the gateway replaced it while b lagged); clock 3 does.
    assert_eq!(t.cursor_received(0, b, [(42, 3)], now), 1);
    let s = t.summary();
    assert_eq!(
        (s.cursor_delivered, s.cursor_superseded, s.cursor_missing()),
        (3, 1, 0)
    );
}
