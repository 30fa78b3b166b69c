//! The seed corpus: valid inputs of every kind for each fuzz target, so the fuzzers start
//! from real y-websocket traffic instead of rediscovering lib0 and the yrs update format.
//!
//! Written to `fuzz/corpus/<target>/seed-*` by the ignored test `write_seed_corpus` in
//! `server/tests/fuzz_corpus.rs` (see the README's Fuzzing section); the fuzzers add their
//! own finds beside them.

use std::collections::HashMap;

use collab_protocol::envelope::Kind;
use collab_protocol::message::{encode_awareness, encode_step2, encode_update};
use collab_protocol::{Envelope, Extension, Message};
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::sync::{AwarenessUpdate, SyncMessage};
use yrs::updates::encoder::Encode;
use yrs::{ClientID, Doc, OffsetKind, Options, ReadTxn, StateVector, Text, Transact};

use super::room::{Record, TEXT, encode};

/// Named seed inputs of one target.
pub type Seeds = Vec<(String, Vec<u8>)>;

/// A client editing the gateway's text, keeping each edit's update.
struct Editor {
    doc: Doc,
}

impl Editor {
    fn new(client: u64) -> Self {
        let mut options = Options::with_client_id(ClientID::new(client));
        options.offset_kind = OffsetKind::Utf16;
        Editor {
            doc: Doc::with_options(options),
        }
    }

    fn insert(&self, at: u32, s: &str) -> Vec<u8> {
        let text = self.doc.get_or_insert_text(TEXT);
        let mut txn = self.doc.transact_mut();
        text.insert(&mut txn, at, s);
        txn.encode_update_v1()
    }

    fn delete(&self, at: u32, len: u32) -> Vec<u8> {
        let text = self.doc.get_or_insert_text(TEXT);
        let mut txn = self.doc.transact_mut();
        text.remove_range(&mut txn, at, len);
        txn.encode_update_v1()
    }

    fn receive(&self, update: &[u8]) {
        use yrs::updates::decoder::Decode;
        let update = yrs::Update::decode_v1(update).expect("a seed update decodes");
        let mut txn = self.doc.transact_mut();
        txn.apply_update(update).expect("a seed update applies");
    }

    fn state_vector(&self) -> StateVector {
        self.doc.transact().state_vector()
    }

    fn state(&self) -> Vec<u8> {
        self.doc.transact().encode_diff_v1(&StateVector::default())
    }
}

fn awareness(entries: &[(u64, u32, &str)]) -> AwarenessUpdate {
    let clients: HashMap<_, _> = entries
        .iter()
        .map(|(id, clock, json)| {
            let entry = AwarenessUpdateEntry {
                clock: *clock,
                json: (*json).into(),
            };
            (ClientID::new(*id), entry)
        })
        .collect();
    AwarenessUpdate { clients }
}

/// A y-monaco style cursor state.
const CURSOR: &str = r##"{"user":{"name":"Ada","color":"#30bced"},"selection":{"anchor":{"type":{"client":11,"clock":0},"tname":null,"item":{"client":11,"clock":3},"assoc":0},"head":{"type":null,"tname":"monaco","item":null,"assoc":-1}}}"##;

/// One frame of every message type and sync step, plus the edits they are built from.
pub fn message() -> Seeds {
    let a = Editor::new(11);
    let hello = a.insert(0, "hello\n");
    let emoji = a.insert(5, " wörld 🎉");
    let delete = a.delete(0, 2);
    let mut sv = a.state_vector();
    sv.set_max(ClientID::new((1 << 53) - 1), 7);
    let frames = [
        (
            "sync-step1-empty",
            Message::Sync(SyncMessage::SyncStep1(StateVector::default())).encode(),
        ),
        (
            "sync-step1",
            Message::Sync(SyncMessage::SyncStep1(sv)).encode(),
        ),
        ("sync-step2-empty", encode_step2(&Editor::new(12).state())),
        ("sync-step2", encode_step2(&a.state())),
        ("update-insert", encode_update(&hello)),
        ("update-insert-utf16", encode_update(&emoji)),
        ("update-delete", encode_update(&delete)),
        (
            "awareness",
            encode_awareness(&awareness(&[(11, 3, CURSOR), (12, 1, "{}")]).encode_v1()),
        ),
        (
            "awareness-removed",
            Message::Awareness(awareness(&[(11, 4, "null")])).encode(),
        ),
        ("auth", Message::Auth("permission denied".into()).encode()),
        ("query-awareness", Message::QueryAwareness.encode()),
        (
            "extension-error",
            Message::Extension(Extension::error(1009, "frame-too-big", "2 MB")).encode(),
        ),
        ("extension-unknown", {
            let mut frame = vec![100];
            let json = br#"{"type":"undo","scope":"user"}"#;
            frame.push(json.len() as u8);
            frame.extend_from_slice(json);
            frame
        }),
    ];
    frames
        .into_iter()
        .map(|(name, frame)| {
            assert!(Message::decode(&frame).is_ok(), "seed {name} decodes");
            (name.to_owned(), frame)
        })
        .collect()
}

