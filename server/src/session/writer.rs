//! The writing half of a session: what the room queues in the connection's [`Outbox`]
//! goes to the socket, a keepalive goes out after a silence, and a close sends the
//! extension error (if any) and the close frame.
//!
//! Everything queued for the connection leaves in one batch: one lock to take it, one
//! wake-up, the frames fed into the socket's write buffer and flushed with one `write`,
//! metrics counted once per batch. Frame by frame (a task wake, a new keepalive timer and
//! a `write` per frame) this path cost most of the gateway's CPU per delivery (profile in
//! bench/results/delivery-profile/).

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use collab_protocol::message::KEEPALIVE;
use collab_protocol::{Message, close};
use futures_util::SinkExt;
use futures_util::stream::SplitSink;
use tokio::time::Instant;
use tungstenite::Message as WsMessage;
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::Frame;
use tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};

use crate::outbox::{Frames, Outbox};
use crate::upgrade::Socket;
use collab_room_core::close::CloseReason;

/// How long a closing session tries to deliver its error message and close frame. A client
/// closed as too slow has stopped reading: its goodbye waits behind what the kernel already
/// buffers for it (up to `tcp_wmem`'s 4 MiB), until it reads again. At 30 s, a client that
/// resumed later (common under load, where small socket buffers make the close come early)
/// got the backlog and then a bare end, 1006, not 1013 and its reason. The wait holds only
/// the socket (the queue is dropped) and the connection's slot; its kernel buffer is held
/// either way (an orphaned socket keeps delivering it).
const GOODBYE_WAIT: Duration = Duration::from_secs(300);

pub(super) type Sink = SplitSink<Socket, WsMessage>;

/// Writes queued frames, a batch at a time; sends a keepalive after `keepalive` of
/// silence; on close, sends the extension error (if any) and the close frame.
///
/// A function returning an `async move` block, not an `async fn`: an async function keeps
/// its arguments besides the locals they are moved into, 88 B more in every connection.
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn would keep its arguments besides the locals they move into"
)]
pub(super) fn write_frames(
    mut sink: Sink,
    outbox: Outbox,
    keepalive: Duration,
) -> impl Future<Output = Sink> + Send {
    async move {
        // One timer for the connection's life, re-armed only when it fires: a frame sent
        // meanwhile just moves `last_sent`, so a busy connection touches no timer.
        let mut last_sent = Instant::now();
        let quiet = tokio::time::sleep(keepalive);
        tokio::pin!(quiet);
        // The goodbye runs once and holds a timeout and two sends: boxed, it does not size
        // the task for the connection's idle life (`footprint_tests`).
        loop {
            let mut batch = tokio::select! {
                biased;
                reason = outbox.closed() => return Box::pin(say_goodbye(sink, reason, None)).await,
                batch = outbox.next_batch() => Batch::new(batch),
                () = &mut quiet => {
                    let due = last_sent + keepalive;
                    if Instant::now() < due {
                        quiet.as_mut().reset(due);
                        continue;
                    }
                    Batch::new(Frames::one(Bytes::from_static(KEEPALIVE)))
                }
            };
            // A client that stops reading blocks this send; a close request (such as the
            // room's slow-consumer verdict) must still end the connection.
            tokio::select! {
                sent = batch.send(&mut sink) => if sent.is_err() {
                    outbox.close(CloseReason::normal());
                    return sink;
                },
                reason = outbox.closed() => {
                    return Box::pin(say_goodbye(sink, reason, batch.current)).await;
                }
            }
            outbox.written();
            crate::metrics::delivered(&batch.queued);
            last_sent = Instant::now();
        }
    }
}

/// Frames taken from the outbox together, and the one being handed to the socket.
struct Batch {
    frames: Frames,
    current: Option<Outgoing>,
    /// When its oldest frame of each type was queued, for the delivery-time histogram.
    queued: crate::metrics::Outgoing,
}

impl Batch {
    fn new(frames: Frames) -> Batch {
        let queued = crate::metrics::messages_out(frames.iter());
        Batch {
            frames,
            current: None,
            queued,
        }
    }

