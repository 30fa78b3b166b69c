//! One open file on this gateway: an actor task that owns the file's replica and presence,
//! its local connections and its Redis subscription.
//!
//! Everything that changes a room happens on its task, in order: client messages arrive
//! through a bounded queue (a flooding client waits, nobody else does), channel messages
//! through the bus, and outgoing frames leave through each connection's [`Outbox`] without
//! waiting. Accepted updates are relayed to local clients at once and handed to the room's
//! publisher task, which appends them to the log (batched) without holding up the room.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use bytes::Bytes;
use collab_protocol::envelope::{Envelope, Kind};
use collab_protocol::message::{decode_awareness, encode_awareness, encode_step2, encode_update};
use collab_protocol::{FileId, Message, close};
use dashmap::DashMap;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;
use yrs::sync::SyncMessage;

use crate::config::Config;
use crate::engine::{
    AppendBatch, Authored, Bus, CompactOutcome, EngineError, RoomSignals, RoomSink, Store, Tail,
};
use crate::outbox::{CloseReason, Outbox, Queued};
use crate::pending::PendingAppends;
use crate::presence::{Changes, ConnId, Presence, REMOTE_STATE_TTL};
use crate::replica::{ApplyError, Replica};

/// Updates at least this large are applied with the worker thread handed over.
const HEAVY_UPDATE_BYTES: usize = 64 << 10;
/// An update that takes longer than this to apply is logged.
const SLOW_APPLY: std::time::Duration = std::time::Duration::from_millis(250);

/// Attempts to open a room (100 ms doubling: about 3 s in all) before refusing joiners.
const OPEN_ATTEMPTS: u32 = 5;

/// Capacity of a room's queue of client messages.
const CLIENT_QUEUE: usize = 256;
/// Capacity of a room's queue of channel messages (overflow falls back to the log).
const REMOTE_QUEUE: usize = 1024;

/// Why a connection could not join.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// The room was closing; open a new one.
    #[error("room retired")]
    Retired,
    #[error("document unavailable: {0}")]
    Unavailable(String),
}

pub enum RoomCmd {
    Join {
        conn: ConnId,
        outbox: Outbox,
        reply: oneshot::Sender<Result<(), JoinError>>,
    },
    Leave {
        conn: ConnId,
    },
    Client {
        conn: ConnId,
        msg: Message,
    },
}

/// The address of a room task.
#[derive(Clone)]
pub struct RoomHandle {
    pub id: u64,
    pub tx: mpsc::Sender<RoomCmd>,
}

/// What every room of a gateway shares.
pub struct RoomContext {
    pub config: Arc<Config>,
    pub pending: Arc<PendingAppends>,
    pub store: Arc<dyn Store>,
    pub bus: Arc<dyn Bus>,
    pub registry: Arc<DashMap<FileId, RoomHandle>>,
}

pub struct Room {
    id: u64,
    file: FileId,
    ctx: Arc<RoomContext>,
    replica: Replica,
    presence: Presence,
    conns: HashMap<ConnId, Outbox>,
    /// Highest log position whose update (and all before it) this replica holds.
    applied: u64,
    /// Rough size of the document: loaded state plus accepted updates.
    doc_bytes: usize,
    empty_since: Option<Instant>,
    publisher: mpsc::UnboundedSender<Vec<u8>>,
    signals: Arc<RoomSignals>,
    /// Results of log reads, which run beside the room so that it keeps relaying between
    /// local clients while Redis is slow or down.
    fetched_tx: mpsc::UnboundedSender<Fetched>,
    fetching: bool,
    fetch_again: bool,
    /// Updates were refused a place in the pending budget: once Redis answers again,
    /// this replica's whole state goes to the log.
    overflowed: bool,
    /// The last sync step 2 sent, shared with the next joiner that asks with the same state
    /// vector while the doc is unchanged: in a join storm every newcomer asks with an empty
    /// one, and encoding a large doc once per joiner cost ~80 ms each on the room task and
    /// a private copy of the whole doc per queued answer.
    last_answer: Option<Answer>,
}

/// Where an update to apply comes from.
#[derive(Clone, Copy)]
enum Origin {
    /// A local client: applied only once its predecessors are in.
    Client,
    /// The log or another gateway, in log order.
    Log,
}

/// A sync step 2 frame and what it answered.
struct Answer {
    asked: yrs::StateVector,
    version: u64,
    frame: Bytes,
}

