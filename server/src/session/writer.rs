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
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
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

use crate::outbox::{Direct, Frames, Outbox, Tried};
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
/// silence; on close, sends the extension error (if any) and the close frame. Lets the
/// room write straight into the socket while nothing is queued ([`DirectSink`]).
///
/// A function returning an `async move` block, not an `async fn`: an async function keeps
/// its arguments besides the locals they are moved into, 88 B more in every connection.
/// The socket is shared before the block: a block keeps what it captured for its whole
/// life, and the socket (64 B) would stay there next to the shared handle (8 B). With the
/// writer's own last-sent time kept in the shared handle too (16 B), the task's future
/// fits a task of 896 B instead of 1,024 B (a task is its future plus 104 B, in steps of
/// 128 B; `footprint_tests`).
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn would keep its arguments besides the locals they move into"
)]
pub(super) fn write_frames(
    sink: Sink,
    outbox: Outbox,
    keepalive: Duration,
) -> impl Future<Output = Option<Sink>> + Send {
    let shared = Arc::new(DirectSink::new(sink));
    outbox.attach(shared.clone());
    async move {
        // One timer for the connection's life, re-armed only when it fires: a frame sent
        // meanwhile (by the room or by this task) just moves `last_sent`, so a busy
        // connection touches no timer.
        let quiet = tokio::time::sleep(keepalive);
        tokio::pin!(quiet);
        // The goodbye runs once and holds a timeout and two sends: boxed, it does not size
        // the task for the connection's idle life (`footprint_tests`).
        loop {
            let keepalive_due = tokio::select! {
                biased;
                reason = outbox.closed() => {
                    let sink = shared.take();
                    return Box::pin(say_goodbye(sink, reason, None)).await;
                }
                () = outbox.ready() => false,
                () = &mut quiet => {
                    let sent = Duration::from_millis(shared.last_sent.load(Ordering::Relaxed));
                    let since_start = crate::room::runtime::millis_duration();
                    let silent_for = since_start.saturating_sub(sent);
                    if silent_for < keepalive {
                        quiet.as_mut().reset(Instant::now() + (keepalive - silent_for));
                        continue;
                    }
                    true
                }
            };
            // The writer takes the socket out for the batch (the room holds it only for one
            // try, never across a wait); meanwhile the room finds no socket and queues.
            let mut sink = shared.take()?;
            let mut batch = match keepalive_due {
                true => Batch::new(Frames::one(Bytes::from_static(KEEPALIVE))),
                false => Batch::new(outbox.take()),
            };
            // A client that stops reading blocks this send; a close request (such as the
            // room's slow-consumer verdict) must still end the connection.
            let closed = tokio::select! {
                sent = batch.send(&mut sink) => match sent {
                    Ok(()) => None,
                    Err(_) => {
                        outbox.close(CloseReason::normal());
                        return Some(sink);
                    }
                },
                reason = outbox.closed() => Some(reason),
            };
            if let Some(reason) = closed {
                return Box::pin(say_goodbye(Some(sink), reason, batch.current)).await;
            }
            outbox.written();
            shared.put_back(sink);
            crate::metrics::delivered(&batch.queued);
            shared.sent_now();
        }
    }
}

/// The socket's sending half, shared by the writer task and the room. The writer takes it
/// out for a whole batch (across awaits); the room only tries the lock and writes if the
/// socket is there, never waits. A plain mutex, not tokio's: nobody holds it across an
/// await, and the room takes it once per delivery (tokio's semaphore cost two atomic
/// operations and a lock of its own more, on a cache line of every connection). A frame goes straight in when the writer is not using the socket
/// and the socket takes it without waiting (polled once, with a waker that does nothing:
/// the writer polls again with its own when it flushes what is left).
pub(super) struct DirectSink<S = Sink> {
    /// The sending half, while the writer is not using it.
    sink: std::sync::Mutex<Option<S>>,
    /// When the room or the writer last wrote (ms, [`crate::room::runtime::millis`]; the
    /// writer's start before that), for the keepalive.
    last_sent: AtomicU64,
}

impl<S> Direct for DirectSink<S>
where
    S: futures_util::Sink<WsMessage> + Unpin + Send,
{
    fn try_write(&self, frame: &Bytes) -> Tried {
        // Tokio's cooperative budget (128 I/O operations per task poll) is charged by each
        // socket write, and once it is spent every write in that poll comes back pending.
        // A room fanning one update out to 750 connections spent it after the first 128
        // and left the rest "buffered" for their writer tasks to flush: a wake-up and a
        // poll more per delivery, on top of the room's try (fan-out, issue 23). A try
        // never waits, so the budget's fairness is not at stake: it runs outside it.
        let attempt = tokio::task::coop::unconstrained(std::future::poll_fn(|cx| {
            Poll::Ready(self.attempt(cx, frame))
        }));
        let mut cx = Context::from_waker(Waker::noop());
        match std::pin::pin!(attempt).poll(&mut cx) {
            Poll::Ready(tried) => tried,
            Poll::Pending => Tried::Busy,
        }
    }
}

impl<S> DirectSink<S>
where
    S: futures_util::Sink<WsMessage> + Unpin + Send,
{
    /// A sink the room may write straight into.
    pub(super) fn new(sink: S) -> DirectSink<S> {
        DirectSink {
            sink: std::sync::Mutex::new(Some(sink)),
            last_sent: AtomicU64::new(crate::room::runtime::millis()),
        }
    }

    /// Notes a write, for the keepalive.
    fn sent_now(&self) {
        self.last_sent
            .store(crate::room::runtime::millis(), Ordering::Relaxed);
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<S>> {
        // Held for a take, a put or one non-blocking try: a panic cannot leave it torn.
        self.sink.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the socket for the writer (none after a goodbye took it).
    pub(super) fn take(&self) -> Option<S> {
        self.slot().take()
    }

    /// Gives the socket back after a batch, for the room's next try.
    pub(super) fn put_back(&self, sink: S) {
        *self.slot() = Some(sink);
    }

    /// One try: the frame into the socket's write buffer and a flush, polled once with a
    /// waker that does nothing (the writer polls again with its own when it flushes what
    /// is left).
    fn attempt(&self, cx: &mut Context<'_>, frame: &Bytes) -> Tried {
        let mut guard = match self.sink.try_lock() {
            Ok(guard) => guard,
            Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return Tried::Busy,
        };
        let Some(sink) = guard.as_mut() else {
            return Tried::Busy;
        };
        // Large messages leave as fragments, from the writer.
        if frame.len() > FRAGMENT_BYTES {
            return Tried::Busy;
        }
        let mut sink = Pin::new(sink);
        match sink.as_mut().poll_ready(cx) {
            Poll::Ready(Ok(())) => {}
            // Not ready (the reader holds the socket for a moment, or its buffer is full),
            // or broken (the writer will find out): queue it.
            _ => return Tried::Busy,
        }
        if sink
            .as_mut()
            .start_send(WsMessage::Binary(frame.clone()))
            .is_err()
        {
            return Tried::Busy;
        }
        self.sent_now();
        match sink.poll_flush(cx) {
            Poll::Ready(Ok(())) => Tried::Written,
            // In the socket's buffer: the writer flushes it (or finds the error).
            _ => Tried::Buffered,
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
async fn say_goodbye(
    sink: Option<Sink>,
    reason: CloseReason,
    unfinished: Option<Outgoing>,
) -> Option<Sink> {
    let mut sink = sink?;
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
    Some(sink)
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
