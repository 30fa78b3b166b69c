//! The end of a connection, after our close frame: keep reading, briefly, so the client
//! gets to read that frame. Closing a socket that still has unread input makes the kernel
//! answer with a reset, and a reset destroys what the client has not read yet, our close
//! frame with its code and reason among it: the client would see 1006 and learn nothing.
//!
//! Two ways, by where the reader stopped:
//! - [`await_close_reply`]: between frames. Frames are read (and ignored) until the
//!   client's close reply, for [`CLOSE_REPLY_WAIT`] at most.
//! - [`drain_raw`]: in the middle of a frame too large to read (the socket layer refused
//!   it from its header, `tungstenite::Error::Capacity`; reading on would buffer all of
//!   it). After our close frame the write side is shut (a FIN follows the frame), then the
//!   raw bytes the client still sends are read and dropped until it closes, for at most
//!   [`LINGER_WAIT`] and [`LINGER_BYTES`]. A client sending 200 MB then reads 1009
//!   `frame-too-big`, not a reset.

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::SplitStream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;
use tungstenite::Message as WsMessage;

use crate::upgrade::Socket;

/// How long a closing session waits for the client's close reply.
pub const CLOSE_REPLY_WAIT: Duration = Duration::from_secs(2);

/// How long a session refusing an oversized frame keeps draining its input.
pub const LINGER_WAIT: Duration = Duration::from_secs(2);

/// How many bytes of input a session refusing an oversized frame drains at most: enough
/// for a 200 MB frame to arrive whole on a fast link, so the client's close reply follows.
pub const LINGER_BYTES: usize = 256 << 20;

/// The read buffer of [`drain_raw`]: what a lingering connection costs beyond its socket.
const DRAIN_CHUNK: usize = 64 << 10;

/// After our close frame, reads (and ignores) what the client still sends until its close
/// reply, for [`CLOSE_REPLY_WAIT`] at most.
pub async fn await_close_reply(mut stream: SplitStream<Socket>) {
    let drain = async {
        while let Some(Ok(frame)) = stream.next().await {
            if matches!(frame, WsMessage::Close(_)) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(CLOSE_REPLY_WAIT, drain).await;
}

/// After our close frame, in the middle of a frame the socket layer would not read: shuts
/// the write side and discards raw input until the client closes, [`LINGER_WAIT`] passes
/// or [`LINGER_BYTES`] were read, whichever comes first. Returns the bytes drained.
pub async fn drain_raw(mut socket: Socket) -> usize {
    let io = socket.get_mut();
    let deadline = Instant::now() + LINGER_WAIT;
    let _ = tokio::time::timeout_at(deadline, io.shutdown()).await;
    let mut chunk = vec![0u8; DRAIN_CHUNK];
    let mut drained = 0;
    while drained < LINGER_BYTES {
        match tokio::time::timeout_at(deadline, io.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => drained += n,
        }
    }
    drained
}
