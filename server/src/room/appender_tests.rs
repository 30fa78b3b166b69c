//! The appender on the in-memory engine: updates queued while it is busy become one log
//! entry in their order, a pop runs after the edits queued before it, a long log is
//! compacted, and an append that lands below what the room applied is reported.

use std::sync::Arc;

use collab_protocol::{FileId, UndoOp};
use tokio::sync::mpsc;
use yrs::updates::decoder::Decode;
use yrs::{Doc, GetString, Transact, Update};

use super::appender::{self, Job};
use super::beside::{Beside, PopResult, Results};
use collab_room_core::effect::PopRequest;
use collab_room_core::tail::Tail;

use crate::engine::log::Authored;
use crate::engine::memory::MemoryServer;
use crate::test_support::{DEADLINE, Peer, TestGateway, config, eventually_async, file};
use collab_room_core::ext::undo::UndoRecord;

/// An appender for `file` on `gw`, with its reports.
struct Running {
    jobs: mpsc::UnboundedSender<Job>,
    reports: mpsc::UnboundedReceiver<Beside>,
}

impl Running {
    /// The next pop's result, skipping other reports (stored entries).
    async fn popped(&mut self) -> Option<PopResult> {
        loop {
            match self.reports.recv().await? {
                Beside::Popped(popped) => return Some(*popped),
                _ => continue,
            }
        }
    }

    /// The next report that the log went backwards, skipping others.
    async fn went_backwards(&mut self) -> Option<()> {
        loop {
            match self.reports.recv().await? {
                Beside::WentBackwards => return Some(()),
                _ => continue,
            }
        }
    }
}

fn start(gw: &TestGateway, file: &FileId) -> Running {
    let (results, reports) = Results::channel();
    let jobs = appender::spawn(file.clone(), gw.ctx.clone(), results);
    Running { jobs, reports }
}

/// `update` by `user`, reserved in the pending budget as the room core does.
fn job(gw: &TestGateway, user: &str, update: Vec<u8>, undo: Option<UndoRecord>) -> Job {
    assert!(gw.ctx.pending.budget().try_reserve(update.len()));
    let authored = Authored {
        author: Some(Arc::from(user)),
        update,
        undo,
    };
    Job::Append(authored, 0)
}

/// The text of a snapshot and entries applied in order.
fn text_of(tail: Tail) -> String {
    let doc = Doc::new();
    let text = doc.get_or_insert_text("monaco");
    let mut txn = doc.transact_mut();
    let snapshot = tail.snapshot.into_iter().map(|(_, state)| state);
    for update in snapshot.chain(tail.entries.into_iter().map(|e| e.update)) {
        let update = Update::decode_v1(&update).expect("decodes");
        txn.apply_update(update).expect("applies");
    }
    text.get_string(&txn)
}

async fn until_head(gw: &TestGateway, file: &FileId, pos: u64) {
    let store = gw.engine.store.clone();
    eventually_async(&format!("the log reaches {pos}"), || {
        let (store, file) = (store.clone(), file.clone());
        async move { store.head(&file).await.is_ok_and(|head| head.pos == pos) }
    })
    .await;
}

#[tokio::test]
async fn updates_queued_while_it_is_busy_become_one_entry_in_order() {
    let server = MemoryServer::new();
    let gw = TestGateway::new(&server, "gw-a", config(&[]));
    let f = file("sb/batch.txt");
    let run = start(&gw, &f);
    let (ann, bob) = (Peer::new(), Peer::new());
    // Queued before the appender task first runs (this runtime has one thread).
    for (user, peer, text) in [
        ("ann", &ann, "one "),
        ("bob", &bob, "two "),
        ("ann", &ann, "three"),
    ] {
        run.jobs
            .send(job(&gw, user, peer.edit(text), None))
            .expect("queued");
    }
    until_head(&gw, &f, 1).await;
    let tail = gw.engine.store.read_since(&f, 0).await.expect("read");
    assert_eq!(tail.entries.len(), 1, "one merged entry");
    let text = text_of(tail);
    assert!(text.contains("one three"), "ann's edits in order: {text:?}");
    assert!(
        text.contains("two "),
        "bob's edit is in the entry too: {text:?}"
    );
    let pending = gw.ctx.pending.clone();
    crate::test_support::eventually("the budget is released", || pending.bytes() == 0).await;

    run.jobs
        .send(job(&gw, "ann", ann.edit("!"), None))
        .expect("queued");
    until_head(&gw, &f, 2).await;
}