    /// Hands every frame to the socket and flushes them in one go; safe to cancel: a
    /// message half handed stays `current`, and a goodbye finishes it.
    async fn send(&mut self, sink: &mut Sink) -> Result<(), tungstenite::Error> {
        loop {
            if self.current.is_none() {
                match self.frames.pop_front() {
                    Some(frame) => self.current = Some(Outgoing::new(frame)),
                    None => break,
                }
            }
            if let Some(outgoing) = self.current.as_mut() {
                outgoing.hand(sink).await?;
            }
            self.current = None;
        }
        sink.flush().await
    }
}

/// Messages larger than this leave as a run of frames this large.
const FRAGMENT_BYTES: usize = 64 << 10;

/// One binary message on its way out, and how much of it is handed to the socket.
///
/// tungstenite copies each frame whole into the connection's write buffer, which keeps its
/// capacity afterwards: a large message (a joiner's copy of a big document) goes out as
/// fragments sliced from the shared bytes, so that buffer stays at one fragment. A send
/// interrupted by a close resumes where it stopped, so the client never sees half a
/// message followed by another one.
pub(super) struct Outgoing {
    message: Bytes,
    /// Bytes of `message` already buffered in the socket as frames.
    handed: usize,
}

impl Outgoing {
    fn new(message: Bytes) -> Self {
        Outgoing { message, handed: 0 }
    }

    /// Hands the rest of the message to the socket (a small one into its write buffer,
    /// flushed with the rest of the batch; a large one fragment by fragment, each
    /// flushed); safe to cancel and call again.
    async fn hand(&mut self, sink: &mut Sink) -> Result<(), tungstenite::Error> {
        let len = self.message.len();
        if len <= FRAGMENT_BYTES {
            if self.handed == 0 {
                // `feed` buffers the frame in the poll that completes it: a cancelled
                // call has handed nothing.
                sink.feed(WsMessage::Binary(self.message.clone())).await?;
                self.handed = len.max(1);
            }
            return Ok(());
        }
        while self.handed < len {
            let end = (self.handed + FRAGMENT_BYTES).min(len);
            let opcode = if self.handed == 0 {
                OpCode::Data(Data::Binary)
            } else {
                OpCode::Data(Data::Continue)
            };
            let fragment = Frame::message(self.message.slice(self.handed..end), opcode, end == len);
            // Once `feed` returns the frame is buffered; no await comes before the
            // progress is recorded, so a cancelled send never repeats a fragment.
            sink.feed(WsMessage::Frame(fragment)).await?;
            self.handed = end;
            sink.flush().await?;
        }
        Ok(())
    }
}

/// Sends the error message (if any) and the close frame, giving a client that reads
/// slowly (or stalled and was closed for it) time to take them. Its queue is already
/// dropped, so a waiting goodbye holds only the socket. Gives the sink back for lingering.
async fn say_goodbye(mut sink: Sink, reason: CloseReason, unfinished: Option<Outgoing>) -> Sink {
    let code = reason.code;
    let goodbye = async {
        if let Some(mut message) = unfinished {
            message.hand(&mut sink).await?;
        }
        if let Some(error) = &reason.error {
            let frame = Message::Extension(error.clone()).encode();
            sink.send(WsMessage::Binary(frame.into())).await?;
        }
        // A refusal's machine reason goes into the close frame too: stock clients show the
        // close event, not our extension message.
        let text = match reason.error {
            Some(_) => reason.reason,
            None => close_text(code),
        };
        let close = CloseFrame {
            code: CloseCode::from(code),
            reason: text.into(),
        };
        sink.send(WsMessage::Close(Some(close))).await?;
        sink.close().await
    };
    if tokio::time::timeout(GOODBYE_WAIT, goodbye).await.is_err() {
        // No code can reach the client now: TCP carries none, it will see 1006.
        tracing::info!(code, "gave up on a goodbye the client never read");
    }
    sink
}

fn close_text(code: u16) -> &'static str {
    match code {
        close::NORMAL => "bye",
        close::INVALID_PAYLOAD => "invalid payload",
        close::POLICY => "policy violation",
        close::TOO_BIG => "message too big",
        close::RESTARTING => "gateway restarting",
        close::OVERLOADED => "try again later",
        close::INVALID_REQUEST => "invalid request",
        close::UNAUTHENTICATED => "not authenticated",
        close::FORBIDDEN => "forbidden",
        _ => "closed",
    }
}
