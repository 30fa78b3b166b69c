//! One simulated editor: a yrs document behind one WebSocket.
//!
//! The editor behaves like a y-websocket client in a browser with Monaco: its doc counts
//! offsets in UTF-16 code units, its text is the root `Y.Text` "monaco", it answers the
//! gateway's sync step 1 with step 2 and sends its own step 1, and it is synced once the
//! gateway's step 2 arrives. During the edit phase it types (one character at a random
//! position) or deletes (one character) at its rate, and optionally moves its cursor
//! (awareness state in y-monaco's format). Everything it receives is decoded strictly and
//! applied; undecodable frames and gateway errors are counted, never fatal.
//!
//! A light editor ([`Behaviour::light`], see [`crate::replicas`]) decodes and times what
//! it receives like any other but applies nothing: its doc holds only its own edits, and it
//! takes no part in the convergence check. A light joiner checks a document it was expected
//! to get ([`Behaviour::expect_doc`]) from the decoded update ([`crate::doc_check`]).

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use collab_protocol::Message;
use collab_protocol::extension::Extension;
use collab_protocol::message::{encode_awareness, encode_step2, encode_update};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{Interval, MissedTickBehavior};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async_tls_with_config};
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::sync::{AwarenessUpdate, SyncMessage};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{
    Assoc, ClientID, Doc, GetString, IndexedSequence, OffsetKind, Options, ReadTxn, Text, TextRef,
    Transact, Update,
};

use crate::doc_check::ExpectedDoc;
use crate::framing::Inbound;
use crate::phase::Phase;
use crate::replicas;
use crate::shared::Shared;
use crate::stats::Stats;
use crate::target::FileUrl;
use crate::tls::TlsRoots;
use crate::tracker::{FinalState, Slot};

/// Name of the root text, as y-monaco binds it.
pub const TEXT_NAME: &str = "monaco";

/// How long a WebSocket handshake may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Largest frame and message the harness accepts from a gateway.
const MAX_MESSAGE_BYTES: usize = 256 << 20;

/// How long to wait for the gateway's close reply when stopping.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Characters an editor types: letters, spaces and the odd newline, all one UTF-16 unit.
const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz     \n";

/// What an editor does during the edit phase (the default: nothing, a passive reader).
#[derive(Debug, Clone, Copy, Default)]
pub struct Behaviour {
    /// Edits per second; 0 never edits.
    pub edit_rate: f64,
    /// Stop editing after this many edits.
    pub edit_limit: Option<u64>,
    /// Share of edits that delete a character (when there is one) instead of typing.
    pub delete_ratio: f64,
    /// Cursor (awareness) updates per second; 0 sends none.
    pub cursor_rate: f64,
    /// The document this editor must have once synced; anything else is an error (a
    /// joiner that got a short or wrong document). A full replica compares its text, a
    /// light editor the decoded update's ids and length.
    pub expect_doc: Option<ExpectedDoc>,
    /// Apply nothing received: decode, time, and count deliveries only.
    pub light: bool,
    /// Drop the document once synced (and checked) and apply nothing more: a passive
    /// joiner of a large document would otherwise make the harness, not the gateway, hold
    /// a copy per editor. Such an editor takes no part in the convergence check.
    pub forget_doc_after_sync: bool,
}

/// Where an editor connects and what it does there.
#[derive(Debug, Clone)]
pub struct EditorPlan {
    /// Index of the file in the run (the tracker's file number).
    pub file: usize,
    /// File id on the wire.
    pub file_id: String,
    /// Index of the target (gateway) it connects to.
    pub target: usize,
    /// WebSocket URL to connect to (shown without its token).
    pub url: FileUrl,
    /// Yjs client id (32-bit, like yjs 13 clients), unique within the run.
    pub client_id: u32,
    pub behaviour: Behaviour,
}

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Why a session ended.
enum End {
    /// The run told it to stop.
    Stopped,
    /// The connection went away (closed by the gateway, or an IO error).
    Lost(String),
}

/// Runs one editor until the fleet stops; records everything in `shared`.
pub async fn run(shared: Arc<Shared>, plan: EditorPlan) {
    let mut editor = Editor::new(plan);
    match connect(&shared, &editor.plan.url).await {
        Ok((ws, started)) => {
            editor.connect_started = started;
            if let End::Lost(why) = editor.session(&shared, ws).await {
                shared
                    .stats
                    .disconnect(format!("{}: {why}", editor.plan.url));
            }
        }
        Err(why) => shared
            .stats
            .connect_failure(format!("{}: {why}", editor.plan.url)),
    }
    editor.finish_editing(&shared);
    if let Some(slot) = editor.slot {
        shared.tracker.leave(editor.plan.file, slot);
    }
}

