//! A test editor: what a browser tab with Monaco, yjs and y-websocket does, in Rust.
//!
//! A [`Client`] owns a yrs [`Doc`] (UTF-16 offsets like Monaco, a random 32-bit client id
//! like yjs) whose root `Y.Text` is `monaco`, and one WebSocket to a gateway. A background
//! task per connection reads frames: it answers the gateway's sync step 1 with step 2,
//! applies step 2 and updates, keeps the remote awareness states, and records extension
//! errors and the close code. Local edits are applied to the doc at once and sent as sync
//! update frames. Every change wakes [`Client::wait_for`], so tests await conditions
//! instead of sleeping.
//!
//! Network data never panics this library: frames the client cannot decode or apply are
//! recorded ([`Client::protocol_errors`]) for tests to assert on.
//!
//! Here: the client, its connection, edits, awareness and waits; `state.rs` what it knows,
//! `receive.rs` the task that reads the socket, `seen.rs` what tests read back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use collab_protocol::message::{encode_awareness, encode_update};
use collab_protocol::{Extension, Message};
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::sync::{AwarenessUpdate, SyncMessage};
use yrs::updates::encoder::Encode;
use yrs::{
    ClientID, Doc, GetString, OffsetKind, Options, ReadTxn, StateVector, Text, TextRef, Transact,
    TransactionMut,
};

mod receive;
mod seen;
mod state;

use receive::run;
pub use receive::{ABNORMAL_CLOSURE, NO_STATUS};
pub use state::ErrorNotice;
use state::{Shared, State};

/// The root text y-monaco binds to.
pub const TEXT_NAME: &str = "monaco";
/// One `undo-state` message from the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndoState {
    pub op: Option<collab_protocol::UndoOp>,
    pub applied: Option<bool>,
    pub undo: u64,
    pub redo: u64,
}

/// One local edit, chosen by [`Client::edit_by`] from the text's length at that instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// Insert the text at a UTF-16 offset.
    Insert(u32, String),
    /// Delete this many UTF-16 code units at an offset.
    Delete(u32, u32),
}

/// A test editor client. See the module docs.
pub struct Client {
    url: String,
    doc: Doc,
    text: TextRef,
    shared: Arc<Shared>,
    conn: Option<Connection>,
}

/// One WebSocket: its outgoing queue and the task that owns the socket.
struct Connection {
    out: mpsc::UnboundedSender<WsMessage>,
    task: JoinHandle<()>,
}

impl Client {
    /// Connects to `url` (`ws://ADDR/doc/FILE`) with a fresh, empty document and sends sync
    /// step 1. Returns once the WebSocket handshake is done; see [`Client::wait_synced`].
    pub async fn connect(url: &str) -> Result<Client> {
        let mut client = Client::unconnected(url);
        client.open().await?;
        Ok(client)
    }

