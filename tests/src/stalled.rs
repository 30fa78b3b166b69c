//! A client that stops reading: a browser tab frozen in the background, or a peer on a
//! link that cannot keep up.
//!
//! [`StalledReader::connect`] opens a WebSocket with a small TCP receive buffer (so the
//! kernel holds little for it), sends sync step 1 of an empty document like any client, and
//! then reads nothing: whatever the gateway sends piles up in the socket buffers and then
//! in the gateway's send queue for this client. [`StalledReader::resume`] reads again and
//! reports what the client finally sees: frames, extension errors and the close code.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, Result};
use collab_protocol::{Extension, Message};
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use yrs::StateVector;
use yrs::sync::SyncMessage;

use crate::client::{ABNORMAL_CLOSURE, ErrorNotice, NO_STATUS};

/// Receive buffer asked for the stalled socket (the kernel may round it up).
const RECV_BUFFER: u32 = 4096;

/// A WebSocket connection that is not being read.
pub struct StalledReader {
    ws: WebSocketStream<TcpStream>,
}

/// What a stalled client saw once it read again.
#[derive(Debug, Default)]
pub struct Resumed {
    /// Binary frames read.
    pub frames: usize,
    /// Extension error messages among them.
    pub errors: Vec<ErrorNotice>,
    /// The close code (1005 without one, 1006 when the connection ended without a close
    /// frame); `None` if it was still open at the deadline.
    pub close: Option<u16>,
    pub close_reason: String,
    /// The last awareness state (JSON) read for each client id.
    pub awareness: HashMap<u64, String>,
}

impl StalledReader {
    /// Connects to `url` (`ws://ADDR/doc/FILE`), sends sync step 1 and stops reading.
    pub async fn connect(url: &str) -> Result<StalledReader> {
        let addr = url
            .strip_prefix("ws://")
            .and_then(|rest| rest.split('/').next())
            .with_context(|| format!("no ws://host:port in {url}"))?;
        let socket = TcpSocket::new_v4()?;
        socket.set_recv_buffer_size(RECV_BUFFER)?;
        let tcp = socket
            .connect(addr.parse().with_context(|| format!("address {addr}"))?)
            .await
            .with_context(|| format!("TCP connect to {addr}"))?;
        let (mut ws, _) = tokio_tungstenite::client_async(url, tcp)
            .await
            .with_context(|| format!("WebSocket handshake with {url}"))?;
        let step1 = Message::Sync(SyncMessage::SyncStep1(StateVector::default())).encode();
        ws.send(WsMessage::binary(step1)).await?;
        Ok(StalledReader { ws })
    }

    /// Reads everything until the connection ends or `within` passes.
    pub async fn resume(self, within: Duration) -> Resumed {
        self.resume_until(within, |_| false).await
    }

    /// Reads until the connection ends, `done` holds for what was read, or `within` passes.
    pub async fn resume_until(
        mut self,
        within: Duration,
        done: impl Fn(&Resumed) -> bool,
    ) -> Resumed {
        let deadline = Instant::now() + within;
        let mut seen = Resumed::default();
        loop {
            if done(&seen) {
                return seen;
            }
            let next = match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Ok(next) => next,
                Err(_) => return seen,
            };
            match next {
                Some(Ok(WsMessage::Binary(frame))) => {
                    seen.frames += 1;
                    match Message::decode(&frame) {
                        Ok(Message::Extension(Extension::Error {
                            code,
                            reason,
                            message,
                        })) => seen.errors.push(ErrorNotice {
                            code,
                            reason,
                            message,
                        }),
                        Ok(Message::Awareness(update)) => {
                            for (id, entry) in update.clients {
                                seen.awareness.insert(id.get(), entry.json.to_string());
                            }
                        }
                        _ => {}
                    }
                }
                Some(Ok(WsMessage::Close(frame))) => {
                    let (code, reason) = frame
                        .map(|f| (u16::from(f.code), f.reason.to_string()))
                        .unwrap_or((NO_STATUS, String::new()));
                    seen.close = Some(code);
                    seen.close_reason = reason;
                    return seen;
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    seen.close = Some(ABNORMAL_CLOSURE);
                    return seen;
                }
            }
        }
    }
}