/// The WebSocket settings of every harness connection.
pub(crate) fn ws_config() -> WebSocketConfig {
    // A small read buffer: tungstenite allocates 128 KiB per socket by default, which
    // would make the harness, not the gateway, the memory hog at 20,000 connections.
    // Large frame and message limits: a gateway sends a joiner its whole document (tens
    // of MB) in one frame, above tungstenite's default 16 MiB frame limit.
    WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .max_frame_size(Some(MAX_MESSAGE_BYTES))
        .max_message_size(Some(MAX_MESSAGE_BYTES))
}

/// Opens a WebSocket to `url` (with its token) within [`CONNECT_TIMEOUT`].
pub(crate) async fn open(url: &FileUrl) -> Result<Ws, String> {
    let (ws, _response) = tokio::time::timeout(
        CONNECT_TIMEOUT,
        connect_async_tls_with_config(
            url.connect_url(),
            Some(ws_config()),
            true,
            url.tls().map(TlsRoots::connector),
        ),
    )
    .await
    .map_err(|_| format!("handshake timed out after {CONNECT_TIMEOUT:?}"))?
    .map_err(|e| format!("connect failed: {e}"))?;
    Ok(ws)
}

/// Connects within the fleet's connect limit; returns the socket and when the connect
/// started (after the wait for the limit).
async fn connect(shared: &Shared, url: &FileUrl) -> Result<(Ws, Instant), String> {
    let _permit = shared
        .connect_limit
        .acquire()
        .await
        .map_err(|_| "connect limiter closed".to_owned())?;
    let started = Instant::now();
    let ws = open(url).await?;
    shared.stats.connect_time(started.elapsed());
    Stats::add(&shared.stats.connected, 1);
    Ok((ws, started))
}

struct Editor {
    plan: EditorPlan,
    doc: Doc,
    text: TextRef,
    rng: StdRng,
    /// Our place in the file's tracker, once synced.
    slot: Option<Slot>,
    connect_started: Instant,
    sync_started: Instant,
    /// The document was dropped after sync ([`Behaviour::forget_doc_after_sync`]).
    forgotten: bool,
    edits: u64,
    finished_editing: bool,
    cursor_clock: u32,
    last_cursor: Option<Vec<u8>>,
    edit_timer: Option<Interval>,
    cursor_timer: Option<Interval>,
}

impl Editor {
    fn new(plan: EditorPlan) -> Editor {
        let (doc, text) = new_doc(plan.client_id);
        Editor {
            plan,
            doc,
            text,
            rng: StdRng::from_rng(&mut rand::rng()),
            slot: None,
            connect_started: Instant::now(),
            sync_started: Instant::now(),
            forgotten: false,
            edits: 0,
            finished_editing: false,
            cursor_clock: 0,
            last_cursor: None,
            edit_timer: None,
            cursor_timer: None,
        }
    }

    async fn session(&mut self, shared: &Shared, ws: Ws) -> End {
        let (mut sink, mut stream) = ws.split();
        // One wait for the next phase across all loop turns: a `changed()` made afresh on
        // every turn registers with (and leaves) the watch's notifier once per frame, under
        // its lock, shared by every editor of the run.
        let mut next = Box::pin(next_phase(shared.phase.clone()));
        self.sync_started = Instant::now();

        let mut hello = shared.framing.hello(&self.plan.file_id);
        let step1 = Message::Sync(SyncMessage::SyncStep1(self.doc.transact().state_vector()));
        hello.push(self.wrap(shared, step1.encode()));
        for frame in hello {
            if let Err(e) = send(shared, &mut sink, frame).await {
                return End::Lost(e);
            }
        }

        loop {
            let out = tokio::select! {
                frame = stream.next() => match frame {
                    Some(Ok(msg)) => match self.on_ws_message(shared, msg) {
                        Ok(replies) => replies,
                        Err(end) => return end,
                    },
                    Some(Err(e)) => return End::Lost(format!("read failed: {e}")),
                    None => return End::Lost("connection closed without a close frame".into()),
                },
                _ = tick(&mut self.edit_timer) => self.edit(shared).into_iter().collect(),
                _ = tick(&mut self.cursor_timer) => self.cursor(shared).into_iter().collect(),
                (phase_rx, phase) = &mut next => {
                    next = Box::pin(next_phase(phase_rx));
                    if phase == Phase::Stop {
                        self.report_final_state(shared);
                        return close(sink, stream).await;
                    }
                    self.on_phase(shared, phase);
                    Vec::new()
                }
            };
            for frame in out {
                if let Err(e) = send(shared, &mut sink, frame).await {
                    return End::Lost(e);
                }
            }
        }
    }

