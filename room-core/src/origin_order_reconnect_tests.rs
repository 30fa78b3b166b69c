//! The origin check where honest clients need more than a keystroke between neighbours: a
//! log update parked until its predecessor comes, offline typing sent on reconnect, and
//! several authors' slow items in one update.

use yrs::updates::decoder::Decode;
use yrs::{Doc, ReadTxn, Transact, Update};

use super::tests::{crafted, rebuilt, type_at, writer, xyz};
use crate::replica::Replica;

/// An update from the log that arrives before its predecessor is parked by yrs and
/// integrated when the predecessor comes: the item list must not claim to hold the text then
/// (it followed the predecessor only), or an honest keystroke next to the parked item is
/// refused as having its origins "in different types".
#[test]
fn an_update_parked_until_its_predecessor_arrives_leaves_the_list_in_step() {
    let (w, v) = (writer(1), writer(2));
    let u1 = type_at(&w, 0, "a");
    let u2 = type_at(&w, 1, "b");
    let u3 = type_at(&w, 2, "c");
    let replica = Replica::new("monaco");
    replica.apply(&u1).expect("u1 applies");
    let sync = |doc: &Doc, update: &[u8]| {
        doc.transact_mut()
            .apply_update(Update::decode_v1(update).expect("decodes"))
            .expect("applies")
    };
    for u in [&u1, &u2, &u3] {
        sync(&v, u);
    }
    let e1 = type_at(&v, 0, "1");
    replica.apply_edit(&e1).expect("V's first edit");
    replica.apply(&u3).expect("u3 waits for u2");
    let e2 = type_at(&v, 1, "2");
    replica.apply_edit(&e2).expect("V's second edit");
    replica.apply(&u2).expect("u2 brings u3 in");
    assert_eq!(replica.text(), "12abc");
    assert_eq!(replica.list_agrees(), Ok(()));
    for e in [&e1, &e2] {
        sync(&w, e);
    }
    let between_b_and_c = type_at(&w, 4, "!");
    replica
        .apply_edit(&between_b_and_c)
        .expect("W's keystroke between b and c is honest");
    assert_eq!(replica.text(), "12ab!c");
    assert_eq!(replica.text(), rebuilt(&replica));
}

/// What an honest client sends on reconnect: keystrokes made offline at many places, in one
/// update, while another writer typed at the same places. Each is a slow check (concurrent
/// text lies between its origins), more than the old per-item budget of 32 allowed (the
/// cluster chaos test closed such a client over and over); their pasts are walked once, so
/// the update is accepted for a small part of a connection's budget.
#[test]
fn offline_keystrokes_at_many_places_are_accepted_within_the_budget() {
    let (a, b) = (writer(1), writer(2));
    let replica = Replica::new("monaco");
    let sync = |to: &Doc, update: &[u8]| {
        to.transact_mut()
            .apply_update(Update::decode_v1(update).expect("decodes"))
            .expect("applies")
    };
    for n in 0..300u32 {
        let update = type_at(&a, (n * 7919) % (n + 1), "a");
        replica.apply_edit(&update).expect("A types");
        sync(&b, &update);
    }
    let offline_from = a.transact().state_vector();
    let places: Vec<u32> = (0..60u32).map(|n| (n * 104_729) % 300).collect();
    for (n, at) in places.iter().enumerate() {
        let shifted = at + n as u32; // B's earlier keystrokes moved the place
        replica
            .apply_edit(&type_at(&b, shifted, "b"))
            .expect("B types");
    }
    for (n, at) in places.iter().enumerate() {
        type_at(&a, at + n as u32, "o");
    }
    let reconnect = a.transact().encode_state_as_update_v1(&offline_from);
    let edit = replica
        .apply_edit_within(&reconnect, crate::slow_checks::BURST)
        .expect("A's offline typing is honest")
        .expect("an edit");
    assert!(edit.slow_checks > 32, "{} slow checks", edit.slow_checks);
    assert!(
        edit.check_work < crate::slow_checks::BURST / 20,
        "{} work for {} slow checks",
        edit.check_work,
        edit.slow_checks
    );
    assert_eq!(replica.text().matches('o').count(), 60);
    assert_eq!(replica.text(), rebuilt(&replica));
    assert_eq!(replica.list_agrees(), Ok(()));
}

/// Two authors' items in one update, each a slow check: the second author's past must not
/// take in what the first knew. W wrote `xyz`; B typed `b` between y and z; D typed `d`
/// between x and y and C `c` after d; A typed `a` after b. Then one update: A, who knew d
/// and b, types after d (c between: slow), and B, who knew only `xyz` and its `b`, types
/// between x and y (d, c and A's item between: slow, all concurrent to B). B's item is
/// honest; walked on from A's past, which holds d, it would be refused.
#[test]
fn an_update_with_two_authors_checks_each_against_its_own_past() {
    let (_, replica) = xyz();
    let (a, b, c, d) = (90, 60, 70, 50); // yrs encodes clients in descending order: A first
    for (n, earlier) in [
        crafted(b, 0, (1, 1), (1, 2), "b"),
        crafted(d, 0, (1, 0), (1, 1), "d"),
        crafted(c, 0, (d, 0), (1, 1), "c"),
        crafted(a, 0, (b, 0), (1, 2), "a"),
    ]
    .iter()
    .enumerate()
    {
        let edit = replica.apply_edit(earlier).expect("between neighbours");
        assert_eq!(edit.map(|e| e.slow_checks), Some(0), "edit {n}");
    }
    let a_item = crafted(a, 1, (d, 0), (1, 1), "A");
    let b_item = crafted(b, 1, (1, 0), (1, 1), "B");
    let update = yrs::merge_updates_v1([a_item.as_slice(), b_item.as_slice()]).expect("merges");
    let edit = replica
        .apply_edit(&update)
        .expect("A's and B's items are honest")
        .expect("an edit");
    assert_eq!(edit.slow_checks, 2);
    assert_eq!(replica.text(), rebuilt(&replica));
}
