//! The editor's WebSocket: the settings every harness connection uses, opening one within
//! the handshake deadline (and the fleet's connect limit), sending a frame with its
//! counters, and the normal close at the end of a run.

use std::time::{Duration, Instant};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async_tls_with_config};

use crate::shared::Shared;
use crate::stats::Stats;
use crate::target::FileUrl;
use crate::tls::TlsRoots;

/// How long a WebSocket handshake may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Largest frame and message the harness accepts from a gateway.
const MAX_MESSAGE_BYTES: usize = 256 << 20;

/// How long to wait for the gateway's close reply when stopping.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

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
pub(super) async fn connect(shared: &Shared, url: &FileUrl) -> Result<(Ws, Instant), String> {
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

pub(super) async fn send(
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
pub(super) async fn close(mut sink: SplitSink<Ws, WsMessage>, mut stream: SplitStream<Ws>) {
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
}