    fn wrap(&self, shared: &Shared, message: Vec<u8>) -> Vec<u8> {
        shared.framing.wrap(&self.plan.file_id, message)
    }

    /// Handles one WebSocket message; returns frames to send back.
    fn on_ws_message(&mut self, shared: &Shared, msg: WsMessage) -> Result<Vec<Vec<u8>>, End> {
        match msg {
            WsMessage::Binary(bytes) => {
                Stats::add(&shared.stats.frames_received, 1);
                Stats::add(&shared.stats.bytes_received, bytes.len() as u64);
                self.on_frame(shared, &bytes)
            }
            WsMessage::Text(text) => {
                shared.stats.error(format!(
                    "{}: unexpected text frame ({} bytes)",
                    self.plan.url,
                    text.len()
                ));
                Ok(Vec::new())
            }
            WsMessage::Close(frame) => Err(End::Lost(match frame {
                Some(f) => format!(
                    "closed by the gateway: code {} {:?}",
                    u16::from(f.code),
                    f.reason.as_str()
                ),
                None => "closed by the gateway without a code".into(),
            })),
            WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_) => Ok(Vec::new()),
        }
    }

    fn on_frame(&mut self, shared: &Shared, frame: &[u8]) -> Result<Vec<Vec<u8>>, End> {
        let now = Instant::now();
        let bytes = match shared.framing.unwrap(&self.plan.file_id, frame) {
            Ok(Inbound::Message(bytes)) => bytes,
            Ok(Inbound::Bookkeeping) => return Ok(Vec::new()),
            Ok(Inbound::Closed(reason)) => {
                return Err(End::Lost(format!("session closed by the server: {reason}")));
            }
            Err(e) => {
                shared
                    .stats
                    .error(format!("{}: undecodable frame: {e}", self.plan.url));
                return Ok(Vec::new());
            }
        };
        let message = match Message::decode(&bytes) {
            Ok(m) => m,
            Err(e) => {
                shared
                    .stats
                    .error(format!("{}: undecodable frame: {e}", self.plan.url));
                return Ok(Vec::new());
            }
        };
        Ok(self.on_message(shared, message, now))
    }

    fn on_message(&mut self, shared: &Shared, message: Message, now: Instant) -> Vec<Vec<u8>> {
        match message {
            Message::Sync(SyncMessage::SyncStep1(sv)) => {
                let diff = self.doc.transact().encode_state_as_update_v1(&sv);
                vec![self.wrap(shared, encode_step2(&diff))]
            }
            Message::Sync(SyncMessage::SyncStep2(update)) => {
                let first = self.slot.is_none();
                self.apply(shared, &update, now, first);
                if self.slot.is_none() {
                    self.on_synced(shared)
                } else {
                    Vec::new()
                }
            }
            Message::Sync(SyncMessage::Update(update)) => {
                self.apply(shared, &update, now, false);
                Vec::new()
            }
            Message::Awareness(update) => {
                if let Some(slot) = self.slot {
                    let entries = update.clients.iter().map(|(c, e)| (c.get(), e.clock));
                    shared
                        .tracker
                        .cursor_received(self.plan.file, slot, entries, now);
                }
                Vec::new()
            }
            Message::QueryAwareness => self.last_cursor.iter().cloned().collect(),
            Message::Auth(reason) => {
                shared
                    .stats
                    .error(format!("{}: permission denied: {reason}", self.plan.url));
                Vec::new()
            }
            Message::Extension(Extension::Error {
                code,
                reason,
                message,
            }) => {
                shared.stats.error(format!(
                    "{}: gateway error {code} {reason}: {message}",
                    self.plan.url
                ));
                Vec::new()
            }
            Message::Extension(_) => Vec::new(),
        }
    }

    /// Applies a received update (unless light), after matching it against the
    /// propagation records. `first_sync`: it is the step 2 that completes this editor's
    /// sync, which a light editor checks against the document it expects.
    fn apply(&mut self, shared: &Shared, bytes: &[u8], now: Instant, first_sync: bool) {
        if self.forgotten {
            return;
        }
        let update = match Update::decode_v1(bytes) {
            Ok(u) => u,
            Err(e) => {
                shared
                    .stats
                    .error(format!("{}: undecodable update: {e}", self.plan.url));
                return;
            }
        };
        if let Some(slot) = self.slot {
            shared.tracker.received(self.plan.file, slot, &update, now);
        }
        if self.plan.behaviour.light {
            let me = ClientID::new(u64::from(self.plan.client_id));
            if let Some(own) = replicas::own_deletions(&update, me)
                && let Err(e) = self.doc.transact_mut().apply_update(own)
            {
                shared.stats.error(format!(
                    "{}: own deletions did not apply: {e}",
                    self.plan.url
                ));
            }
            if let Some(expected) = self.plan.behaviour.expect_doc.filter(|_| first_sync) {
                self.expectation(shared, expected.check_update(&update));
            }
            return;
        }
        if let Err(e) = self.doc.transact_mut().apply_update(update) {
            shared
                .stats
                .error(format!("{}: update did not apply: {e}", self.plan.url));
        }
    }

    fn on_synced(&mut self, shared: &Shared) -> Vec<Vec<u8>> {
        shared.stats.sync_time(self.sync_started.elapsed());
        shared.stats.join_time(self.connect_started.elapsed());
        Stats::add(&shared.stats.synced, 1);
        let label = format!("client {} via {}", self.plan.client_id, self.plan.url);
        if let Some(expected) = self
            .plan
            .behaviour
            .expect_doc
            .filter(|_| !self.plan.behaviour.light)
        {
            let txn = self.doc.transact();
            let checked = expected.check_text(&self.text.get_string(&txn), self.text.len(&txn));
            drop(txn);
            self.expectation(shared, checked);
        }
        if self.plan.behaviour.forget_doc_after_sync {
            self.forgotten = true;
            (self.doc, self.text) = new_doc(self.plan.client_id);
        }
        self.slot = Some(shared.tracker.join(self.plan.file, self.plan.target, label));
        let phase = *shared.phase.borrow();
        self.on_phase(shared, phase);
        Vec::new()
    }

    /// Counts a joiner that has the expected document, or reports why it has not.
    fn expectation(&self, shared: &Shared, checked: Result<(), String>) {
        match checked {
            Ok(()) => Stats::add(&shared.stats.expected_doc_synced, 1),
            Err(why) => shared.stats.error(format!(
                "client {} via {}: {why}",
                self.plan.client_id, self.plan.url
            )),
        }
    }

    fn on_phase(&mut self, shared: &Shared, phase: Phase) {
        match phase {
            Phase::Connect | Phase::Stop => {}
            Phase::Edit if self.slot.is_some() && self.edit_timer.is_none() => {
                let b = self.plan.behaviour;
                if b.edit_rate > 0.0 && b.edit_limit != Some(0) {
                    self.edit_timer = Some(self.timer(b.edit_rate));
                } else {
                    self.finish_editing(shared);
                }
                if b.cursor_rate > 0.0 {
                    self.cursor_timer = Some(self.timer(b.cursor_rate));
                }
            }
            Phase::Edit => {}
            Phase::Drain => {
                self.edit_timer = None;
                self.cursor_timer = None;
                self.finish_editing(shared);
            }
        }
    }

    /// A ticker at `rate` per second with a random phase, so editors do not tick in step.
    fn timer(&mut self, rate: f64) -> Interval {
        let period = Duration::from_secs_f64(1.0 / rate.max(1e-6));
        let offset = period.mul_f64(self.rng.random::<f64>());
        let mut t = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
        t.set_missed_tick_behavior(MissedTickBehavior::Delay);
        t
    }

    fn finish_editing(&mut self, shared: &Shared) {
        if !self.finished_editing {
            self.finished_editing = true;
            Stats::add(&shared.stats.done_editing, 1);
        }
    }

    /// Makes one edit; returns the frame to send.
    fn edit(&mut self, shared: &Shared) -> Option<Vec<u8>> {
        let slot = self.slot?;
        let bytes = {
            let mut txn = self.doc.transact_mut();
            let len = self.text.len(&txn);
            if len > 0
                && self
                    .rng
                    .random_bool(self.plan.behaviour.delete_ratio.clamp(0.0, 1.0))
            {
                let at = self.rng.random_range(0..len);
                self.text.remove_range(&mut txn, at, 1);
            } else {
                let at = self.rng.random_range(0..=len);
                let c = ALPHABET[self.rng.random_range(0..ALPHABET.len())];
                let mut buf = [0u8; 4];
                self.text
                    .insert(&mut txn, at, char::from(c).encode_utf8(&mut buf));
            }
            txn.encode_update_v1()
        };
        match Update::decode_v1(&bytes) {
            Ok(update) => shared
                .tracker
                .sent(self.plan.file, slot, &update, Instant::now()),
            Err(e) => shared
                .stats
                .error(format!("own update did not decode: {e}")),
        }
        self.edits += 1;
        if self
            .plan
            .behaviour
            .edit_limit
            .is_some_and(|limit| self.edits >= limit)
        {
            self.edit_timer = None;
            self.finish_editing(shared);
        }
        Some(self.wrap(shared, encode_update(&bytes)))
    }

    /// Moves the cursor to a random position; returns the awareness frame to send.
    fn cursor(&mut self, shared: &Shared) -> Option<Vec<u8>> {
        let slot = self.slot?;
        let client = u64::from(self.plan.client_id);
        let selection = {
            let txn = self.doc.transact();
            let len = self.text.len(&txn);
            let at = self.rng.random_range(0..=len);
            self.text
                .sticky_index(&txn, at, Assoc::After)
                .map(|pos| serde_json::json!({ "anchor": pos, "head": pos }))
        };
        let state = serde_json::json!({
            "user": { "name": format!("load-{client}"), "color": "#30bced" },
            "selection": selection,
        });
        self.cursor_clock += 1;
        let mut clients = HashMap::new();
        clients.insert(
            ClientID::new(client),
            AwarenessUpdateEntry {
                clock: self.cursor_clock,
                json: state.to_string().into(),
            },
        );
        let frame = self.wrap(
            shared,
            encode_awareness(&AwarenessUpdate { clients }.encode_v1()),
        );
        shared.tracker.cursor_sent(
            self.plan.file,
            slot,
            client,
            self.cursor_clock,
            Instant::now(),
        );
        self.last_cursor = Some(frame.clone());
        Some(frame)
    }
}