/// What a background read of the log brought back.
enum Fetched {
    /// Everything after `since`.
    Tail {
        since: u64,
        tail: Tail,
    },
    /// The log's head position.
    Head(u64),
    Failed,
}

/// Starts the task of a new room for `file` and returns its handle.
pub fn spawn(id: u64, file: FileId, ctx: Arc<RoomContext>) -> RoomHandle {
    let (tx, rx) = mpsc::channel(CLIENT_QUEUE);
    let (remote_tx, remote_rx) = mpsc::channel(REMOTE_QUEUE);
    let (publisher, updates) = mpsc::unbounded_channel();
    let signals = Arc::new(RoomSignals::default());
    let (fetched_tx, fetched_rx) = mpsc::unbounded_channel();
    tokio::spawn(publish_updates(file.clone(), ctx.clone(), updates));
    let replica = Replica::new(&ctx.config.text_name);
    let presence = Presence::new(replica.doc().clone());
    let room = Room {
        id,
        file,
        ctx,
        replica,
        presence,
        conns: HashMap::new(),
        applied: 0,
        doc_bytes: 0,
        empty_since: Some(Instant::now()),
        publisher,
        signals: signals.clone(),
        fetched_tx,
        fetching: false,
        fetch_again: false,
        overflowed: false,
        last_answer: None,
    };
    let sink = RoomSink {
        room_id: id,
        tx: remote_tx,
        signals,
    };
    crate::metrics::rooms(1.0);
    let span = tracing::info_span!("room", file = %room.file);
    tokio::spawn(room.run(rx, remote_rx, fetched_rx, sink).instrument(span));
    RoomHandle { id, tx }
}

