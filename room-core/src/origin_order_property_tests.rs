//! The property test of the crossed-origins check: honest typing, deleting and syncing of three
//! replicas mixed with crafted crossed items; whatever the room accepts rebuilds its live text,
//! and every honest replica that takes in the accepted log shows it. Also the check's cost on
//! ordinary typing and the open class's reproduction.

use proptest::prelude::*;
use yrs::updates::decoder::Decode;
use yrs::{Doc, GetString, ReadTxn, Text, Transact, Update};

use super::tests::{crafted_with, rebuilt, type_at, writer};
use crate::replica::Replica;

/// One step of the property test.
#[derive(Debug, Clone)]
enum Step {
    /// Replica `who` types `len` characters at `at` (modulo its length).
    Type { who: usize, at: u32, len: u8 },
    /// Replica `who` deletes one character at `at`.
    Delete { who: usize, at: u32 },
    /// Replica `who` takes in everything accepted so far.
    Sync { who: usize },
    /// An attacker sends one item with origins picked among the ids the room holds (of
    /// writer 0, 1, 2, or 3: the attacker's own earlier items); with `crossed`, the one
    /// further right in the room's text becomes the left origin. `form` (any origins only):
    /// bit 0 drops the left origin, bit 1 the right one, bit 2 sends the content deleted
    /// already, bit 3 writes as the last attacker again (its next clock).
    Craft {
        left: (usize, u32),
        right: (usize, u32),
        crossed: bool,
        form: u8,
    },
}

fn step(any_origins: bool) -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..3usize, any::<u32>(), 1..4u8).prop_map(|(who, at, len)| Step::Type { who, at, len }),
        2 => (0..3usize, any::<u32>()).prop_map(|(who, at)| Step::Delete { who, at }),
        2 => (0..3usize).prop_map(|who| Step::Sync { who }),
        2 => ((0..4usize, any::<u32>()), (0..4usize, any::<u32>()), 0..16u8)
            .prop_map(move |(left, right, form)| Step::Craft {
                left,
                right,
                crossed: !any_origins,
                form: if any_origins { form } else { 0 },
            }),
    ]
}

/// Where `id` stands in the replica's text (visible units before it).
fn position(replica: &Replica, (client, clock): (u64, u64)) -> u32 {
    let id = yrs::ID::new(yrs::ClientID::new(client), clock as u32);
    yrs::StickyIndex::from_id(id, yrs::Assoc::After)
        .get_offset(&replica.doc().transact())
        .map_or(0, |o| o.index)
}

/// Whether `a` stands before `b` in the room's document: by the exact item order where both
/// are rendered string items (deleted ones too), else by the visible text before them.
fn stands_before(replica: &Replica, a: (u64, u64), b: (u64, u64)) -> bool {
    let doc = replica.doc();
    let mut txn = doc.transact_mut();
    let order = match txn.get_text("monaco") {
        Some(text) => crate::item_order::ItemOrder::of(&mut txn, &text),
        None => crate::item_order::ItemOrder::default(),
    };
    drop(txn);
    match (order.rank(a), order.rank(b)) {
        (Some(a), Some(b)) => a < b,
        _ => position(replica, a) < position(replica, b),
    }
}

/// The seed the CI runs the property with, so that a run says the same every time. With the
/// crafted items truly crossed ([`stands_before`] orders deleted text exactly), 200 other seeds
/// of 64 cases each passed on 2026-12-07 (`ORIGIN_PROPERTY_SEED=n`); before that fix the
/// "crossed" items between two deleted origins were not always crossed, and random seeds
/// found the skip class ([`item_in_order_skipping_known_deleted_text_rebuilds_another_order`]).
const PROPERTY_SEED: u64 = 20261207;

/// [`PROPERTY_SEED`], or `ORIGIN_PROPERTY_SEED` from the environment to explore others.
fn property_seed() -> u64 {
    std::env::var("ORIGIN_PROPERTY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(PROPERTY_SEED)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        rng_seed: proptest::test_runner::RngSeed::Fixed(property_seed()),
        ..ProptestConfig::default()
    })]

    #[test]
    fn accepted_sequences_rebuild_the_live_text(steps in proptest::collection::vec(step(false), 1..60)) {
        run(steps)?;
    }

    /// Crafted items with any origins, crossed or not, skipping known text or not.
    #[test]
    fn accepted_sequences_with_any_origins_rebuild_the_live_text(steps in proptest::collection::vec(step(true), 1..60)) {
        run(steps)?;
    }
}