impl Editor {
    /// Hands the final document state to the tracker's convergence check.
    fn report_final_state(&self, shared: &Shared) {
        let full = !self.forgotten && !self.plan.behaviour.light;
        let Some(slot) = self.slot.filter(|_| full) else {
            return;
        };
        let txn = self.doc.transact();
        let mut hasher = DefaultHasher::new();
        self.text.get_string(&txn).hash(&mut hasher);
        let store = txn.store();
        let pending = txn.has_missing_updates().then(|| {
            format!(
                "blocks missing {:?}, deletions pending: {}",
                store.pending_update().map(|p| &p.missing),
                store.pending_ds().is_some()
            )
        });
        let state = FinalState {
            state_vector: txn.state_vector(),
            text_hash: hasher.finish(),
            text_len: self.text.len(&txn),
            pending,
        };
        shared.tracker.final_state(self.plan.file, slot, state);
    }
}

/// An empty document as Monaco's binding sees it: UTF-16 offsets, root text "monaco".
pub(crate) fn new_doc(client_id: u32) -> (Doc, TextRef) {
    let options = Options {
        client_id: ClientID::new(u64::from(client_id)),
        offset_kind: OffsetKind::Utf16,
        ..Options::default()
    };
    let doc = Doc::with_options(options);
    let text = doc.get_or_insert_text(TEXT_NAME);
    (doc, text)
}

