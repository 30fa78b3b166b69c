//! The memory store keeps the engine contract: positions 1, 2, 3, ... published with
//! their entry, reads of what a replica lacks, compaction as compare-and-set, and undo
//! lists recorded with the append.

use std::sync::Arc;
use std::time::Duration;

use collab_protocol::envelope::{Envelope, Kind};
use collab_protocol::{FileId, UndoOp};
use tokio::sync::mpsc;
use yrs::updates::decoder::Decode;
use yrs::{Doc, GetString, Text, Transact, Update};

use crate::engine::Engine;
use crate::engine::inbox::{RoomSignals, RoomSink};
use crate::engine::log::{AppendBatch, Authored, CompactOutcome};
use crate::engine::memory::{MemoryServer, connect};
use collab_room_core::ext::diagnostics::DiagPolicy;
use collab_room_core::ext::undo::{UndoPolicy, UndoRecord};

fn file() -> FileId {
    FileId::parse("sb/notes.txt").expect("file id")
}

fn diag() -> DiagPolicy {
    DiagPolicy {
        ttl: Duration::from_secs(60),
        claim: Duration::from_secs(5),
        keep_versions: 2,
    }
}

fn engine(server: &MemoryServer, id: &str) -> Engine {
    connect(server, id.into(), UndoPolicy::default(), diag())
}

/// An update appending `text` to "t" of `doc`.
fn typed(doc: &Doc, text: &str) -> Vec<u8> {
    let t = doc.get_or_insert_text("t");
    let mut txn = doc.transact_mut();
    let end = t.len(&txn);
    t.insert(&mut txn, end, text);
    txn.encode_update_v1()
}

fn batch(user: Option<&str>, update: Vec<u8>, undo: Option<UndoRecord>) -> AppendBatch {
    AppendBatch::single(Authored {
        author: user.map(Arc::from),
        update,
        undo,
    })
}

/// Routes `file` on `engine`'s bus to a fresh inbox.
async fn listen(
    engine: &Engine,
    room_id: u64,
) -> (mpsc::Receiver<Box<Envelope>>, Arc<RoomSignals>) {
    let (tx, rx) = mpsc::channel(16);
    let signals = Arc::new(RoomSignals::default());
    let sink = RoomSink {
        room_id,
        tx,
        signals: signals.clone(),
    };
    engine.bus.join(&file(), sink).await.expect("join");
    (rx, signals)
}

#[tokio::test]
async fn appends_take_positions_in_order_and_are_published_with_them() {
    let server = MemoryServer::new();
    let (a, b) = (engine(&server, "gw-a"), engine(&server, "gw-b"));
    let (mut heard, _) = listen(&b, 1).await;
    let doc = Doc::new();
    for (n, text) in ["one ", "two ", "three"].into_iter().enumerate() {
        let appended = a
            .store
            .append(&file(), &batch(Some("ann"), typed(&doc, text), None))
            .await
            .expect("append");
        assert_eq!(
            (appended.pos, appended.log_len),
            (n as u64 + 1, n as u64 + 1)
        );
    }
    for pos in 1..=3 {
        let envelope = heard.try_recv().expect("published");
        assert_eq!(envelope.origin, "gw-a");
        assert_eq!(envelope.kind, Kind::Update { pos });
    }
    let head = b.store.head(&file()).await.expect("head");
    let last = head.last.as_ref().map(|e| e.origin.as_str());
    assert_eq!((head.pos, last), (3, Some("gw-a")));
    assert!(
        head.last.and_then(|e| e.digest).is_some(),
        "the head knows its content"
    );
    let tail = b.store.read_since(&file(), 1).await.expect("read");
    let positions: Vec<u64> = tail.entries.iter().map(|e| e.pos).collect();
    assert_eq!(positions, [2, 3]);
    let at_since = tail.at_since.as_ref().map(|e| e.origin.as_str());
    assert_eq!((tail.log_head, at_since), (3, Some("gw-a")));
}

