//! The crossed-origins check on real replicas: the reproduction from issue 22, items whose
//! origins are inside the same update, origins that only integration can order. The property
//! test mixing honest and crafted updates is in `origin_order_property_tests.rs`.

use yrs::updates::decoder::Decode;
use yrs::{Doc, GetString, ReadTxn, StateVector, Text, Transact, Update};

use crate::replica::{ApplyError, Replica};

/// One string item of `client` at `clock` with the given origins (v1, no delete set).
pub(super) fn crafted(
    client: u64,
    clock: u64,
    left: (u64, u64),
    right: (u64, u64),
    text: &str,
) -> Vec<u8> {
    let mut out = Vec::new();
    for n in [1, 1, client, clock] {
        var(&mut out, n);
    }
    out.push(0x80 | 0x40 | 4); // left origin, right origin, string content
    for n in [left.0, left.1, right.0, right.1, text.len() as u64] {
        var(&mut out, n);
    }
    out.extend_from_slice(text.as_bytes());
    out.push(0); // empty delete set
    out
}

pub(super) fn var(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

pub(super) fn writer(client: u64) -> Doc {
    Doc::with_options(yrs::Options {
        client_id: yrs::ClientID::new(client),
        offset_kind: yrs::OffsetKind::Utf16,
        ..yrs::Options::default()
    })
}

pub(super) fn type_at(doc: &Doc, at: u32, text: &str) -> Vec<u8> {
    let t = doc.get_or_insert_text("monaco");
    let mut txn = doc.transact_mut();
    t.insert(&mut txn, at, text);
    txn.encode_update_v1()
}

/// The text a replica rebuilt from `replica`'s encoded state holds.
pub(super) fn rebuilt(replica: &Replica) -> String {
    let doc = Doc::new();
    let whole = replica.diff(&StateVector::default()).expect("encodes");
    let mut txn = doc.transact_mut();
    txn.apply_update(Update::decode_v1(&whole).expect("decodes"))
        .expect("applies");
    txn.get_text("monaco")
        .map(|t| t.get_string(&txn))
        .unwrap_or_default()
}

/// W (client 1) types x, y, z in three edits: W#0 x, W#1 y, W#2 z.
fn xyz() -> (Doc, Replica) {
    let w = writer(1);
    let replica = Replica::new("monaco");
    for (at, ch) in [(0, "x"), (1, "y"), (2, "z")] {
        replica
            .apply_edit(&type_at(&w, at, ch))
            .expect("W's edit applies");
    }
    (w, replica)
}

#[test]
fn yrs_alone_splits_the_document() {
    // What the check guards against, kept as a canary: if it fails, yrs changed.
    let (w, _) = xyz();
    let evil = crafted(7, 0, (1, 2), (1, 1), "EVIL");
    let mut txn = w.transact_mut();
    txn.apply_update(Update::decode_v1(&evil).expect("decodes"))
        .expect("yrs takes it");
    let t = txn.get_text("monaco").expect("text");
    t.insert(&mut txn, 7, "!");
    let live = t.get_string(&txn);
    let whole = txn.encode_state_as_update_v1(&StateVector::default());
    drop(txn);
    let again = Doc::new();
    let mut txn = again.transact_mut();
    txn.apply_update(Update::decode_v1(&whole).expect("decodes"))
        .expect("applies");
    let late = txn.get_text("monaco").expect("text").get_string(&txn);
    assert_ne!(live, late, "yrs no longer splits the document");
}

#[test]
fn the_issue_22_item_is_refused_before_integration() {
    let (w, replica) = xyz();
    let sv = replica.state_vector();
    let evil = crafted(7, 0, (1, 2), (1, 1), "EVIL");
    let err = replica.apply_edit(&evil).expect_err("refused");
    assert!(matches!(err, ApplyError::Crossed(_)), "{err}");
    assert!(!err.needs_rebuild());
    assert_eq!(replica.state_vector(), sv, "nothing was integrated");
    replica
        .apply_edit(&type_at(&w, 3, "!"))
        .expect("W goes on typing");
    assert_eq!(replica.text(), "xyz!");
    assert_eq!(rebuilt(&replica), "xyz!");
}

#[test]
fn origins_in_order_are_accepted_also_far_apart() {
    let (_, replica) = xyz();
    replica
        .apply_edit(&crafted(7, 0, (1, 0), (1, 2), "AB"))
        .expect("x < z: in order");
    assert_eq!(replica.text(), rebuilt(&replica));
    assert!(replica.text().starts_with('x') && replica.text().ends_with('z'));
}

#[test]
fn an_item_between_the_same_origin_twice_is_refused() {
    let (_, replica) = xyz();
    let err = replica
        .apply_edit(&crafted(7, 0, (1, 1), (1, 1), "E"))
        .expect_err("refused");
    assert!(matches!(err, ApplyError::Crossed(_)), "{err}");
}

#[test]
fn a_crossing_through_an_item_of_the_same_update_is_refused() {
    let (_, replica) = xyz();
    // 7#0 "A" between x and y (fine), then 7#1 "B" with left origin 7#0 and right origin
    // W#0 (x), which lies before 7#0.
    let mut update = Vec::new();
    for n in [1, 2, 7, 0] {
        var(&mut update, n);
    }
    update.push(0xC4);
    for n in [1, 0, 1, 1, 1] {
        var(&mut update, n);
    }
    update.push(b'A');
    update.push(0xC4);
    for n in [7, 0, 1, 0, 1] {
        var(&mut update, n);
    }
    update.push(b'B');
    update.push(0);
    let before = replica.text();
    let err = replica.apply_edit(&update).expect_err("refused");
    if err.needs_rebuild() {
        // Found once integrated: the room rebuilds its replica from the log.
        return;
    }
    assert!(matches!(err, ApplyError::Crossed(_)), "{err}");
    assert_eq!(replica.text(), before);
}

#[test]
fn honest_typing_in_one_update_with_the_cursor_moving_back_is_accepted() {
    let (w, replica) = xyz();
    // One transaction: type "ab" after x, then "c" between a and b.
    let t = w.get_or_insert_text("monaco");
    let update = {
        let mut txn = w.transact_mut();
        t.insert(&mut txn, 1, "a");
        t.insert(&mut txn, 2, "b");
        t.insert(&mut txn, 2, "c");
        txn.encode_update_v1()
    };
    replica.apply_edit(&update).expect("honest");
    assert_eq!(replica.text(), "xacbyz");
    assert_eq!(rebuilt(&replica), "xacbyz");
}

#[test]
fn a_crossing_between_deleted_origins_is_caught() {
    let (w, replica) = xyz();
    let t = w.get_or_insert_text("monaco");
    let delete = {
        let mut txn = w.transact_mut();
        t.remove_range(&mut txn, 1, 2);
        txn.encode_update_v1()
    };
    replica.apply_edit(&delete).expect("W deletes y and z");
    let evil = crafted(7, 0, (1, 2), (1, 1), "EVIL");
    let err = replica.apply_edit(&evil).expect_err("refused");
    assert!(
        matches!(err, ApplyError::Crossed(_) | ApplyError::Diverged(_)),
        "{err}"
    );
}

/// Two authors' deleted text with nothing visible between: only the exact item order
/// (`item_order`) can tell the origins are crossed, and it does before integration, so the
/// replica never takes the item (no rebuild from the log, which an attacker could otherwise
/// make the room pay over and over).
#[test]
fn a_crossing_between_deleted_origins_of_two_authors_is_refused_before_integration() {
    let (w, replica) = xyz();
    let v = writer(2);
    let t = w.get_or_insert_text("monaco");
    let u = v.get_or_insert_text("monaco");
    let before = replica.diff(&StateVector::default()).expect("encodes");
    v.transact_mut()
        .apply_update(Update::decode_v1(&before).expect("decodes"))
        .expect("applies");
    replica
        .apply_edit(&type_at(&v, 3, "uv"))
        .expect("V types uv after z");
    let deletes = [
        {
            let mut txn = w.transact_mut();
            t.remove_range(&mut txn, 1, 2);
            txn.encode_update_v1()
        },
        {
            let mut txn = v.transact_mut();
            u.remove_range(&mut txn, 3, 2);
            txn.encode_update_v1()
        },
    ];
    for delete in deletes {
        replica.apply_edit(&delete).expect("deletes apply");
    }
    assert_eq!(replica.text(), "x");
    let version = replica.version();
    // Left origin: V's `u` (after W's `z`); right origin: W's `y`. Both deleted, nothing
    // visible between them.
    let evil = crafted(7, 0, (2, 0), (1, 1), "EVIL");
    let err = replica.apply_edit(&evil).expect_err("refused");
    assert!(matches!(err, ApplyError::Crossed(_)), "{err}");
    assert_eq!(replica.version(), version, "nothing was integrated");
    assert_eq!(replica.text(), "x");
}