/// Waits until the phase changes; returns the receiver and the new phase (`Stop` when the
/// fleet is gone).
async fn next_phase(mut rx: watch::Receiver<Phase>) -> (watch::Receiver<Phase>, Phase) {
    let phase = match rx.changed().await {
        Ok(()) => *rx.borrow_and_update(),
        Err(_) => Phase::Stop,
    };
    (rx, phase)
}

/// Waits for the next tick of `timer`, or forever when there is none.
async fn tick(timer: &mut Option<Interval>) {
    match timer {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

async fn send(
    shared: &Shared,
    sink: &mut SplitSink<Ws, WsMessage>,
    frame: Vec<u8>,
) -> Result<(), String> {
    let len = frame.len() as u64;
    sink.send(WsMessage::Binary(frame.into()))
        .await
        .map_err(|e| format!("send failed: {e}"))?;
    Stats::add(&shared.stats.frames_sent, 1);
    Stats::add(&shared.stats.bytes_sent, len);
    Ok(())
}

/// Sends a normal close and waits briefly for the gateway's reply.
async fn close(mut sink: SplitSink<Ws, WsMessage>, mut stream: SplitStream<Ws>) -> End {
    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: tungstenite::Utf8Bytes::from_static("load run finished"),
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        if sink.send(WsMessage::Close(Some(frame))).await.is_ok() {
            while let Some(Ok(msg)) = stream.next().await {
                if matches!(msg, WsMessage::Close(_)) {
                    break;
                }
            }
        }
    })
    .await;
    End::Stopped
}