fn run(steps: Vec<Step>) -> Result<(), TestCaseError> {
    let docs: Vec<Doc> = (1..=3).map(writer).collect();
    let mut replica = Replica::new("monaco");
    let mut accepted: Vec<Vec<u8>> = Vec::new();
    let mut next_attacker = 100u64;
    // The last attacker and its next clock.
    let mut attacker = (next_attacker, 0u64);
    for step in steps {
        let update = match step {
            Step::Type { who, at, len } => {
                let t = docs[who].get_or_insert_text("monaco");
                let n = t.len(&docs[who].transact());
                Some((
                    type_at(&docs[who], at % (n + 1), &"abc"[..len as usize]),
                    true,
                ))
            }
            Step::Delete { who, at } => {
                let t = docs[who].get_or_insert_text("monaco");
                let mut txn = docs[who].transact_mut();
                let n = t.len(&txn);
                (n > 0).then(|| {
                    t.remove_range(&mut txn, at % n, 1);
                    (txn.encode_update_v1(), true)
                })
            }
            Step::Sync { who } => {
                let mut txn = docs[who].transact_mut();
                for u in &accepted {
                    txn.apply_update(Update::decode_v1(u).expect("decodes"))
                        .expect("applies");
                }
                None
            }
            Step::Craft {
                left,
                right,
                crossed,
                form,
            } => {
                let sv = replica.state_vector();
                if form & 8 == 0 || attacker.1 == 0 {
                    next_attacker += 1;
                    attacker = (next_attacker, 0);
                }
                let id = |(who, at): (usize, u32)| {
                    let client = if who == 3 { attacker.0 } else { who as u64 + 1 };
                    let clock = u64::from(sv.get(&yrs::ClientID::new(client)));
                    (clock > 0).then(|| (client, u64::from(at) % clock))
                };
                let (l, r) = match (id(left), id(right)) {
                    (Some(l), Some(r)) if crossed && stands_before(&replica, l, r) => (r, l),
                    (Some(l), Some(r)) => (l, r),
                    _ if form & 3 == 3 => ((0, 0), (0, 0)),
                    _ => continue,
                };
                let l = (form & 1 == 0).then_some(l);
                let r = (form & 2 == 0).then_some(r);
                let update = crafted_with(attacker.0, attacker.1, l, r, form & 4 != 0, "E");
                Some((update, false))
            }
        };
        let Some((update, honest)) = update else {
            continue;
        };
        match replica.apply_edit(&update) {
            Ok(_) => {
                if !honest {
                    attacker.1 += 1;
                }
                accepted.push(update)
            }
            Err(e) if honest => prop_assert!(false, "an honest update was refused: {e}"),
            Err(e) if e.needs_rebuild() => {
                // The room rebuilds its replica from what it accepted (its log).
                replica = Replica::new("monaco");
                for u in &accepted {
                    replica.apply(u).expect("the log applies");
                }
            }
            Err(_) => {}
        }
        prop_assert_eq!(rebuilt(&replica), replica.text());
        prop_assert_eq!(replica.list_agrees(), Ok(()));
    }
    // Every honest replica that takes in the accepted log shows the room's text.
    for doc in &docs {
        let mut txn = doc.transact_mut();
        for u in &accepted {
            txn.apply_update(Update::decode_v1(u).expect("decodes"))
                .expect("applies");
        }
        let text = txn
            .get_text("monaco")
            .map(|t| t.get_string(&txn))
            .unwrap_or_default();
        prop_assert_eq!(text, replica.text());
    }
    Ok(())
}

/// The check's cost on ordinary typing: ns per update through `apply_edit` (with the check)
/// and through `apply` (without it), same updates, same run; with the check, also the first
/// keystroke at each place (which reads the whole document's item order) apart from the next
/// ones (which continue the author's previous item). Run with
/// `cargo test --release -p collab-room-core --lib typing_cost -- --ignored --nocapture`.
#[test]
#[ignore]
fn typing_cost() {
    use std::time::Instant;
    // A file of 2,000 lines, then 2,000 keystrokes typed at 40 places (50 each), the
    // way an editor sends them: one update per keystroke.
    const PER_PLACE: usize = 50;
    let w = writer(1);
    let seed = type_at(&w, 0, &"let x = 1; // some code\n".repeat(2000));
    let mut updates = Vec::new();
    for place in 0..40u32 {
        let start = (place * 1201) % 48_000;
        for at in start..start + PER_PLACE as u32 {
            updates.push(type_at(&w, at, "a"));
        }
    }
    let time = |with_check: bool| {
        let replica = Replica::new("monaco");
        replica.apply_edit(&seed).expect("seed");
        let (mut first, mut next) = (0u128, 0u128);
        let started = Instant::now();
        for (n, u) in updates.iter().enumerate() {
            let one = Instant::now();
            if with_check {
                replica.apply_edit(u).expect("applies");
            } else {
                replica.apply(u).expect("applies");
            }
            let took = one.elapsed().as_nanos();
            if n % PER_PLACE == 0 {
                first += took
            } else {
                next += took
            }
        }
        let places = (updates.len() / PER_PLACE) as u128;
        (
            started.elapsed().as_nanos() / updates.len() as u128,
            first / places,
            next / (updates.len() as u128 - places),
        )
    };
    for round in 0..3 {
        let ((without, ..), (with, first, next)) = (time(false), time(true));
        println!(
            "round {round}: {without} ns/update without the order check, {with} ns with it \
             (first keystroke at a place {first} ns, next ones {next} ns)"
        );
    }
}

/// Open (fuzz/findings/crossed-origins/README.md, "origins in order that skip known text"):
/// found by random seeds of the property when its "crossed" items were ordered by visible text
/// only, shrunk. The crafted item's origins (1#0, 2#0) stand in order, but W's deleted text
/// 1#1 and 1#2 lies between them; yrs places the item by what it scans there, and a replica
/// that integrates in another order puts it elsewhere. Kept as the reproduction to fix.
#[test]
fn item_in_order_skipping_known_deleted_text_rebuilds_another_order() {
    let steps = vec![
        Step::Type {
            who: 0,
            at: 0,
            len: 1,
        },
        Step::Delete { who: 0, at: 0 },
        Step::Delete { who: 0, at: 0 },
        Step::Type {
            who: 0,
            at: 0,
            len: 1,
        },
        Step::Type {
            who: 0,
            at: 0,
            len: 1,
        },
        Step::Delete { who: 0, at: 0 },
        Step::Sync { who: 1 },
        Step::Sync { who: 2 },
        Step::Type {
            who: 1,
            at: 270546511,
            len: 2,
        },
        Step::Delete {
            who: 2,
            at: 3719778896,
        },
        Step::Craft {
            left: (0, 931988925),
            right: (1, 2253233470),
            crossed: true,
            form: 0,
        },
        Step::Type {
            who: 2,
            at: 250112322,
            len: 1,
        },
    ];
    run(steps).expect("the rebuilt text equals the live text");
}
