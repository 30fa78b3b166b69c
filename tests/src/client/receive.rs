//! The connection task of a test client: it owns the socket, answers the gateway's sync
//! step 1, applies step 2 and updates to the doc, keeps remote awareness, records extension
//! messages, protocol errors and the close code in the shared state, and sends what the
//! client queues.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use collab_protocol::message::encode_awareness;
use collab_protocol::{Extension, Message};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::sync::{AwarenessUpdate, SyncMessage};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, ReadTxn, Transact, Update};

use super::state::{ErrorNotice, Shared, State};

/// Close code recorded when the connection ended without a close frame.
pub const ABNORMAL_CLOSURE: u16 = 1006;
/// Close code recorded when a close frame carried no code.
pub const NO_STATUS: u16 = 1005;

pub(super) type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The connection task: owns the socket until it closes.
pub(super) async fn run(
    mut ws: Socket,
    mut out: mpsc::UnboundedReceiver<WsMessage>,
    doc: Doc,
    shared: Arc<Shared>,
) {
    let mut sending = true;
    let code = loop {
        tokio::select! {
            incoming = ws.next() => match record(&shared, incoming) {
                Some(Ok(WsMessage::Binary(frame))) => {
                    if let Some(reply) = handle_frame(&frame, &doc, &shared) {
                        let _ = ws.send(WsMessage::binary(reply)).await;
                    }
                }
                Some(Ok(WsMessage::Text(text))) => shared.update(|s| {
                    s.frames_received += 1;
                    s.protocol_errors.push(format!("text frame from the gateway: {text}"));
                }),
                Some(Ok(WsMessage::Close(frame))) => {
                    let (code, reason) = frame
                        .map(|f| (u16::from(f.code), f.reason.to_string()))
                        .unwrap_or((NO_STATUS, String::new()));
                    shared.state().close_reason = reason;
                    break code;
                }
                Some(Ok(_)) => {} // ping, pong: tungstenite answers pings itself
                Some(Err(_)) | None => break ABNORMAL_CLOSURE,
            },
            msg = out.recv(), if sending => match msg {
                Some(msg) => {
                    if ws.send(msg).await.is_err() {
                        // The read side reports how the connection ended.
                        sending = false;
                    }
                }
                None => sending = false,
            },
        }
    };
    shared.update(|s| {
        s.close = Some(code);
        s.errors_before_close = s.errors.len();
    });
    // Complete the closing handshake if we still can.
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = ws.close(None).await;
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

/// Keeps the bytes of a received frame when the client records them.
fn record(
    shared: &Shared,
    incoming: Option<Result<WsMessage, tokio_tungstenite::tungstenite::Error>>,
) -> Option<Result<WsMessage, tokio_tungstenite::tungstenite::Error>> {
    if let Some(Ok(msg)) = &incoming {
        let mut state = shared.state();
        if state.recording {
            let bytes = match msg {
                WsMessage::Binary(b) => b.to_vec(),
                WsMessage::Text(t) => t.as_bytes().to_vec(),
                WsMessage::Close(Some(f)) => f.reason.as_bytes().to_vec(),
                _ => Vec::new(),
            };
            state.recorded.push(bytes);
        }
    }
    incoming
}

/// Handles one binary frame from the gateway; returns a frame to answer with, if any.
fn handle_frame(frame: &[u8], doc: &Doc, shared: &Shared) -> Option<Vec<u8>> {
    let msg = Message::decode(frame);
    let mut state = shared.state();
    state.frames_received += 1;
    let reply = match msg {
        Err(e) => {
            state
                .protocol_errors
                .push(format!("undecodable frame {:?}: {e}", short(frame)));
            None
        }
        Ok(Message::Sync(SyncMessage::SyncStep1(sv))) => {
            drop(state);
            let diff = doc.transact().encode_diff_v1(&sv);
            state = shared.state();
            Some(Message::Sync(SyncMessage::SyncStep2(diff)).encode())
        }
        Ok(Message::Sync(SyncMessage::SyncStep2(update))) => {
            drop(state);
            let applied = apply(doc, &update);
            state = shared.state();
            if let Err(e) = applied {
                state.protocol_errors.push(format!("sync step 2: {e}"));
            }
            state.synced = true;
            None
        }
        Ok(Message::Sync(SyncMessage::Update(update))) => {
            drop(state);
            let applied = apply(doc, &update);
            state = shared.state();
            if let Err(e) = applied {
                state.protocol_errors.push(format!("update: {e}"));
            }
            None
        }
        Ok(Message::Awareness(update)) => {
            apply_awareness(&mut state, doc.client_id().get(), update);
            None
        }
        Ok(Message::QueryAwareness) => state.own_awareness.as_ref().map(|(clock, json)| {
            let mut clients = HashMap::new();
            clients.insert(
                doc.client_id(),
                AwarenessUpdateEntry {
                    clock: *clock,
                    json: json.as_str().into(),
                },
            );
            encode_awareness(&AwarenessUpdate { clients }.encode_v1())
        }),
        Ok(Message::Extension(Extension::Error {
            code,
            reason,
            message,
        })) => {
            state.errors.push(ErrorNotice {
                code,
                reason,
                message,
            });
            None
        }
        Ok(Message::Extension(Extension::Unknown)) | Ok(Message::Auth(_)) => None,
        Ok(Message::Extension(other)) => {
            state.extensions.push(other);
            None
        }
    };
    drop(state);
    shared.notify();
    reply
}

fn apply(doc: &Doc, update: &[u8]) -> Result<()> {
    let update = Update::decode_v1(update).context("decoding")?;
    doc.transact_mut()
        .apply_update(update)
        .context("applying")?;
    Ok(())
}

/// y-protocols' `applyAwarenessUpdate`: a newer clock wins; `null` removes the state.
fn apply_awareness(state: &mut State, own_id: u64, update: AwarenessUpdate) {
    for (client, entry) in update.clients {
        let id = client.get();
        if id == own_id {
            continue;
        }
        let value = match serde_json::from_str::<Value>(&entry.json) {
            Ok(Value::Null) => None,
            Ok(v) => Some(v),
            Err(e) => {
                state
                    .protocol_errors
                    .push(format!("awareness of {id} is not JSON: {e}"));
                continue;
            }
        };
        let (current_clock, present) = state
            .awareness
            .get(&id)
            .map_or((None, false), |(c, s)| (Some(*c), s.is_some()));
        let newer = current_clock.is_none_or(|c| c < entry.clock);
        let removal_at_same_clock =
            current_clock == Some(entry.clock) && value.is_none() && present;
        if newer || removal_at_same_clock {
            state.awareness.insert(id, (entry.clock, value));
        }
    }
}

fn short(frame: &[u8]) -> String {
    let head: Vec<String> = frame.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{} bytes: {}…", frame.len(), head.join(" "))
}
