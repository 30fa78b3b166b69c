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
//!
//! This file holds the session (sync, receiving, the phases); `socket.rs` the WebSocket it
//! runs on, `typing.rs` the edits and cursor moves it makes.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::Instant;

use collab_protocol::Message;
use collab_protocol::extension::Extension;
use collab_protocol::message::encode_step2;
use futures_util::StreamExt;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::watch;
use tokio::time::Interval;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use yrs::sync::SyncMessage;
use yrs::updates::decoder::Decode;
use yrs::{
    ClientID, Doc, GetString, OffsetKind, Options, ReadTxn, Text, TextRef, Transact, Update,
};

use crate::doc_check::ExpectedDoc;
use crate::framing::Inbound;
use crate::phase::Phase;
use crate::replicas;
use crate::shared::Shared;
use crate::stats::Stats;
use crate::target::FileUrl;
use crate::tracker::{FinalState, Slot};

mod socket;
mod typing;

pub(crate) use socket::{Ws, open};
use socket::{close, connect, send};

/// Name of the root text, as y-monaco binds it.
pub const TEXT_NAME: &str = "monaco";

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
                        close(sink, stream).await;
                        return End::Stopped;
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
