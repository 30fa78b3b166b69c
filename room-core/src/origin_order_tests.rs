//! The crossed-origins check on real replicas: the reproduction from issue 22, items whose
//! origins are inside the same update, origins that only integration can order. The property
//! test mixing honest and crafted updates is in `origin_order_property_tests.rs`.

use yrs::updates::decoder::Decode;
use yrs::{Doc, GetString, ReadTxn, StateVector, Text, Transact, Update};

use crate::replica::{ApplyError, Replica};

/// One string item of `client` at `clock` with the given origins (v1, no delete set).
pub(crate) fn crafted(
    client: u64,
    clock: u64,
    left: (u64, u64),
    right: (u64, u64),
    text: &str,
) -> Vec<u8> {
    crafted_with(client, clock, Some(left), Some(right), false, text)
}

/// One item of `client` at `clock`, with either origin or none (then in the root text
/// `monaco`), holding `text` or, `deleted`, content deleted already (`ContentDeleted` of
/// its length, as a garbage-collecting client sends removed text).
pub(super) fn crafted_with(
    client: u64,
    clock: u64,
    left: Option<(u64, u64)>,
    right: Option<(u64, u64)>,
    deleted: bool,
    text: &str,
) -> Vec<u8> {
    let mut out = Vec::new();
    for n in [1, 1, client, clock] {
        var(&mut out, n);
    }
    let origins = if left.is_some() { 0x80 } else { 0 } | if right.is_some() { 0x40 } else { 0 };
    out.push(origins | if deleted { 1 } else { 4 });
    for (c, k) in left.into_iter().chain(right) {
        var(&mut out, c);
        var(&mut out, k);
    }
    if origins == 0 {
        var(&mut out, 1); // parent named
        var(&mut out, 6);
        out.extend_from_slice(b"monaco");
    }
    if deleted {
        var(&mut out, text.encode_utf16().count() as u64);
    } else {
        var(&mut out, text.len() as u64);
        out.extend_from_slice(text.as_bytes());
    }
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
pub(super) fn xyz() -> (Doc, Replica) {
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

/// x < z, but y lies between them, and whoever knew z (W's clock 2) knew y (W's clock 1):
/// an honest author's origins would have been x and y, or y and z.
#[test]
fn origins_in_order_that_skip_text_their_author_knew_are_refused() {
    let (_, replica) = xyz();
    let sv = replica.state_vector();
    let err = replica
        .apply_edit(&crafted(7, 0, (1, 0), (1, 2), "AB"))
        .expect_err("refused");
    assert!(matches!(err, ApplyError::Crossed(_)), "{err}");
    assert!(err.to_string().contains("skips 1#1"), "{err}");
    assert_eq!(replica.state_vector(), sv, "nothing was integrated");
    assert_eq!(replica.text(), "xyz");
}

/// Origins far apart are fine when all between them is text their author did not have.
#[test]
fn origins_far_apart_with_only_concurrent_text_between_are_accepted() {
    let (w, replica) = xyz();
    let v = writer(2);
    let state = replica.diff(&StateVector::default()).expect("encodes");
    v.transact_mut()
        .apply_update(Update::decode_v1(&state).expect("decodes"))
        .expect("applies");
    replica
        .apply_edit(&type_at(&v, 1, "mid"))
        .expect("V types between x and y");
    // 7 knows x and y (W's clocks 0 and 1), not V's text between them.
    replica
        .apply_edit(&crafted(7, 0, (1, 0), (1, 1), "AB"))
        .expect("concurrent text between the origins");
    assert_eq!(replica.text(), rebuilt(&replica));
    let after_w = type_at(&w, 3, "!");
    replica.apply_edit(&after_w).expect("W goes on typing");
    assert_eq!(replica.text(), rebuilt(&replica));
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

/// The shape of `fuzz/findings/room-rebuilds-another-text-2026-12-07`: client 11 writes
/// `fn main() {}\n` (11#0..11#12), then sends a block starting at 11#12, the last unit the
/// room has, with origins 11#7 `(` and 11#11 `}`. yrs trims the unit it has and integrates
/// the rest as 11#13 with left origin 11#12 (its own previous unit) and right origin 11#11:
/// crossed. The room used to check the origins as sent, which stand in order, and took it:
/// the live text became `fn main() {println!("🎉");}\n`, a rebuild `fn main() {}\nprintln!("🎉");`.
#[test]
fn the_fuzz_finding_of_2026_12_07_is_refused_before_integration() {
    let replica = Replica::new("monaco");
    let w = writer(11);
    replica
        .apply_edit(&type_at(&w, 0, "fn main() {}\n"))
        .expect("the file");
    let sv = replica.state_vector();
    let err = replica
        .apply_edit(&crafted(11, 12, (11, 7), (11, 11), "println!(\"🎉\");"))
        .expect_err("refused");
    assert!(matches!(err, ApplyError::Crossed(_)), "{err}");
    assert_eq!(replica.state_vector(), sv, "nothing was integrated");
    assert_eq!(rebuilt(&replica), replica.text());
}

/// The same trim with origins that pass as sent: 1#2.. with origins x and y (adjacent)
/// overlaps z (1#2), which the room has; yrs integrates `q` as 1#3 between z (its own
/// previous unit, now its left origin) and y: crossed.
#[test]
fn a_block_overlapping_the_room_is_checked_as_yrs_trims_it() {
    let (w, replica) = xyz();
    let sv = replica.state_vector();
    let err = replica
        .apply_edit(&crafted(1, 2, (1, 0), (1, 1), "Zq"))
        .expect_err("refused");
    assert!(matches!(err, ApplyError::Crossed(_)), "{err}");
    assert_eq!(replica.state_vector(), sv, "nothing was integrated");
    replica
        .apply_edit(&type_at(&w, 3, "!"))
        .expect("W goes on typing");
    assert_eq!(replica.text(), "xyz!");
    assert_eq!(rebuilt(&replica), "xyz!");
}

/// A garbage-collecting client (Yjs's default) that typed and deleted offline sends its
/// removed text as `ContentDeleted`, which the item order's render cannot show; the room
/// then orders from a scratch copy, and honest typing next to that text goes on.
#[test]
fn an_offline_writer_that_collected_its_deleted_text_is_accepted() {
    let (w, replica) = xyz();
    let v = Doc::with_options(yrs::Options {
        client_id: yrs::ClientID::new(2),
        offset_kind: yrs::OffsetKind::Utf16,
        skip_gc: false,
        ..yrs::Options::default()
    });
    let state = replica.diff(&StateVector::default()).expect("encodes");
    v.transact_mut()
        .apply_update(Update::decode_v1(&state).expect("decodes"))
        .expect("applies");
    let t = v.get_or_insert_text("monaco");
    type_at(&v, 1, "abc");
    t.remove_range(&mut v.transact_mut(), 2, 1); // "b", collected at commit
    let offline = v
        .transact()
        .encode_state_as_update_v1(&replica.state_vector());
    let shape = crate::update_check::check(&offline).expect("checks");
    assert!(
        !shape.opaque.is_empty(),
        "the removed text comes as ContentDeleted"
    );
    replica.apply_edit(&offline).expect("an honest resync");
    assert_eq!(replica.text(), "xacyz");
    // Both type next to the collected text, concurrently.
    let from_w = type_at(&w, 1, "W");
    replica
        .apply_edit(&type_at(&v, 2, "V"))
        .expect("V types after a");
    replica.apply_edit(&from_w).expect("W types where it stood");
    assert_eq!(replica.text(), rebuilt(&replica));
}

/// Items of new authors between the same two neighbours: the first sits between them, each
/// later one has the earlier ones (concurrent text) between its origins, so each is a slow
/// check; past the allowance the update is refused before integration.
#[test]
fn items_that_need_slow_checks_are_counted_and_refused_past_the_allowance() {
    let (_, replica) = xyz();
    let first = replica
        .apply_edit(&crafted(100, 0, (1, 0), (1, 1), "a"))
        .expect("between neighbours")
        .expect("an edit");
    assert_eq!(first.slow_checks, 0);
    let second = replica
        .apply_edit_within(&crafted(101, 0, (1, 0), (1, 1), "b"), 10)
        .expect("concurrent text between its origins")
        .expect("an edit");
    assert_eq!(second.slow_checks, 1);
    assert_eq!(
        second.check_work, 2,
        "one run between, one block of its past"
    );
    let sv = replica.state_vector();
    let err = replica
        .apply_edit_within(&crafted(102, 0, (1, 0), (1, 1), "c"), 0)
        .expect_err("over the allowance");
    assert!(matches!(err, ApplyError::TooCostly(1)), "{err}");
    assert_eq!(replica.state_vector(), sv, "nothing was integrated");
    assert_eq!(replica.text(), rebuilt(&replica));
    assert_eq!(replica.list_agrees(), Ok(()));
}

/// Two writers typing one character at a time at ever new places, each seeing the other's
/// keystrokes before its next one: every keystroke sits between neighbours, so none takes a
/// slow check and the item list, rendered once (for the first), follows them all.
#[test]
fn typing_at_new_places_takes_no_slow_check_and_no_render() {
    let (a, b) = (writer(1), writer(2));
    let replica = Replica::new("monaco");
    let mut slow = 0;
    for n in 0..400u32 {
        let (doc, other) = if n % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let len = doc.get_or_insert_text("monaco").len(&doc.transact());
        let update = type_at(doc, (n * 7919) % (len + 1), "k");
        slow += replica
            .apply_edit(&update)
            .expect("honest")
            .map_or(0, |e| e.slow_checks);
        other
            .transact_mut()
            .apply_update(Update::decode_v1(&update).expect("decodes"))
            .expect("applies");
    }
    assert_eq!(slow, 0);
    assert_eq!(replica.order_renders(), 1);
    assert_eq!(replica.list_agrees(), Ok(()));
    assert_eq!(replica.text(), rebuilt(&replica));
}

/// The fuzz finding of 2026-12-07 (evening): an item with both origins on `}` and the "has a
/// key" bit set. yrs reads no key for an item with origins (it takes its origins' parent, so
/// the item is text), but the check took it for a map entry and let it through; yrs put it
/// inside the braces and the encoded state rebuilt it after them. Now it is checked as text
/// and refused.
#[test]
fn an_item_with_origins_and_the_key_bit_is_checked_as_text() {
    let w = writer(11);
    let replica = Replica::new("monaco");
    replica
        .apply_edit(&type_at(&w, 0, "fn main() {}\n"))
        .expect("W types");
    // One item 11#13 `q`, origins 11#11 and 11#11, info: origin, right origin, key, string.
    let update = [
        0x01, 0x01, 0x0b, 0x0d, 0xe4, 0x0b, 0x0b, 0x0b, 0x0b, 0x01, b'q', 0x00,
    ];
    let sv = replica.state_vector();
    let err = replica.apply_edit(&update).expect_err("refused");
    assert!(matches!(err, ApplyError::Crossed(_)), "{err}");
    assert_eq!(replica.state_vector(), sv, "nothing was integrated");
    assert_eq!(replica.text(), rebuilt(&replica));
}
