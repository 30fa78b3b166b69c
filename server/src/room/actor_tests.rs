//! The room actor on the in-memory engine: it opens with the stored document, relays a
//! client's update to the others and appends it, relays what another gateway appended,
//! catches up from the log over a gap pub/sub left, closes after its grace period, and
//! undoes one user's edit through the undo lists (leaving the other's).

use collab_protocol::FileId;

use crate::engine::log::{AppendBatch, Authored};
use crate::engine::memory::MemoryServer;
use crate::room::{self, RoomCmd, RoomHandle};
use crate::test_support::{Peer, TestGateway, config, eventually, eventually_async, file, writer};

/// Opens `file`'s room on `gateway` as the registry would.
fn open(gateway: &TestGateway, id: u64, file: &FileId) -> RoomHandle {
    let handle = room::spawn(id, file.clone(), gateway.ctx.clone());
    gateway.ctx.registry.insert(file.clone(), handle.clone());
    handle
}

async fn send(room: &RoomHandle, conn: u64, peer: &Peer, text: &str) {
    let msg = peer.types(text);
    let msg = Box::new(msg);
    let cmd = RoomCmd::Client { conn, msg };
    room.tx.send(cmd).await.expect("the room takes messages");
}

#[tokio::test]
async fn a_room_opens_with_the_stored_text_relays_an_update_and_appends_it() {
    let server = MemoryServer::new();
    let gw = TestGateway::new(&server, "gw-a", config(&[]));
    let f = file("sb/main.ts");
    let earlier = Peer::new();
    let stored = AppendBatch::single(Authored {
        author: None,
        update: earlier.edit("hello"),
        undo: None,
    });
    gw.engine.store.append(&f, &stored).await.expect("append");

    let room = open(&gw, 1, &f);
    let (ann, bob) = (Peer::new(), Peer::new());
    ann.join(&room, 1, writer("ann")).await;
    bob.join(&room, 2, writer("bob")).await;
    ann.until_text("hello").await;
    bob.until_text("hello").await;

    send(&room, 1, &ann, " world").await;
    bob.until_text("hello world").await;
    let store = gw.engine.store.clone();
    eventually_async("the update is in the log", || {
        let store = store.clone();
        let f = f.clone();
        async move { store.head(&f).await.is_ok_and(|head| head.pos == 2) }
    })
    .await;
    let tail = store.read_since(&f, 1).await.expect("read");
    assert_eq!(tail.entries[0].origin, "gw-a");
}

#[tokio::test]
async fn an_update_appended_on_another_gateway_arrives_through_the_bus() {
    let server = MemoryServer::new();
    let (a, b) = (
        TestGateway::new(&server, "gw-a", config(&[])),
        TestGateway::new(&server, "gw-b", config(&[])),
    );
    let f = file("sb/shared.md");
    let (room_a, room_b) = (open(&a, 1, &f), open(&b, 1, &f));
    let (ann, bob) = (Peer::new(), Peer::new());
    ann.join(&room_a, 1, writer("ann")).await;
    bob.join(&room_b, 1, writer("bob")).await;
    send(&room_a, 1, &ann, "from a").await;
    bob.until_text("from a").await;
    send(&room_b, 1, &bob, ", from b").await;
    ann.until_text("from a, from b").await;
}

#[tokio::test]
async fn a_gap_pub_sub_left_is_caught_up_from_the_log() {
    let server = MemoryServer::new();
    // No periodic head check within the test: only the gap can bring the update.
    let flags = ["--tail-check-ms", "600000"];
    let (a, b) = (
        TestGateway::new(&server, "gw-a", config(&flags)),
        TestGateway::new(&server, "gw-b", config(&flags)),
    );
    let f = file("sb/gap.rs");
    let (room_a, room_b) = (open(&a, 1, &f), open(&b, 1, &f));
    let (ann, bob) = (Peer::new(), Peer::new());
    ann.join(&room_a, 1, writer("ann")).await;
    bob.join(&room_b, 1, writer("bob")).await;

    server.lose_publications(true);
    send(&room_a, 1, &ann, "lost ").await;
    let store = a.engine.store.clone();
    let head_is = |pos: u64| {
        let (store, f) = (store.clone(), f.clone());
        move || {
            let (store, f) = (store.clone(), f.clone());
            async move { store.head(&f).await.is_ok_and(|head| head.pos == pos) }
        }
    };
    eventually_async("the first update is in the log", head_is(1)).await;
    server.lose_publications(false);
    // Position 2 arrives at a room that holds none: it reads 1 and 2 from the log.
    send(&room_a, 1, &ann, "then found").await;
    bob.until_text("lost then found").await;
}

#[tokio::test]
async fn an_empty_room_closes_after_its_grace_period_and_leaves_the_registry() {
    let server = MemoryServer::new();
    let gw = TestGateway::new(&server, "gw-a", config(&["--room-grace-ms", "30"]));
    let f = file("sb/brief.txt");
    let room = open(&gw, 7, &f);
    let ann = Peer::new();
    ann.join(&room, 1, writer("ann")).await;
    ann.until("the first sync message", |_| true).await;
    let started = std::time::Instant::now();
    room.tx
        .send(RoomCmd::Leave { conn: 1 })
        .await
        .expect("the room takes leaves");
    eventually("the room left the registry", || gw.room(&f).is_none()).await;
    eventually("the room's queue closed", || room.tx.is_closed()).await;
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(30),
        "not before the grace period"
    );
}

#[tokio::test]
async fn an_undo_takes_back_only_its_users_edit_through_the_memory_undo_lists() {
    let server = MemoryServer::new();
    let gw = TestGateway::new(&server, "gw-a", config(&[]));
    let f = file("sb/undo.md");
    let room = open(&gw, 1, &f);
    let (ann, bob) = (Peer::new(), Peer::new());
    ann.join(&room, 1, writer("ann")).await;
    bob.join(&room, 2, writer("bob")).await;
    send(&room, 1, &ann, "ann's line\n").await;
    bob.until_text("ann's line\n").await;
    send(&room, 2, &bob, "bob's line\n").await;
    ann.until_text("ann's line\nbob's line\n").await;
    let lists = gw.engine.undo.clone();
    eventually_async("both edits are on their authors' lists", || {
        let (lists, f) = (lists.clone(), f.clone());
        async move {
            let ann = lists.counts(&f, "ann").await.is_ok_and(|c| c.undo == 1);
            let bob = lists.counts(&f, "bob").await.is_ok_and(|c| c.undo == 1);
            ann && bob
        }
    })
    .await;

    let undo = collab_protocol::Message::Extension(collab_protocol::Extension::Undo);
    let cmd = RoomCmd::Client {
        conn: 1,
        msg: Box::new(undo),
    };
    room.tx.send(cmd).await.expect("the room takes messages");
    bob.until_text("bob's line\n").await;
    ann.until_text("bob's line\n").await;
    eventually_async("ann's undone edit waits on her redo list", || {
        let (lists, f) = (lists.clone(), f.clone());
        async move {
            let counts = lists.counts(&f, "ann").await;
            counts.is_ok_and(|c| (c.undo, c.redo) == (0, 1))
        }
    })
    .await;
}
