//! What the unit tests of the room actor, appender, registry and session share: gateways
//! on the in-memory engine ([`crate::engine::memory`]), clients that are a connection's
//! outbox plus a replica of the document, and waiting with a deadline.
//!
//! Several gateways can share one [`MemoryServer`], so an update can travel from one to
//! another through the bus as it would through Redis.

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use collab_protocol::{FileId, Message};
use dashmap::DashMap;
use tokio::time::Instant;
use yrs::sync::SyncMessage;
use yrs::updates::decoder::Decode;
use yrs::{Doc, GetString, ReadTxn, Text, Transact, Update};

use crate::access::{Access, Principal};
use crate::config::Config;
use crate::engine::memory::{self, MemoryServer};
use crate::engine::{Engine, Store};
use crate::outbox::Outbox;
use crate::pending::PendingAppends;
use crate::room::{RoomCmd, RoomContext, RoomHandle};

/// The longest any test waits for something to happen.
pub const DEADLINE: Duration = Duration::from_secs(5);

/// A configuration from flags (`--auth none` unless given).
pub fn config(flags: &[&str]) -> Config {
    let auth: &[&str] = if flags.contains(&"--auth") {
        &[]
    } else {
        &["--auth", "none"]
    };
    let argv = ["collab-gateway"].iter().chain(auth).chain(flags);
    Config::try_parse_from(argv).expect("the test's flags parse")
}

pub fn file(id: &str) -> FileId {
    FileId::parse(id).expect("a valid file id")
}

/// One gateway's rooms on a memory server (the engine's tasks live as long as it).
pub struct TestGateway {
    pub ctx: Arc<RoomContext>,
    pub engine: Engine,
}

impl TestGateway {
    pub fn new(server: &MemoryServer, id: &str, config: Config) -> Self {
        TestGateway::with_store(server, id, config, |store| store)
    }

    /// A gateway whose rooms see the engine's store through `wrap` (to count or delay
    /// what they ask of it).
    pub fn with_store(
        server: &MemoryServer,
        id: &str,
        config: Config,
        wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store>,
    ) -> Self {
        let (undo, diag) = (config.undo_policy(), config.diag_policy());
        let engine = memory::connect(server, id.into(), undo, diag);
        let config = Arc::new(config);
        let ctx = Arc::new(RoomContext {
            pending: Arc::new(PendingAppends::new(config.max_pending_bytes)),
            store: wrap(engine.store.clone()),
            undo: engine.undo.clone(),
            bus: engine.bus.clone(),
            registry: Arc::new(DashMap::new()),
            totals: Arc::default(),
            checking: crate::ext::diagnostics::check::Checking {
                pool: crate::ext::diagnostics::CheckPool::new(1),
                cache: engine.diagnostics.clone(),
                settings: config.diagnostics_settings(),
            },
            files: None,
            config,
        });
        TestGateway { ctx, engine }
    }

    /// The handle of `file`'s open room, if any.
    pub fn room(&self, file: &FileId) -> Option<RoomHandle> {
        self.ctx.registry.get(file).map(|open| open.clone())
    }
}

/// A read-write user.
pub fn writer(id: &str) -> Principal {
    Principal {
        verified: true,
        user: Arc::from(id),
        name: None,
        color: None,
        access: Access::ReadWrite,
    }
}

/// A client: what its room sends it lands in its outbox, and document updates among
/// that in its replica.
pub struct Peer {
    pub outbox: Outbox,
    pub doc: Doc,
}

impl Default for Peer {
    fn default() -> Self {
        Peer::new()
    }
}

impl Peer {
    pub fn new() -> Self {
        Peer {
            outbox: Outbox::new(1024),
            doc: Doc::new(),
        }
    }

    /// The next message its room sent, applied to the replica when it is document
    /// content; `None` when the deadline passed or the connection was closed.
    pub async fn next(&self, deadline: Instant) -> Option<Message> {
        let frame = tokio::select! {
            frame = self.outbox.next_frame() => frame,
            _ = self.outbox.closed() => return None,
            () = tokio::time::sleep_until(deadline) => return None,
        };
        let message = Message::decode(&frame).expect("the room sends decodable frames");
        if let Message::Sync(SyncMessage::SyncStep2(update) | SyncMessage::Update(update)) =
            &message
        {
            let update = Update::decode_v1(update).expect("the room sends decodable updates");
            self.doc
                .transact_mut()
                .apply_update(update)
                .expect("the room's updates apply");
        }
        Some(message)
    }

    /// The replica's text.
    pub fn text(&self) -> String {
        let text = self.doc.get_or_insert_text("monaco");
        text.get_string(&self.doc.transact())
    }

    /// Reads what the room sends until the replica's text is `want`.
    pub async fn until_text(&self, want: &str) {
        let deadline = Instant::now() + DEADLINE;
        while self.text() != want {
            if self.next(deadline).await.is_none() {
                panic!("the text is {:?}, never became {want:?}", self.text());
            }
        }
    }

    /// Reads what the room sends until a message matches `wanted`; returns it.
    pub async fn until(&self, what: &str, wanted: impl Fn(&Message) -> bool) -> Message {
        let deadline = Instant::now() + DEADLINE;
        loop {
            match self.next(deadline).await {
                Some(message) if wanted(&message) => return message,
                Some(_) => {}
                None => panic!("never received {what}"),
            }
        }
    }

    /// An update appending `text` to the replica's text, applied to it.
    pub fn edit(&self, text: &str) -> Vec<u8> {
        let t = self.doc.get_or_insert_text("monaco");
        let mut txn = self.doc.transact_mut();
        let end = t.len(&txn);
        t.insert(&mut txn, end, text);
        txn.encode_update_v1()
    }

    /// [`Peer::edit`] as the message a client sends.
    pub fn types(&self, text: &str) -> Message {
        Message::Sync(SyncMessage::Update(self.edit(text)))
    }

    /// Joins `room` as connection `conn` for `principal`, and asks for the document as a
    /// y-websocket client does (sync step 1 with its state vector).
    pub async fn join(&self, room: &RoomHandle, conn: u64, principal: Principal) {
        let (reply, joined) = tokio::sync::oneshot::channel();
        let join = RoomCmd::Join(Box::new(crate::room::Joining {
            conn,
            principal,
            opt_ins: Default::default(),
            outbox: self.outbox.clone(),
            reply,
        }));
        room.tx.send(join).await.expect("the room takes joins");
        joined
            .await
            .expect("the room answers")
            .expect("the room admits");
        let msg = Message::Sync(SyncMessage::SyncStep1(self.doc.transact().state_vector()));
        let msg = Box::new(msg);
        let ask = RoomCmd::Client { conn, msg };
        room.tx.send(ask).await.expect("the room takes messages");
    }
}

/// Waits until the future `check` makes comes out true, checking every few milliseconds,
/// for at most [`DEADLINE`].
pub async fn eventually_async<F: std::future::Future<Output = bool>>(
    what: &str,
    mut check: impl FnMut() -> F,
) {
    let deadline = Instant::now() + DEADLINE;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within {DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Waits until `done` holds, checking every few milliseconds, for at most [`DEADLINE`].
pub async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}