/// An envelope of every kind, as gateways and the append script publish them.
pub fn envelope() -> Seeds {
    let update = Editor::new(11).insert(0, "hi");
    let cursor = awareness(&[(11, 3, CURSOR)]).encode_v1();
    [
        ("update", Kind::Update { pos: 17 }, update),
        ("awareness", Kind::Awareness, cursor),
        ("query-awareness", Kind::QueryAwareness, Vec::new()),
        ("heartbeat", Kind::Heartbeat, Vec::new()),
        ("leaving", Kind::Leaving, Vec::new()),
    ]
    .into_iter()
    .map(|(name, kind, payload)| {
        let env = Envelope::new("gw-7f3a_1", kind, payload);
        (name.to_owned(), env.encode())
    })
    .collect()
}

/// File ids as clients put them after `/doc/`.
pub fn keys() -> Seeds {
    [
        ("path", "sb1/src/main.rs".to_owned()),
        ("dots", "a..b/.hidden/x.y".to_owned()),
        ("unicode", "notes/café ü 🎉.md".to_owned()),
        ("braces", "x{y}".to_owned()),
        ("longest", "d/".repeat(256)),
    ]
    .into_iter()
    .map(|(name, id)| (name.to_owned(), id.into_bytes()))
    .collect()
}

/// Conversations between a room and its clients: joins, concurrent edits, out-of-order
/// updates, cursors, echoes, leaves and a bad frame.
pub fn room() -> Seeds {
    let a = Editor::new(11);
    let b = Editor::new(22);
    let step1 = |e: &Editor| Message::Sync(SyncMessage::SyncStep1(e.state_vector())).encode();
    let join_a = step1(&a);
    let a1 = a.insert(0, "fn main() {}\n");
    let a2 = a.insert(11, "println!(\"🎉\");");
    let join_b = step1(&b);
    b.receive(&a1);
    let b1 = b.insert(0, "// b\n");
    let a3 = a.delete(0, 3);
    let cursor_a = Message::Awareness(awareness(&[(11, 1, CURSOR)])).encode();
    let cursor_b = Message::Awareness(awareness(&[(22, 1, r#"{"user":{"name":"B"}}"#)])).encode();
    let gone_a = Message::Awareness(awareness(&[(11, 2, "null")])).encode();

    let edits = [
        Record::Frame(0, &join_a),
        Record::Frame(0, &cursor_a),
        Record::Frame(1, &join_b),
        Record::Frame(1, &cursor_b),
    ];
    let u = |x: &Vec<u8>| encode_update(x);
    let (u1, u2, u3, ub) = (u(&a1), u(&a2), u(&a3), u(&b1));
    let mut seeds: Seeds = Vec::new();
    let mut add =
        |name: &str, records: &[Record<'_>]| seeds.push((name.to_owned(), encode(records)));

    let mut two_editors = edits.to_vec();
    two_editors.extend([
        Record::Frame(0, &u1),
        Record::Frame(0, &u2),
        Record::Frame(1, &ub),
        Record::Frame(0, &u3),
        Record::Frame(1, &cursor_a),
        Record::Frame(2, &join_a),
        Record::Leave(0),
        Record::Frame(1, &gone_a),
    ]);
    add("two-editors", &two_editors);
    add(
        "out-of-order",
        &[
            Record::Frame(0, &u2),
            Record::Frame(1, &ub),
            Record::Frame(0, &u1),
            Record::Frame(0, &u3),
        ],
    );
    let step2 = encode_step2(&a.state());
    add(
        "step2-then-query",
        &[
            Record::Frame(3, &step2),
            Record::Frame(3, &step2),
            Record::Frame(1, &Message::QueryAwareness.encode()),
            Record::Frame(2, &join_b),
        ],
    );
    add(
        "bad-frame-closes",
        &[
            Record::Frame(0, &cursor_a),
            Record::Frame(0, &u1),
            Record::Frame(0, &[0, 2, 3, 1, 2]),
            Record::Frame(1, &u2),
        ],
    );
    add(
        "extension-and-auth",
        &[
            Record::Frame(
                0,
                &Message::Extension(Extension::error(1000, "bye", "")).encode(),
            ),
            Record::Frame(1, &Message::Auth("x".into()).encode()),
        ],
    );
    seeds
}
