//! The replica's rules, driven directly.

use super::*;
use yrs::Text;

fn edit(text: &str) -> Vec<u8> {
    let doc = Doc::new();
    let t = doc.get_or_insert_text("monaco");
    let mut txn = doc.transact_mut();
    t.insert(&mut txn, 0, text);
    txn.encode_update_v1()
}

#[test]
fn relays_new_changes_and_skips_known_ones() {
    let replica = Replica::new("monaco");
    let update = edit("hello");
    assert!(replica.apply(&update).expect("applies").is_some());
    assert_eq!(replica.apply(&update).expect("applies again"), None);
    assert_eq!(replica.text(), "hello");
}

#[test]
fn refuses_a_tiny_update_that_claims_huge_counts() {
    let replica = Replica::new("monaco");
    // From the fuzzer: 2^28 client groups in 5 bytes.
    assert!(matches!(
        replica.apply(&[0x80, 0x80, 0x80, 0x80, 0x01]),
        Err(ApplyError::Decode(_))
    ));
}

#[test]
fn rejects_garbage() {
    let replica = Replica::new("monaco");
    assert!(replica.apply(&[0xff, 0xff, 0xff]).is_err());
    assert_eq!(replica.text(), "");
}

/// Two consecutive edits of one doc, "ab" then "cd" after it.
fn two_edits() -> (Vec<u8>, Vec<u8>) {
    let doc = Doc::new();
    let t = doc.get_or_insert_text("monaco");
    let first = {
        let mut txn = doc.transact_mut();
        t.insert(&mut txn, 0, "ab");
        txn.encode_update_v1()
    };
    let second = {
        let mut txn = doc.transact_mut();
        t.insert(&mut txn, 2, "cd");
        txn.encode_update_v1()
    };
    (first, second)
}

#[test]
fn log_updates_out_of_order_wait_for_their_predecessors() {
    let (first, second) = two_edits();
    let replica = Replica::new("monaco");
    assert_eq!(
        replica.apply(&second).expect("pending").as_deref(),
        Some(&second[..])
    );
    assert!(replica.apply(&first).expect("applies").is_some());
    assert_eq!(replica.text(), "abcd");
}

#[test]
fn a_client_update_before_its_predecessors_is_refused_untouched() {
    let (first, second) = two_edits();
    let replica = Replica::new("monaco");
    assert!(matches!(
        replica.apply_from_client(&second),
        Err(ApplyError::Early(_))
    ));
    assert_eq!(replica.text(), "");
    assert_eq!(replica.state_vector(), StateVector::default());
    assert!(
        replica
            .apply_from_client(&first)
            .expect("applies")
            .is_some()
    );
    assert!(
        replica
            .apply_from_client(&second)
            .expect("applies")
            .is_some()
    );
    assert_eq!(replica.text(), "abcd");
}

#[test]
fn a_client_update_referring_to_unknown_edits_of_others_is_refused() {
    let theirs = Doc::with_client_id(1);
    let ours = Doc::with_client_id(2);
    let (t1, t2) = (
        theirs.get_or_insert_text("monaco"),
        ours.get_or_insert_text("monaco"),
    );
    let base = {
        let mut txn = theirs.transact_mut();
        t1.insert(&mut txn, 0, "base");
        txn.encode_update_v1()
    };
    ours.transact_mut()
        .apply_update(Update::decode_v1(&base).expect("decodes"))
        .expect("applies");
    let edit = {
        let mut txn = ours.transact_mut();
        t2.insert(&mut txn, 2, "XY");
        txn.encode_update_v1()
    };
    let replica = Replica::new("monaco");
    assert!(matches!(
        replica.apply_from_client(&edit),
        Err(ApplyError::Early(_))
    ));
    replica.apply(&base).expect("the base arrives from the log");
    assert!(replica.apply_from_client(&edit).expect("applies").is_some());
    assert_eq!(replica.text(), "baXYse");
}

/// The state vector the replica keeps, against the one yrs computes from the doc.
fn kept_matches_doc(replica: &Replica, when: &str) {
    assert_eq!(
        replica.state_vector(),
        replica.doc().transact().state_vector(),
        "{when}"
    );
}

#[test]
fn the_kept_state_vector_follows_updates_out_of_order_and_direct_writes() {
    let replica = Replica::new("monaco");
    let (first, second) = two_edits();
    replica
        .apply_from_client(&edit("x"))
        .expect("a client's edit");
    kept_matches_doc(&replica, "after a client's edit");
    // From the log out of order: the second waits for the first.
    replica.apply(&second).expect("parked");
    kept_matches_doc(&replica, "while an update waits");
    replica.apply(&first).expect("applies");
    kept_matches_doc(&replica, "once the predecessor came");
    // A direct write (server-side undo, a merged file change) with the replica told.
    {
        let text = replica.text_ref();
        let mut txn = replica.doc().transact_mut();
        text.insert(&mut txn, 0, "!");
    }
    replica.touched();
    kept_matches_doc(&replica, "after a direct write");
    let later = {
        let doc = Doc::new();
        let t = doc.get_or_insert_text("monaco");
        let mut txn = doc.transact_mut();
        txn.apply_update(Update::decode_v1(&first).expect("decodes"))
            .expect("applies");
        txn.apply_update(Update::decode_v1(&second).expect("decodes"))
            .expect("applies");
        t.insert(&mut txn, 0, "more");
        txn.encode_update_v1()
    };
    replica
        .apply_from_client(&later)
        .expect("a later client edit");
    kept_matches_doc(&replica, "after more typing");
    let mut letters: Vec<char> = replica.text().chars().collect();
    letters.sort_unstable();
    assert_eq!(
        letters,
        "!abcdemorx".chars().collect::<Vec<_>>(),
        "every edit is in"
    );
}