#[tokio::test]
async fn a_full_inbox_asks_for_a_catch_up_instead_of_dropping_silently() {
    let server = MemoryServer::new();
    let gw = engine(&server, "gw-a");
    let (tx, _rx) = mpsc::channel(1);
    let signals = Arc::new(RoomSignals::default());
    let sink = RoomSink {
        room_id: 1,
        tx,
        signals: signals.clone(),
    };
    gw.bus.join(&file(), sink).await.expect("join");
    let doc = Doc::new();
    for text in ["a", "b"] {
        let update = typed(&doc, text);
        gw.store
            .append(&file(), &batch(None, update, None))
            .await
            .expect("append");
    }
    assert!(signals.take_catch_up(), "the second update did not fit");
}

#[tokio::test]
async fn compaction_merges_the_log_into_the_snapshot_and_readers_get_it() {
    let server = MemoryServer::new();
    let gw = engine(&server, "gw-a");
    assert_eq!(
        gw.store.compact(&file()).await.expect("compact"),
        CompactOutcome::NothingToDo
    );
    let doc = Doc::new();
    for text in ["hello", " ", "world"] {
        let update = typed(&doc, text);
        gw.store
            .append(&file(), &batch(None, update, None))
            .await
            .expect("append");
    }
    let outcome = gw.store.compact(&file()).await.expect("compact");
    assert!(
        matches!(
            outcome,
            CompactOutcome::Compacted {
                pos: 3,
                entries: 3,
                ..
            }
        ),
        "{outcome:?}"
    );
    let update = typed(&doc, "!");
    let appended = gw
        .store
        .append(&file(), &batch(None, update, None))
        .await
        .expect("append");
    assert_eq!(
        (appended.pos, appended.log_len),
        (4, 1),
        "positions go on after the snapshot"
    );

    let tail = gw.store.read_since(&file(), 0).await.expect("read");
    let (pos, state) = tail.snapshot.clone().expect("a snapshot");
    assert_eq!(pos, 3);
    let replica = Doc::new();
    let text = replica.get_or_insert_text("t");
    {
        let mut txn = replica.transact_mut();
        for update in std::iter::once(state).chain(tail.entries.iter().map(|e| e.update.clone())) {
            txn.apply_update(Update::decode_v1(&update).expect("decodes"))
                .expect("applies");
        }
    }
    assert_eq!(text.get_string(&replica.transact()), "hello world!");
    // A reader at or past the snapshot gets no snapshot, only the entries after it.
    let tail = gw.store.read_since(&file(), 3).await.expect("read");
    assert!(tail.snapshot.is_none());
    assert_eq!(tail.entries.len(), 1);
    let head = gw.store.head(&file()).await.expect("head");
    assert_eq!(head.pos, 4);
}

#[tokio::test]
async fn an_edit_goes_on_its_authors_undo_list_and_pops_once() {
    let server = MemoryServer::new();
    let (a, b) = (engine(&server, "gw-a"), engine(&server, "gw-b"));
    let (mut heard, _) = listen(&b, 1).await;
    let doc = Doc::new();
    let edit = batch(
        Some("ann"),
        typed(&doc, "x"),
        Some(UndoRecord::Edit(vec![7])),
    );
    a.store.append(&file(), &edit).await.expect("append");
    let counts = b.undo.counts(&file(), "ann").await.expect("counts");
    assert_eq!((counts.undo, counts.redo), (1, 0));
    let kinds: Vec<Kind> = std::iter::from_fn(|| heard.try_recv().ok())
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, [Kind::Update { pos: 1 }, Kind::UndoCounts]);

    let popped = b.undo.pop(&file(), "ann", UndoOp::Undo).await.expect("pop");
    assert_eq!(popped.item, Some(vec![7]));
    let again = a.undo.pop(&file(), "ann", UndoOp::Undo).await.expect("pop");
    assert_eq!(again.item, None, "two gateways never pop the same item");
    let notice = heard.try_recv().expect("the count went to zero");
    assert_eq!(notice.kind, Kind::UndoCounts);
    let json: serde_json::Value = serde_json::from_slice(&notice.payload).expect("json");
    assert_eq!(
        json,
        serde_json::json!({"user": "ann", "undo": 0, "redo": 0})
    );
}