#[tokio::test]
async fn a_pop_runs_after_the_edits_queued_before_it() {
    let server = MemoryServer::new();
    let gw = TestGateway::new(&server, "gw-a", config(&[]));
    let f = file("sb/undo.txt");
    let mut run = start(&gw, &f);
    let ann = Peer::new();
    let edit = job(
        &gw,
        "ann",
        ann.edit("typo"),
        Some(UndoRecord::Edit(vec![1, 2, 3])),
    );
    run.jobs.send(edit).expect("queued");
    let request = PopRequest {
        conn: 1,
        user: Arc::from("ann"),
        op: UndoOp::Undo,
        skipped: 0,
    };
    run.jobs.send(Job::Pop(request)).expect("queued");
    let (request, popped) = tokio::time::timeout(DEADLINE, run.popped())
        .await
        .expect("popped in time")
        .expect("a pop result");
    assert_eq!(&*request.user, "ann");
    let popped = popped.expect("the pop succeeded");
    assert_eq!(
        popped.item,
        Some(vec![1, 2, 3]),
        "the edit queued before it"
    );
    assert_eq!((popped.counts.undo, popped.counts.redo), (0, 0));
}

#[tokio::test]
async fn a_log_longer_than_compact_after_is_compacted() {
    let server = MemoryServer::new();
    let gw = TestGateway::new(&server, "gw-a", config(&["--compact-after", "3"]));
    let f = file("sb/long.txt");
    let run = start(&gw, &f);
    let ann = Peer::new();
    for (n, word) in ["a", "b", "c", "d", "e"].into_iter().enumerate() {
        run.jobs
            .send(job(&gw, "ann", ann.edit(word), None))
            .expect("queued");
        until_head(&gw, &f, n as u64 + 1).await;
    }
    let store = gw.engine.store.clone();
    eventually_async("a snapshot replaced the log", || {
        let (store, f) = (store.clone(), f.clone());
        async move {
            let tail = store.read_since(&f, 0).await.expect("read");
            tail.snapshot.is_some_and(|(pos, _)| pos >= 4)
        }
    })
    .await;
    let tail = gw.engine.store.read_since(&f, 0).await.expect("read");
    assert!(
        tail.entries.len() < 5,
        "entries trimmed: {}",
        tail.entries.len()
    );
    assert_eq!(text_of(tail), "abcde");
}

#[tokio::test]
async fn an_append_below_what_the_room_applied_is_reported() {
    let server = MemoryServer::new();
    let gw = TestGateway::new(&server, "gw-a", config(&[]));
    let f = file("sb/behind.txt");
    let mut run = start(&gw, &f);
    let ann = Peer::new();
    let Job::Append(authored, _) = job(&gw, "ann", ann.edit("x"), None) else {
        unreachable!("job makes appends")
    };
    // The room had applied position 5; this log's head is 0, so the append lands at 1.
    run.jobs.send(Job::Append(authored, 5)).expect("queued");
    tokio::time::timeout(DEADLINE, run.went_backwards())
        .await
        .expect("reported in time")
        .expect("a report");
}

/// Of all the appends that find the log past `--compact-after`, one in `compact_after / 4`
/// starts a compaction, beginning with the one that crosses it: two gateways appending to
/// one file no longer both compact it on every append.
#[test]
fn only_the_append_that_crosses_the_threshold_and_every_quarter_after_compacts() {
    let due: Vec<u64> = (1..=400)
        .filter(|&len| super::appender::compaction_due(len, 256))
        .collect();
    assert_eq!(due, vec![257, 257 + 64, 257 + 128]);
    let due: Vec<u64> = (1..=6)
        .filter(|&len| super::appender::compaction_due(len, 3))
        .collect();
    assert_eq!(due, vec![4, 5, 6]);
}
