//! The origin check's cost on the load test's edit-storm shape: several writers, every edit one
//! character typed or deleted at a random place, so every edit is a first keystroke at a place.
//! Run with `cargo test --release -p collab-room-core --lib typing_cost -- --ignored --nocapture`
//! (with `typing_cost` in `origin_order_property_tests.rs`).

use std::time::Instant;

use yrs::updates::decoder::Decode;
use yrs::{Doc, ReadTxn, Text, Transact, Update};

use super::tests::{type_at, writer};
use crate::replica::Replica;

/// A small deterministic generator (xorshift64*), so every run sends the same edits.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

/// The updates of the storm: a seed state from a writer that collects its deleted text (as a
/// compacted file would load: removed text as `ContentDeleted`), then `edits` edits by
/// `writers` writers, 30% deletions, each writer missing the last `lag` edits of the others
/// (in flight) when it types.
fn storm(writers: u64, edits: usize, lag: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
    let seeder = writer(1000);
    for n in 0..200u32 {
        type_at(&seeder, n, "s");
    }
    {
        let t = seeder.get_or_insert_text("monaco");
        let mut txn = seeder.transact_mut();
        for at in (0..50u32).map(|n| n * 3) {
            t.remove_range(&mut txn, at, 1);
        }
    }
    let seed = seeder
        .transact()
        .encode_state_as_update_v1(&yrs::StateVector::default());
    let docs: Vec<Doc> = (1..=writers).map(writer).collect();
    // How many of the sent updates each writer has taken in.
    let mut seen = vec![0usize; docs.len()];
    for doc in &docs {
        let update = Update::decode_v1(&seed).expect("decodes");
        doc.transact_mut().apply_update(update).expect("applies");
    }
    let mut dice = Dice(0x9e37_79b9_7f4a_7c15);
    let mut sent: Vec<Vec<u8>> = Vec::with_capacity(edits);
    for _ in 0..edits {
        let who = dice.below(writers) as usize;
        let doc = &docs[who];
        let upto = sent.len().saturating_sub(lag);
        {
            let mut txn = doc.transact_mut();
            for update in &sent[seen[who].min(upto)..upto] {
                let update = Update::decode_v1(update).expect("decodes");
                txn.apply_update(update).expect("applies");
            }
        }
        seen[who] = seen[who].max(upto);
        let t = doc.get_or_insert_text("monaco");
        let len = t.len(&doc.transact());
        let update = if len > 0 && dice.below(10) < 3 {
            let mut txn = doc.transact_mut();
            t.remove_range(&mut txn, dice.below(u64::from(len)) as u32, 1);
            txn.encode_update_v1()
        } else {
            type_at(doc, dice.below(u64::from(len) + 1) as u32, "e")
        };
        sent.push(update);
    }
    (seed, sent)
}

#[test]
#[ignore]
fn typing_cost_edit_storm() {
    const EDITS: usize = 8000;
    let (seed, updates) = storm(10, EDITS, 3);
    let time = |with_check: bool| {
        let replica = Replica::new("monaco");
        replica.apply(&seed).expect("seed");
        let mut last = 0u128;
        let mut slow = 0;
        let started = Instant::now();
        for (n, u) in updates.iter().enumerate() {
            let one = Instant::now();
            if with_check {
                let edit = replica.apply_edit(u).expect("applies");
                slow += edit.map_or(0, |e| e.slow_checks);
            } else {
                replica.apply(u).expect("applies");
            }
            if n >= EDITS - 1000 {
                last += one.elapsed().as_nanos();
            }
        }
        let per = started.elapsed().as_nanos() / EDITS as u128;
        let chars = replica.text().encode_utf16().count();
        (per, last / 1000, chars, slow, replica.order_renders())
    };
    for round in 0..3 {
        let (without, without_last, chars, ..) = time(false);
        let (with, with_last, _, slow, renders) = time(true);
        println!(
            "edit storm round {round}: {EDITS} edits by 10 writers, 30% deletions, file grows \
             to {chars} characters: {without} ns/update without the order check, {with} ns \
             with it (last 1,000 edits: {without_last} / {with_last} ns; {slow} slow checks, \
             {renders} renders of the item order)"
        );
    }
}