    fn unconnected(url: &str) -> Client {
        // yjs picks random 32-bit client ids.
        let id = u64::from(rand::random::<u32>());
        let mut options = Options::with_client_id(ClientID::new(id));
        options.offset_kind = OffsetKind::Utf16;
        let doc = Doc::with_options(options);
        let text = doc.get_or_insert_text(TEXT_NAME);
        let (changed, _) = watch::channel(0);
        Client {
            url: url.to_owned(),
            doc,
            text,
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                changed,
            }),
            conn: None,
        }
    }

    /// Like [`Client::connect`], keeping the bytes of every frame the gateway sends (and
    /// of close reasons) for [`Client::received_frames`]: for tests that check what never
    /// reaches a client.
    pub async fn connect_recording(url: &str) -> Result<Client> {
        let mut client = Client::unconnected(url);
        client.shared.state().recording = true;
        client.open().await?;
        Ok(client)
    }

    /// Connects and waits until the gateway's sync step 2 arrived.
    pub async fn connect_synced(url: &str, within: Duration) -> Result<Client> {
        let client = Client::connect(url).await?;
        client.wait_synced(within).await?;
        Ok(client)
    }

    /// Drops the current connection (if any) and connects again, to `url`, keeping the
    /// document: like y-websocket after a disconnect, it re-sends its state vector, uploads
    /// what the gateway lacks, and forgets remote awareness states until they arrive anew.
    pub async fn reconnect(&mut self, url: &str) -> Result<()> {
        self.drop_connection();
        self.url = url.to_owned();
        self.shared.update(|s| {
            s.synced = false;
            s.close = None;
            s.close_reason.clear();
            s.awareness.clear();
        });
        self.open().await
    }

    async fn open(&mut self) -> Result<()> {
        let (ws, _response) = tokio_tungstenite::connect_async(self.url.as_str())
            .await
            .with_context(|| format!("WebSocket handshake with {}", self.url))?;
        let (out, out_rx) = mpsc::unbounded_channel();
        let step1 = Message::Sync(SyncMessage::SyncStep1(self.doc.transact().state_vector()));
        let _ = out.send(WsMessage::binary(step1.encode()));
        let own = self.shared.state().own_awareness.clone();
        if let Some((clock, json)) = own {
            let _ = out.send(WsMessage::binary(self.awareness_frame(clock, &json)));
        }
        let task = tokio::spawn(run(ws, out_rx, self.doc.clone(), self.shared.clone()));
        self.conn = Some(Connection { out, task });
        Ok(())
    }

    fn drop_connection(&mut self) {
        if let Some(conn) = self.conn.take() {
            conn.task.abort();
        }
    }

    /// This client's yjs client id.
    pub fn client_id(&self) -> u64 {
        self.doc.client_id().get()
    }

    /// The URL of the current (or last) connection.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The document text.
    pub fn text(&self) -> String {
        self.text.get_string(&self.doc.transact())
    }

    /// Length of the text in UTF-16 code units (Monaco's offsets).
    pub fn len(&self) -> u32 {
        self.text().encode_utf16().count() as u32
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The document's state vector.
    pub fn state_vector(&self) -> StateVector {
        self.doc.transact().state_vector()
    }

    /// How many operations of our own the document holds (our entry in the state vector).
    pub fn own_clock(&self) -> u32 {
        self.state_vector().get(&self.doc.client_id())
    }

    /// True when the document holds at least `clock` operations of each `(client, clock)`.
    pub fn has_seen(&self, target: &[(u64, u32)]) -> bool {
        let sv = self.state_vector();
        target
            .iter()
            .all(|(client, clock)| sv.get(&ClientID::new(*client)) >= *clock)
    }

    /// The whole document as one v1 update.
    pub fn encode_state(&self) -> Vec<u8> {
        self.doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default())
    }

    /// Inserts `chunk` at UTF-16 offset `index` and sends the edit.
    pub fn insert(&self, index: u32, chunk: &str) -> Result<()> {
        self.edit(|txn, text| {
            let len = text.len(txn);
            if index > len {
                bail!("insert at {index} beyond the text length {len}");
            }
            text.insert(txn, index, chunk);
            Ok(())
        })
    }

    /// Appends `chunk` at the end of the text (as it is at that instant, remote edits
    /// included) and sends the edit.
    pub fn push(&self, chunk: &str) -> Result<()> {
        self.edit(|txn, text| {
            let len = text.len(txn);
            text.insert(txn, len, chunk);
            Ok(())
        })
    }

    /// Deletes `len` UTF-16 code units at `index` and sends the edit.
    pub fn delete(&self, index: u32, len: u32) -> Result<()> {
        self.edit(|txn, text| {
            let total = text.len(txn);
            if index.checked_add(len).is_none_or(|end| end > total) {
                bail!("delete of {len} at {index} beyond the text length {total}");
            }
            text.remove_range(txn, index, len);
            Ok(())
        })
    }

    /// Applies the edit `choose` picks given the current text length (UTF-16 units), in
    /// one transaction: a remote edit cannot change the length between the choice and the
    /// edit, as it could between [`Client::len`] and [`Client::insert`].
    pub fn edit_by(&self, choose: impl FnOnce(u32) -> Edit) -> Result<()> {
        self.edit(|txn, text| {
            let len = text.len(txn);
            match choose(len) {
                Edit::Insert(index, chunk) if index <= len => text.insert(txn, index, &chunk),
                Edit::Delete(index, n) if index.checked_add(n).is_some_and(|end| end <= len) => {
                    text.remove_range(txn, index, n)
                }
                edit => bail!("{edit:?} does not fit a text of length {len}"),
            }
            Ok(())
        })
    }

    /// Like [`Client::edit_by`], but `choose` sees the text itself as it is inside the edit's
    /// transaction, for edits that must land between known pieces of text (such as the
    /// token boundaries of [`crate::tokens`]). Offsets in the [`Edit`] are UTF-16 units.
    pub fn edit_by_text(&self, choose: impl FnOnce(&str) -> Edit) -> Result<()> {
        self.edit(|txn, text| {
            let current = text.get_string(txn);
            let len = text.len(txn);
            match choose(&current) {
                Edit::Insert(index, chunk) if index <= len => text.insert(txn, index, &chunk),
                Edit::Delete(index, n) if index.checked_add(n).is_some_and(|end| end <= len) => {
                    text.remove_range(txn, index, n)
                }
                edit => bail!("{edit:?} does not fit a text of length {len}"),
            }
            Ok(())
        })
    }

    /// Runs one local transaction (no remote update can slip in between reading the text
    /// and changing it) and sends what it changed.
    fn edit(&self, f: impl FnOnce(&mut TransactionMut<'_>, &TextRef) -> Result<()>) -> Result<()> {
        let update = {
            let mut txn = self.doc.transact_mut();
            f(&mut txn, &self.text)?;
            txn.encode_update_v1()
        };
        self.send_edit(update);
        Ok(())
    }

    fn send_edit(&self, update: Vec<u8>) {
        // Offline edits stay in the doc and are uploaded by the next (re)connect's sync.
        self.send_ws(WsMessage::binary(encode_update(&update)));
        self.shared.notify();
    }

    /// Sets our awareness state (y-monaco's shape, e.g. `{"user":{"name":"ann","color":
    /// "#f00"},"selection":null}`) and sends it.
    pub fn set_awareness(&self, state: Value) {
        let json = state.to_string();
        let clock = self.shared.update(|s| {
            // Clocks start at 1: y-protocols ignores clock 0 from a client it does not know.
            let clock = s.own_awareness.as_ref().map_or(1, |(c, _)| c + 1);
            s.own_awareness = Some((clock, json.clone()));
            clock
        });
        self.send_ws(WsMessage::binary(self.awareness_frame(clock, &json)));
    }

    fn awareness_frame(&self, clock: u32, json: &str) -> Vec<u8> {
        let mut clients = HashMap::new();
        clients.insert(
            self.doc.client_id(),
            AwarenessUpdateEntry {
                clock,
                json: json.into(),
            },
        );
        encode_awareness(&AwarenessUpdate { clients }.encode_v1())
    }

    /// Remote awareness states present now, by client id (ours excluded).
    pub fn awareness_states(&self) -> HashMap<u64, Value> {
        self.shared
            .state()
            .awareness
            .iter()
            .filter_map(|(id, (_, state))| state.clone().map(|s| (*id, s)))
            .collect()
    }

    /// The remote awareness state of `client_id`, if present.
    pub fn awareness_of(&self, client_id: u64) -> Option<Value> {
        self.shared
            .state()
            .awareness
            .get(&client_id)
            .and_then(|(_, s)| s.clone())
    }

    /// Sends one raw binary frame (for bad-input tests).
    pub fn send_frame(&self, frame: Vec<u8>) {
        self.send_ws(WsMessage::binary(frame));
    }

    /// Sends one text frame (y-websocket never does; the gateway must refuse it).
    pub fn send_text(&self, text: &str) {
        self.send_ws(WsMessage::text(text));
    }

    /// Sends an extension message (type 100) with this JSON body.
    pub fn send_extension(&self, message: &Extension) {
        self.send_frame(Message::Extension(message.clone()).encode());
    }

    fn send_ws(&self, msg: WsMessage) {
        if let Some(conn) = &self.conn {
            let _ = conn.out.send(msg);
        }
    }

    /// Awaits `condition` (re-checked on every change of this client) until `within` passes.
    pub async fn wait_for(
        &self,
        condition: impl Fn(&Client) -> bool,
        within: Duration,
    ) -> Result<()> {
        let deadline = Instant::now() + within;
        let mut changes = self.shared.changed.subscribe();
        loop {
            if condition(self) {
                return Ok(());
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => {
                    if condition(self) {
                        return Ok(());
                    }
                    bail!(
                        "condition not met within {within:?} (client {} on {}: closed_with {:?}, \
                         synced {}, {} chars, errors {:?}, protocol errors {:?})",
                        self.client_id(),
                        self.url,
                        self.closed_with(),
                        self.is_synced(),
                        self.len(),
                        self.errors(),
                        self.protocol_errors(),
                    );
                }
            }
        }
    }

    /// Awaits the gateway's sync step 2.
    pub async fn wait_synced(&self, within: Duration) -> Result<()> {
        self.wait_for(|c| c.is_synced(), within)
            .await
            .context("waiting for sync step 2")
    }

    /// Awaits the end of the connection; returns the close code.
    pub async fn wait_closed(&self, within: Duration) -> Result<u16> {
        self.wait_for(|c| c.closed_with().is_some(), within)
            .await
            .context("waiting for the connection to close")?;
        Ok(self.closed_with().unwrap_or(ABNORMAL_CLOSURE))
    }

    /// Closes the connection with code 1000, like a tab that goes away (no awareness
    /// goodbye of its own: the gateway must remove our cursor), and awaits the end.
    pub async fn close(&mut self) -> Result<()> {
        self.send_ws(WsMessage::Close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        })));
        let closed = self.wait_closed(Duration::from_secs(5)).await;
        self.drop_connection();
        closed.map(|_| ())
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.drop_connection();
    }
}
