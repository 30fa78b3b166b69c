//! The registry of rooms on the in-memory engine: one room per file, joiners who arrive
//! while it loads wait for that one load, and a file whose room closed opens again with
//! its text.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use collab_protocol::FileId;
use futures_util::future::{BoxFuture, join_all};

use collab_room_core::ext::OptIns;
use collab_room_core::tail::{LogHead, Tail};

use crate::engine::log::{AppendBatch, Appended, CompactOutcome};
use crate::engine::memory::MemoryServer;
use crate::engine::{EngineError, Store};
use crate::rooms::Rooms;
use crate::test_support::{Peer, TestGateway, config, eventually, file, writer};

/// A store that counts whole-file loads and makes each take a while, so that joiners
/// pile up behind the first.
struct SlowLoads {
    inner: Arc<dyn Store>,
    loads: Arc<AtomicUsize>,
    takes: Duration,
}

impl Store for SlowLoads {
    fn append<'a>(
        &'a self,
        file: &'a FileId,
        batch: &'a AppendBatch,
    ) -> BoxFuture<'a, Result<Appended, EngineError>> {
        self.inner.append(file, batch)
    }

    fn head<'a>(&'a self, file: &'a FileId) -> BoxFuture<'a, Result<LogHead, EngineError>> {
        self.inner.head(file)
    }

    fn read_since<'a>(
        &'a self,
        file: &'a FileId,
        since: u64,
    ) -> BoxFuture<'a, Result<Tail, EngineError>> {
        Box::pin(async move {
            if since == 0 {
                self.loads.fetch_add(1, Ordering::AcqRel);
                tokio::time::sleep(self.takes).await;
            }
            self.inner.read_since(file, since).await
        })
    }

    fn compact<'a>(
        &'a self,
        file: &'a FileId,
    ) -> BoxFuture<'a, Result<CompactOutcome, EngineError>> {
        self.inner.compact(file)
    }

    fn claim_cursors<'a>(
        &'a self,
        file: &'a FileId,
        user: &'a str,
        ids: &'a [u64],
        ttl_ms: u64,
    ) -> BoxFuture<'a, Result<Vec<bool>, EngineError>> {
        self.inner.claim_cursors(file, user, ids, ttl_ms)
    }
}

/// A gateway whose loads take 20 ms, and their count.
fn counted(server: &MemoryServer, flags: &[&str]) -> (TestGateway, Arc<AtomicUsize>) {
    counted_taking(server, flags, Duration::from_millis(20))
}

fn counted_taking(
    server: &MemoryServer,
    flags: &[&str],
    takes: Duration,
) -> (TestGateway, Arc<AtomicUsize>) {
    let loads = Arc::new(AtomicUsize::new(0));
    let counter = loads.clone();
    let gw = TestGateway::with_store(server, "gw-a", config(flags), |inner| {
        Arc::new(SlowLoads {
            inner,
            loads: counter,
            takes,
        })
    });
    (gw, loads)
}

#[tokio::test]
async fn joiners_arriving_together_share_one_room_and_one_load() {
    let server = MemoryServer::new();
    let (gw, loads) = counted(&server, &[]);
    let rooms = Rooms::new(gw.ctx.clone());
    let f = file("sb/busy.txt");
    let peers: Vec<Peer> = (0..20).map(|_| Peer::new()).collect();
    let joins = peers.iter().enumerate().map(|(n, peer)| {
        let principal = writer(&format!("user{n}"));
        rooms.join(&f, principal, OptIns::default(), peer.outbox.clone())
    });
    let members = join_all(joins).await;
    assert!(members.iter().all(Result::is_ok), "everyone is admitted");
    assert_eq!(loads.load(Ordering::Acquire), 1, "the file was loaded once");
    assert_eq!(gw.ctx.registry.len(), 1);
    let mut conns: Vec<u64> = members.iter().flatten().map(|m| m.conn).collect();
    conns.sort_unstable();
    conns.dedup();
    assert_eq!(conns.len(), 20, "each connection has its own id");
}

#[tokio::test]
async fn each_file_has_its_own_room() {
    let server = MemoryServer::new();
    let (gw, loads) = counted(&server, &[]);
    let rooms = Rooms::new(gw.ctx.clone());
    let (a, b) = (file("sb/a.txt"), file("sb/b.txt"));
    let (ann, bob) = (Peer::new(), Peer::new());
    let ann_in = rooms.join(&a, writer("ann"), OptIns::default(), ann.outbox.clone());
    let bob_in = rooms.join(&b, writer("bob"), OptIns::default(), bob.outbox.clone());
    let (ann_in, bob_in) = tokio::join!(ann_in, bob_in);
    let (_ann_in, _bob_in) = (ann_in.expect("ann joins"), bob_in.expect("bob joins"));
    let ids = (gw.room(&a).map(|r| r.id), gw.room(&b).map(|r| r.id));
    assert!(matches!(ids, (Some(x), Some(y)) if x != y), "{ids:?}");
    assert_eq!(loads.load(Ordering::Acquire), 2);
}

#[tokio::test]
async fn a_file_whose_room_closed_opens_again_with_its_text() {
    let server = MemoryServer::new();
    let (gw, loads) = counted(&server, &["--room-grace-ms", "20"]);
    let rooms = Rooms::new(gw.ctx.clone());
    let f = file("sb/again.txt");
    let ann = Peer::new();
    let member = rooms
        .join(&f, writer("ann"), OptIns::default(), ann.outbox.clone())
        .await
        .expect("ann joins");
    let first = gw.room(&f).expect("open").id;
    assert!(member.send(ann.types("kept")).await);
    member.leave().await;
    eventually("the room closed", || gw.room(&f).is_none()).await;

    let bob = Peer::new();
    let room = rooms
        .join(&f, writer("bob"), OptIns::default(), bob.outbox.clone())
        .await
        .expect("bob joins");
    let step1 = yrs::sync::SyncMessage::SyncStep1(Default::default());
    assert!(room.send(collab_protocol::Message::Sync(step1)).await);
    bob.until_text("kept").await;
    assert_ne!(gw.room(&f).expect("open again").id, first, "a fresh room");
    assert_eq!(loads.load(Ordering::Acquire), 2);
}

#[tokio::test]
async fn joiners_waiting_on_a_load_slower_than_the_grace_period_are_admitted() {
    let server = MemoryServer::new();
    // Loads take 100 ms; an empty room may stay 25 ms (a margin for a busy machine: the
    // grace period starts when the load is done, and the queued joins must come first).
    let takes = Duration::from_millis(100);
    let (gw, loads) = counted_taking(&server, &["--room-grace-ms", "25"], takes);
    let rooms = Rooms::new(gw.ctx.clone());
    let f = file("sb/slow.txt");
    let peers: Vec<Peer> = (0..10).map(|_| Peer::new()).collect();
    let joins = peers.iter().enumerate().map(|(n, peer)| {
        let principal = writer(&format!("user{n}"));
        rooms.join(&f, principal, OptIns::default(), peer.outbox.clone())
    });
    let members = join_all(joins).await;
    let refused = members.iter().filter(|m| m.is_err()).count();
    assert_eq!(refused, 0, "nobody is turned away");
    assert_eq!(loads.load(Ordering::Acquire), 1, "one room, loaded once");
}