impl Room {
    async fn run(
        mut self,
        mut rx: mpsc::Receiver<RoomCmd>,
        mut remote_rx: mpsc::Receiver<Envelope>,
        mut fetched_rx: mpsc::UnboundedReceiver<Fetched>,
        sink: RoomSink,
    ) {
        if let Err(error) = self.open(sink).await {
            tracing::warn!(%error, "room could not open");
            self.retire(&mut rx, JoinError::Unavailable(error));
            return;
        }
        let config = self.ctx.config.clone();
        let mut tail_check = tokio::time::interval(config.tail_check());
        tail_check.tick().await;
        let signals = self.signals.clone();
        loop {
            let grace_end = self.empty_since.map(|at| at + config.room_grace());
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(cmd) => self.on_command(cmd).await,
                    None => break,
                },
                Some(envelope) = remote_rx.recv() => self.on_remote(envelope),
                Some(fetched) = fetched_rx.recv() => self.on_fetched(fetched),
                () = signals.notified() => self.on_signals(),
                _ = tail_check.tick() => self.check_tail(),
                () = sleep_until(grace_end), if grace_end.is_some() => {
                    self.retire(&mut rx, JoinError::Retired);
                    return;
                }
            }
        }
    }

    /// Subscribes, then loads snapshot and log: whatever is published after the
    /// subscription is either in the load or arrives (or shows as a gap) later. Retries
    /// for a few seconds: right after Redis restarts, the first command on a connection
    /// may fail while it reconnects, and joiners should wait rather than be refused.
    async fn open(&mut self, sink: RoomSink) -> Result<(), String> {
        let mut backoff = std::time::Duration::from_millis(100);
        let mut attempt = 1;
        loop {
            match self.try_open(sink.clone()).await {
                Ok(()) => return Ok(()),
                Err(error) if attempt < OPEN_ATTEMPTS => {
                    tracing::info!(%error, attempt, "opening the room failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    async fn try_open(&mut self, sink: RoomSink) -> Result<(), String> {
        let joined = self.ctx.bus.join(&self.file, sink).await;
        joined.map_err(|e| e.to_string())?;
        let tail = match self.ctx.store.read_since(&self.file, 0).await {
            Ok(tail) => tail,
            Err(error) => {
                // Leave the channel again, so the next attempt starts clean.
                self.ctx.bus.leave(&self.file, self.id);
                return Err(error.to_string());
            }
        };
        self.apply_tail(tail, false);
        tracing::debug!(pos = self.applied, "room opened");
        self.publish(Kind::QueryAwareness, Vec::new());
        Ok(())
    }

    /// Leaves the registry and the channel; joins still queued are told to retry.
    fn retire(&mut self, rx: &mut mpsc::Receiver<RoomCmd>, why: JoinError) {
        self.ctx
            .registry
            .remove_if(&self.file, |_, handle| handle.id == self.id);
        rx.close();
        while let Ok(cmd) = rx.try_recv() {
            if let RoomCmd::Join { reply, .. } = cmd {
                let _ = reply.send(Err(why.clone()));
            }
        }
        self.ctx.bus.leave(&self.file, self.id);
        crate::metrics::rooms(-1.0);
        tracing::debug!("room closed");
    }

    async fn on_command(&mut self, cmd: RoomCmd) {
        match cmd {
            RoomCmd::Join {
                conn,
                outbox,
                reply,
            } => {
                let step1 = Message::Sync(SyncMessage::SyncStep1(self.replica.state_vector()));
                outbox.send(Bytes::from(step1.encode()));
                if let Some(states) = self.presence.all_states() {
                    outbox.send(Bytes::from(encode_awareness(&states)));
                }
                self.conns.insert(conn, outbox);
                self.empty_since = None;
                let _ = reply.send(Ok(()));
            }
            RoomCmd::Leave { conn } => self.drop_conn(conn),
            RoomCmd::Client { conn, msg } => self.on_client(conn, msg).await,
        }
    }

    async fn on_client(&mut self, conn: ConnId, msg: Message) {
        match msg {
            Message::Sync(SyncMessage::SyncStep1(sv)) => match self.answer(sv) {
                Ok(frame) => self.send_to(conn, frame),
                Err(error) => {
                    tracing::error!(%error, "encoding a diff failed");
                    self.rebuild().await;
                }
            },
            Message::Sync(SyncMessage::SyncStep2(update) | SyncMessage::Update(update)) => {
                self.accept_update(conn, &update).await
            }
            Message::Awareness(update) => {
                if let Some(changes) = self.presence.apply_local(conn, update) {
                    self.broadcast_states(&changes, Some(conn));
                    self.publish(Kind::Awareness, changes.encoded);
                }
            }
            Message::QueryAwareness => {
                if let Some(states) = self.presence.all_states() {
                    self.send_to(conn, Bytes::from(encode_awareness(&states)));
                }
            }
            // Extension messages are handled by later features; unknown ones are ignored.
            Message::Extension(_) | Message::Auth(_) => {}
        }
    }

    /// Sync step 2 for a client at `asked`: what it lacks, encoded once per doc version
    /// and state vector.
    fn answer(&mut self, asked: yrs::StateVector) -> Result<Bytes, ApplyError> {
        let version = self.replica.version();
        if let Some(last) = &self.last_answer
            && last.version == version
            && last.asked == asked
        {
            return Ok(last.frame.clone());
        }
        let frame = Bytes::from(encode_step2(&self.replica.diff(&asked)?));
        self.last_answer = Some(Answer {
            asked,
            version,
            frame: frame.clone(),
        });
        Ok(frame)
    }

    /// Validates a client's update by applying it; relays and logs what it changed.
    async fn accept_update(&mut self, conn: ConnId, update: &[u8]) {
        if self.doc_bytes.saturating_add(update.len()) > self.ctx.config.max_doc_bytes {
            self.close_conn(
                conn,
                CloseReason::error(
                    close::TOO_BIG,
                    "document-too-big",
                    format!(
                        "the document would exceed {} bytes",
                        self.ctx.config.max_doc_bytes
                    ),
                ),
            );
            return;
        }
        match self.timed_apply(update, Origin::Client) {
            Ok(None) => {}
            Ok(Some(changes)) => {
                self.doc_bytes += changes.len();
                self.broadcast(Bytes::from(encode_update(&changes)), Some(conn));
                self.store_later(changes, conn);
            }
            Err(ApplyError::Early(missing)) => {
                // Not a fault: a resyncing client's step 2 brings this content again.
                crate::metrics::rejected("early-update");
                tracing::debug!(conn, %missing, "ignored an update that came before its predecessors");
            }
            Err(error) => {
                tracing::info!(conn, %error, "rejected an update");
                self.close_conn(
                    conn,
                    CloseReason::error(close::INVALID_PAYLOAD, "invalid-update", error.to_string()),
                );
                if matches!(error, ApplyError::Panicked) {
                    self.rebuild().await;
                }
            }
        }
    }

    fn on_remote(&mut self, envelope: Envelope) {
        let own = envelope.origin == self.ctx.bus.gateway_id();
        match envelope.kind {
            Kind::Update { pos } if pos <= self.applied => {}
            Kind::Update { pos } if pos == self.applied + 1 => {
                self.apply_remote(&envelope.payload);
                self.applied = pos;
            }
            Kind::Update { .. } => self.catch_up(),
            Kind::Awareness if !own => match decode_awareness(&envelope.payload) {
                Ok(update) => {
                    if let Some(changes) = self.presence.apply_remote(&envelope.origin, update) {
                        self.broadcast_states(&changes, None);
                    }
                }
                Err(error) => tracing::warn!(%error, "bad awareness from the bus"),
            },
            Kind::QueryAwareness if !own => {
                if let Some(states) = self.presence.local_states() {
                    self.publish(Kind::Awareness, states);
                }
            }
            _ => {}
        }
    }

    /// Applies an update from the log or channel and relays what it changed.
    fn apply_remote(&mut self, update: &[u8]) {
        match self.timed_apply(update, Origin::Log) {
            Ok(Some(changes)) => {
                self.doc_bytes += changes.len();
                self.broadcast(Bytes::from(encode_update(&changes)), None);
            }
            Ok(None) => {}
            Err(error) => tracing::error!(%error, "an update from the log does not apply"),
        }
    }

    /// Applies an update to the replica. A large one may take long: the worker thread is
    /// handed over first, so the gateway's other tasks move to other threads meanwhile.
    fn timed_apply(&self, update: &[u8], origin: Origin) -> Result<Option<Vec<u8>>, ApplyError> {
        let started = Instant::now();
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|rt| rt.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let apply = || match origin {
            Origin::Client => self.replica.apply_from_client(update),
            Origin::Log => self.replica.apply(update),
        };
        let result = if update.len() >= HEAVY_UPDATE_BYTES && multi_thread {
            tokio::task::block_in_place(apply)
        } else {
            apply()
        };
        let took = started.elapsed();
        crate::metrics::update_applied(took);
        if took > SLOW_APPLY {
            tracing::warn!(bytes = update.len(), ?took, "an update took long to apply");
        }
        result
    }

    fn apply_tail(&mut self, tail: Tail, relay: bool) {
        let since = self.applied;
        let head = tail.head(since);
        let updates = tail
            .snapshot
            .into_iter()
            .map(|(_, state)| state)
            .chain(tail.entries.into_iter().map(|e| e.update));
        for update in updates {
            if relay {
                self.apply_remote(&update);
            } else {
                self.doc_bytes += update.len();
                if let Err(error) = self.replica.apply(&update) {
                    tracing::error!(%error, "a stored update does not apply");
                }
            }
        }
        self.applied = self.applied.max(head);
    }

    /// Reads what this replica missed from the log, beside the room.
    fn catch_up(&mut self) {
        let since = self.applied;
        crate::metrics::catch_up();
        let (store, file) = (self.ctx.store.clone(), self.file.clone());
        self.fetch(async move {
            let tail = store.read_since(&file, since).await?;
            Ok(Fetched::Tail { since, tail })
        });
    }

    /// The safety net under pub/sub: compares the log head with this replica's position,
    /// and expires cursors whose removal may have been dropped.
    fn check_tail(&mut self) {
        // A cached answer only helps joiners arriving together; don't hold a large doc's
        // copy for longer.
        self.last_answer = None;
        if !self.fetching {
            let (store, file) = (self.ctx.store.clone(), self.file.clone());
            self.fetch(async move { Ok(Fetched::Head(store.head(&file).await?)) });
        }
        if let Some(removal) = self.presence.sweep_remote(REMOTE_STATE_TTL) {
            self.broadcast(Bytes::from(encode_awareness(&removal)), None);
        }
    }

    /// Runs one log read at a time beside the room; a request made meanwhile runs after.
    fn fetch<F>(&mut self, read: F)
    where
        F: Future<Output = Result<Fetched, EngineError>> + Send + 'static,
    {
        if self.fetching {
            self.fetch_again = true;
            return;
        }
        self.fetching = true;
        let results = self.fetched_tx.clone();
        tokio::spawn(async move {
            let fetched = match read.await {
                Ok(fetched) => fetched,
                Err(error) => {
                    tracing::debug!(%error, "reading the log failed; a later check retries");
                    Fetched::Failed
                }
            };
            let _ = results.send(fetched);
        });
    }

    fn on_fetched(&mut self, fetched: Fetched) {
        self.fetching = false;
        match fetched {
            Fetched::Tail { since, tail } if tail.log_head < since => self.restore_lost_log(),
            Fetched::Tail { since, tail } => {
                self.apply_tail(tail, true);
                if std::mem::take(&mut self.overflowed) {
                    tracing::info!("redis answers again: storing the whole document");
                    self.store_whole_state();
                }
                if self.applied > since {
                    tracing::debug!(from = since, to = self.applied, "caught up from the log");
                }
            }
            Fetched::Head(head) if head != self.applied => self.fetch_again = true,
            Fetched::Head(_) | Fetched::Failed => {}
        }
        if std::mem::take(&mut self.fetch_again) {
            self.catch_up();
        }
    }

    /// Redis lost entries this replica had seen (a restart without persistence, a failover
    /// to a lagging replica): positions start again below ours. Re-read what is there,
    /// and give the log this replica's whole state, so the document in Redis is whole again.
    fn restore_lost_log(&mut self) {
        tracing::warn!(
            applied = self.applied,
            "the log in redis went backwards; restoring it from this replica"
        );
        self.applied = 0;
        self.store_whole_state();
        self.catch_up();
    }

    fn on_signals(&mut self) {
        for gateway in self.signals.take_gone() {
            if let Some(removal) = self.presence.remove_gateway(&gateway) {
                self.broadcast(Bytes::from(encode_awareness(&removal)), None);
            }
        }
        if self.signals.take_catch_up() {
            self.catch_up();
        }
    }

    /// Replaces a replica that panicked with one loaded from Redis, and asks every client
    /// for what the new replica lacks.
    async fn rebuild(&mut self) {
        tracing::error!("rebuilding the room's replica after a panic");
        self.replica = Replica::new(&self.ctx.config.text_name);
        self.last_answer = None;
        self.applied = 0;
        self.doc_bytes = 0;
        match self.ctx.store.read_since(&self.file, 0).await {
            Ok(tail) => self.apply_tail(tail, false),
            Err(error) => tracing::warn!(%error, "reloading the room failed; clients resync"),
        }
        let step1 = Bytes::from(
            Message::Sync(SyncMessage::SyncStep1(self.replica.state_vector())).encode(),
        );
        self.broadcast(step1, None);
    }

    /// Hands an accepted update to the publisher within the pending budget; past it,
    /// closes the writer with 1013 and remembers to store the whole state later.
    fn store_later(&mut self, update: Vec<u8>, writer: ConnId) {
        if self.ctx.pending.try_reserve(update.len()) {
            // The publisher lives as long as the room: a send cannot fail here.
            let _ = self.publisher.send(update);
            return;
        }
        self.overflowed = true;
        self.close_conn(
            writer,
            CloseReason::error(
                close::OVERLOADED,
                "store-unavailable",
                "the document store is unreachable and this gateway holds all it can; reconnect later",
            ),
        );
    }

    /// Queues this replica's whole state for the log (restoring what Redis lacks).
    fn store_whole_state(&mut self) {
        match self.replica.diff(&yrs::StateVector::default()) {
            Ok(whole) => {
                self.ctx.pending.force_reserve(whole.len());
                let _ = self.publisher.send(whole);
            }
            Err(error) => tracing::error!(%error, "encoding the whole state failed"),
        }
    }

    fn send_to(&mut self, conn: ConnId, frame: Bytes) {
        if let Some(outbox) = self.conns.get(&conn)
            && outbox.send(frame) == Queued::Gone
        {
            self.drop_conn(conn);
        }
    }

    /// Queues a frame for every local connection but `except`.
    fn broadcast(&mut self, frame: Bytes, except: Option<ConnId>) {
        self.broadcast_with(except, |outbox| outbox.send(frame.clone()));
    }

    /// Queues changed awareness states for every local connection but `except`; a
    /// single cursor's state replaces an older one still queued (see [`Outbox`]).
    fn broadcast_states(&mut self, changes: &Changes, except: Option<ConnId>) {
        let frame = Bytes::from(encode_awareness(&changes.encoded));
        match changes.only {
            Some(client) => self.broadcast_with(except, |outbox| {
                outbox.send_cursor(frame.clone(), client.get())
            }),
            None => self.broadcast(frame, except),
        }
    }

    fn broadcast_with(&mut self, except: Option<ConnId>, send: impl Fn(&Outbox) -> Queued) {
        let gone: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(id, _)| Some(**id) != except)
            .filter(|(_, outbox)| send(outbox) == Queued::Gone)
            .map(|(id, _)| *id)
            .collect();
        for conn in gone {
            self.drop_conn(conn);
        }
    }

    fn close_conn(&mut self, conn: ConnId, reason: CloseReason) {
        crate::metrics::rejected(reason.reason);
        if let Some(outbox) = self.conns.get(&conn) {
            outbox.close(reason);
        }
        self.drop_conn(conn);
    }

    /// Forgets a connection and removes its cursors everywhere.
    fn drop_conn(&mut self, conn: ConnId) {
        if self.conns.remove(&conn).is_none() {
            return;
        }
        if let Some(removal) = self.presence.remove_conn(conn) {
            self.broadcast(Bytes::from(encode_awareness(&removal)), None);
            self.publish(Kind::Awareness, removal);
        }
        if self.conns.is_empty() {
            self.empty_since = Some(Instant::now());
        }
    }

    /// Publishes awareness or control on the file's channel, without waiting for Redis:
    /// awareness states carry clocks, so their order of arrival does not matter.
    fn publish(&self, kind: Kind, payload: Vec<u8>) {
        let bus = self.ctx.bus.clone();
        let file = self.file.clone();
        tokio::spawn(async move {
            if let Err(error) = bus.publish(&file, kind, payload).await {
                tracing::debug!(%error, "publish failed");
            }
        });
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Appends a room's accepted updates to the log, merging whatever queued up meanwhile
/// into one entry, retrying while Redis is unreachable, and compacting when the log grows.
async fn publish_updates(
    file: FileId,
    ctx: Arc<RoomContext>,
    mut updates: mpsc::UnboundedReceiver<Vec<u8>>,
) {
    const MAX_BATCH_BYTES: usize = 1 << 20;
    let compacting = Arc::new(AtomicBool::new(false));
    // One author until sessions carry identities.
    let author: Arc<str> = Arc::from("anonymous");
    let authored = |update: Vec<u8>| Authored {
        user: author.clone(),
        update,
    };
    while let Some(first) = updates.recv().await {
        let mut batch = vec![first];
        let mut bytes = batch[0].len();
        while bytes < MAX_BATCH_BYTES {
            match updates.try_recv() {
                Ok(next) => {
                    bytes += next.len();
                    batch.push(next);
                }
                Err(_) => break,
            }
        }
        let reserved = bytes;
        let appended = if batch.len() == 1 {
            Ok(AppendBatch::single(authored(batch.swap_remove(0))))
        } else {
            // Kept for the fallback below: merging consumes the parts.
            AppendBatch::merge(batch.iter().cloned().map(authored).collect())
        };
        match appended {
            Ok(entry) => append_until_stored(&file, &ctx, &entry, &compacting).await,
            Err(error) => {
                tracing::error!(file = %file, %error, "merging updates failed; appending one by one");
                for update in batch {
                    let entry = AppendBatch::single(authored(update));
                    append_until_stored(&file, &ctx, &entry, &compacting).await;
                }
            }
        }
        ctx.pending.release(reserved);
    }
}

async fn append_until_stored(
    file: &FileId,
    ctx: &Arc<RoomContext>,
    batch: &AppendBatch,
    compacting: &Arc<AtomicBool>,
) {
    let mut backoff = std::time::Duration::from_millis(50);
    loop {
        match ctx.store.append(file, batch).await {
            Ok(appended) => {
                if appended.log_len > ctx.config.compact_after
                    && !compacting.swap(true, Ordering::AcqRel)
                {
                    tokio::spawn(compact(file.clone(), ctx.store.clone(), compacting.clone()));
                }
                return;
            }
            Err(error) => {
                tracing::warn!(file = %file, %error, "append failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(std::time::Duration::from_secs(2));
            }
        }
    }
}

async fn compact(file: FileId, store: Arc<dyn Store>, compacting: Arc<AtomicBool>) {
    match store.compact(&file).await {
        Ok(CompactOutcome::Compacted {
            pos,
            entries,
            state_bytes,
        }) => {
            crate::metrics::compaction("compacted");
            tracing::debug!(file = %file, pos, entries, state_bytes, "compacted the log");
        }
        Ok(outcome) => {
            crate::metrics::compaction(match outcome {
                CompactOutcome::LostRace => "lost-race",
                _ => "nothing-to-do",
            });
            tracing::debug!(file = %file, ?outcome, "compaction skipped");
        }
        Err(error) => {
            crate::metrics::compaction("failed");
            tracing::warn!(file = %file, %error, "compaction failed");
        }
    }
    compacting.store(false, Ordering::Release);
}
