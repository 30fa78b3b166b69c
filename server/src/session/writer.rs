//! The writing half of a session: the room writes straight into the socket while it
//! takes frames at once ([`DirectSink`]); what it could not take is queued in the
//! connection's [`Outbox`], and a writer task started then ([`Direct::wake`]) sends it and
//! ends once the queue is drained. A close starts one too, to send the extension error
//! (if any) and the close frame. An idle connection has no writer task (issue 23: a task
//! of 896 B each, for the connection's whole life, before); its keepalive is the reader's
//! ([`crate::outbox`]'s `keepalive`).
//!
//! Everything queued for the connection leaves in one batch: one lock to take it, the
//! frames fed into the socket's write buffer and flushed with one `write`, metrics counted
//! once per batch. Frame by frame (a task wake, a new keepalive timer and a `write` per
//! frame) this path cost most of the gateway's CPU per delivery (profile in
//! bench/results/delivery-profile/).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use collab_protocol::{Message, close};
use futures_util::stream::SplitSink;
use futures_util::{Sink as _, SinkExt};
use tokio::sync::Notify;
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

/// Writes queued frames, a batch at a time, until none are left (then gives the socket
/// back to the room's straight writes and ends); on close, sends the extension error (if
/// any) and the close frame and leaves the socket for the session's lingering.
///
/// A function returning an `async move` block, not an `async fn`: an async function keeps
/// its arguments besides the locals they are moved into (`footprint_tests`).
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn would keep its arguments besides the locals they move into"
)]
pub(super) fn write_frames(
    shared: Arc<DirectSink>,
    sink: Sink,
    outbox: Outbox,
) -> impl Future<Output = ()> + Send {
    async move {
        let mut sink = sink;
        loop {
            if let Some(reason) = outbox.close_reason() {
                // The goodbye runs once, and holds a timeout and two sends: boxed.
                let sink = Box::pin(say_goodbye(Some(sink), reason, None)).await;
                return shared.finish(sink);
            }
            if !outbox.pending() {
                shared.put_back(sink);
                // A frame queued (or a close asked for) since the check found the socket
                // taken, and its wake-up found no socket to start a writer with: carry on
                // unless a writer started since has it.
                if !outbox.pending() && outbox.close_reason().is_none() {
                    return;
                }
                match shared.claim() {
                    Some(again) => sink = again,
                    None => return,
                }
                continue;
            }
            // The writer has the socket out for the batch (the room holds it only for one
            // try, never across a wait); meanwhile the room finds no socket and queues.
            let mut batch = Batch::new(outbox.take());
            // A client that stops reading blocks this send; a close request (such as the
            // room's slow-consumer verdict) must still end the connection.
            let closed = tokio::select! {
                sent = batch.send(&mut sink) => match sent {
                    Ok(()) => None,
                    Err(_) => {
                        outbox.close(CloseReason::normal());
                        return shared.finish(Some(sink));
                    }
                },
                reason = outbox.closed() => Some(reason),
            };
            if let Some(reason) = closed {
                let sink = Box::pin(say_goodbye(Some(sink), reason, batch.current)).await;
                return shared.finish(sink);
            }
            outbox.written();
            crate::metrics::delivered(&batch.queued);
        }
    }
}

/// Where the socket's sending half is.
enum Slot {
    /// Free: the room may try a frame; a writer may take it.
    Idle(Sink),
    /// A writer task has it.
    Writing,
    /// The connection said goodbye; the socket (unless it broke) is left for lingering.
    Done(Option<Sink>),
}

/// The socket's sending half, shared by the room (which writes straight in while the
/// socket takes frames at once) and a writer task (which exists only while something waits
/// for the socket). The writer takes it out for its whole life (across awaits); the room
/// only tries the lock and writes if the socket is there, never waits. A plain mutex, not
/// tokio's: nobody holds it across an await, and the room takes it once per delivery
/// (tokio's semaphore cost two atomic operations and a lock of its own more, on a cache
/// line of every connection). A frame goes straight in when no writer has the socket and
/// the socket takes it without waiting (polled once, with a waker that does nothing: a
/// writer started for what is left polls again with its own).
pub(super) struct DirectSink {
    slot: std::sync::Mutex<Slot>,
    /// Told when the goodbye is done.
    finished: Notify,
}

impl Direct for DirectSink {
    fn try_write(&self, frame: &Bytes) -> Tried {
        // Tokio's cooperative budget (128 I/O operations per task poll) is charged by each
        // socket write, and once it is spent every write in that poll comes back pending.
        // A room fanning one update out to 750 connections spent it after the first 128
        // and left the rest "buffered" for writer tasks to flush: a task and a poll more
        // per delivery, on top of the room's try (fan-out, issue 23). A try never waits,
        // so the budget's fairness is not at stake: it runs outside it.
        let attempt = tokio::task::coop::unconstrained(std::future::poll_fn(|cx| {
            Poll::Ready(self.attempt(cx, frame))
        }));
        let mut cx = Context::from_waker(Waker::noop());
        match std::pin::pin!(attempt).poll(&mut cx) {
            Poll::Ready(tried) => tried,
            Poll::Pending => Tried::Busy,
        }
    }

    fn wake(self: Arc<Self>, outbox: &Outbox) {
        if let Some(sink) = self.claim() {
            tokio::spawn(write_frames(self, sink, outbox.clone()));
        }
    }
}

impl DirectSink {
    /// A sink the room may write straight into.
    pub(super) fn new(sink: Sink) -> DirectSink {
        DirectSink {
            slot: std::sync::Mutex::new(Slot::Idle(sink)),
            finished: Notify::new(),
        }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Slot> {
        // Held for a take, a put or one non-blocking try: a panic cannot leave it torn.
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the socket for a writer: none while another writer has it or after the
    /// goodbye.
    pub(super) fn claim(&self) -> Option<Sink> {
        let mut slot = self.slot();
        match std::mem::replace(&mut *slot, Slot::Writing) {
            Slot::Idle(sink) => Some(sink),
            other => {
                *slot = other;
                None
            }
        }
    }

    /// Whether the socket is free for the room's tries (no writer has it).
    #[cfg(test)]
    pub(super) fn is_idle(&self) -> bool {
        matches!(*self.slot(), Slot::Idle(_))
    }

    /// Gives the socket back after a writer's last batch, for the room's next try.
    pub(super) fn put_back(&self, sink: Sink) {
        *self.slot() = Slot::Idle(sink);
    }

    /// The goodbye is said (or the socket broke): the socket stays for the session.
    fn finish(&self, sink: Option<Sink>) {
        *self.slot() = Slot::Done(sink);
        self.finished.notify_one();
    }

    /// Waits for the connection's goodbye (`outbox` is closed: a writer says it, started
    /// here if none was) and takes the socket back for lingering.
    pub(super) async fn said_goodbye(self: Arc<Self>, outbox: &Outbox) -> Option<Sink> {
        Arc::clone(&self).wake(outbox);
        loop {
            if let Slot::Done(sink) = &mut *self.slot() {
                return sink.take();
            }
            // `notify_one` keeps a permit for a wait that starts after it.
            self.finished.notified().await;
        }
    }

    /// One try: the frame into the socket's write buffer and a flush, polled once with a
    /// waker that does nothing (the writer polls again with its own when it flushes what
    /// is left).
    fn attempt(&self, cx: &mut Context<'_>, frame: &Bytes) -> Tried {
        let mut guard = match self.slot.try_lock() {
            Ok(guard) => guard,
            Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return Tried::Busy,
        };
        let Slot::Idle(sink) = &mut *guard else {
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
