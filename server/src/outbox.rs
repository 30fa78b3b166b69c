//! What a room holds of a connection: a bounded queue of frames to send, and a way to
//! close it with a code.
//!
//! Rooms never wait on a socket: they queue without waiting, and a client whose queue is
//! full is closed with 1013 (it resyncs when it reconnects) rather than stalling everyone
//! else. The queue allocates only while frames wait in it: most connections are idle, and
//! an idle connection should cost next to nothing.
//!
//! A frame for a connection with nothing queued and no batch being written goes straight
//! into its socket from the room's task ([`Direct`]): no queue, no writer task. Only when
//! the socket would block (or the writer holds it) is the frame queued and a writer woken
//! ([`Direct::wake`]: the session starts one, which ends once the queue is drained), so
//! frames still leave in the order they were sent. The outbox also knows when the
//! connection last heard from the gateway, for the keepalive ([`keepalive`]).
//!
//! Cursor states are coalesced: a newer state of one client's cursor replaces the one
//! still waiting for this connection, so a reader that lags behind cursor moves holds at
//! most one frame per cursor and is closed only when document updates pile up. Document
//! updates are never replaced or dropped for a connection that stays open.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use bytes::Bytes;
use collab_protocol::close;
use tokio::sync::Notify;

use collab_room_core::close::CloseReason;

/// A queued frame; `cursor` names the one awareness client whose state it carries, when it
/// carries exactly one (such a frame may be replaced by a newer state of that client).
struct Waiting {
    frame: Bytes,
    cursor: Option<u64>,
    /// When the room queued it: the start of the gateway's share of its delivery time
    /// (none for a keepalive, which the writer makes itself).
    queued_at: Option<Instant>,
}

/// The queue, and how many frames the writer took from it and has not yet written.
#[derive(Default)]
struct Queue {
    waiting: VecDeque<Waiting>,
    writing: usize,
    /// A frame written straight into the socket's buffer is not flushed yet: the writer
    /// must flush it before anything else goes straight in.
    unflushed: bool,
}

/// What became of a frame offered straight to the socket.
#[derive(Debug, PartialEq, Eq)]
pub enum Tried {
    /// The socket took it.
    Written,
    /// It is in the socket's buffer; the rest waits for the socket (the writer flushes it).
    Buffered,
    /// Not taken (the writer is using the socket, or the socket cannot take a frame now):
    /// queue it.
    Busy,
}

/// A way to put a frame into the connection's socket without waiting, and to have what
/// could not go in written later (the session provides it).
pub trait Direct: Send + Sync {
    fn try_write(&self, frame: &Bytes) -> Tried;

    /// Something waits for the socket (frames queued, a frame left unflushed, or a close
    /// with its goodbye): start a writer unless one runs.
    fn wake(self: Arc<Self>, _outbox: &Outbox) {}
}

/// Frames the writer took from the queue together, oldest first.
pub struct Frames(VecDeque<Waiting>);

impl Frames {
    /// A batch of one frame (a keepalive).
    pub fn one(frame: Bytes) -> Frames {
        Frames(VecDeque::from([Waiting {
            frame,
            cursor: None,
            queued_at: None,
        }]))
    }

    pub fn pop_front(&mut self) -> Option<Bytes> {
        self.0.pop_front().map(|queued| queued.frame)
    }

    /// Each frame with the moment the room queued it.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], Option<Instant>)> {
        self.0
            .iter()
            .map(|queued| (&queued.frame[..], queued.queued_at))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

struct Shared {
    frames: Mutex<Queue>,
    direct: OnceLock<Arc<dyn Direct>>,
    capacity: usize,
    frame_queued: Notify,
    /// Boxed: set once, at the end, and 112 B that every open connection would carry.
    reason: OnceLock<Box<CloseReason>>,
    closing: Notify,
    /// When a frame last went into the socket ([`crate::room::runtime::millis`]; the
    /// outbox's creation before that), for the keepalive.
    last_sent: AtomicU64,
}

/// The size of what an outbox allocates (`footprint_tests`).
#[cfg(test)]
pub fn shared_size() -> usize {
    std::mem::size_of::<Shared>()
}

/// One connection's send queue and close switch, shared by its session and its room.
#[derive(Clone)]
pub struct Outbox(Arc<Shared>);

/// How many frames went straight into sockets, counted across a fan-out so that the
/// metrics are touched once per frame sent to many, not once per connection.
#[derive(Debug, Default)]
pub struct Straight(usize);

impl Straight {
    /// Counts what went straight in as `frame` (the one frame of the fan-out).
    pub fn record(self, frame: &[u8]) {
        if self.0 > 0 {
            crate::metrics::written_at_once(frame, self.0);
        }
    }

    #[cfg(test)]
    pub fn count(&self) -> usize {
        self.0
    }
}

/// Result of queueing a frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Queued {
    Yes,
    /// The connection is closing (or was just closed as too slow): forget it.
    Gone,
}

impl Outbox {
    /// An outbox holding at most `capacity` frames.
    pub fn new(capacity: usize) -> Outbox {
        Outbox(Arc::new(Shared {
            frames: Mutex::new(Queue::default()),
            direct: OnceLock::new(),
            capacity: capacity.max(1),
            frame_queued: Notify::new(),
            reason: OnceLock::new(),
            closing: Notify::new(),
            last_sent: AtomicU64::new(crate::room::runtime::millis()),
        }))
    }

    /// Lets frames go straight into the socket while nothing is queued (once).
    pub fn attach(&self, direct: Arc<dyn Direct>) {
        let _ = self.0.direct.set(direct);
    }

    fn frames(&self) -> MutexGuard<'_, Queue> {
        // The lock guards plain pushes and pops: a panic cannot leave it inconsistent.
        self.0.frames.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a frame without waiting; closes a client that cannot keep up.
    pub fn send(&self, frame: Bytes) -> Queued {
        let mut straight = Straight::default();
        let queued = self.queue(&frame, None, &mut straight, false);
        straight.record(&frame);
        queued
    }

    /// Queues an awareness frame that carries the state of the one client `cursor`,
    /// replacing a state of that client still waiting in the queue.
    pub fn send_cursor(&self, frame: Bytes, cursor: u64) -> Queued {
        let mut straight = Straight::default();
        let queued = self.queue(&frame, Some(cursor), &mut straight, false);
        straight.record(&frame);
        queued
    }

    /// [`Outbox::send`] (or [`Outbox::send_cursor`] with `cursor`) of one frame of a
    /// fan-out: a frame that goes straight into the socket is counted in `straight`, for
    /// the caller to [`Straight::record`] once for all connections.
    pub fn offer(&self, frame: &Bytes, cursor: Option<u64>, straight: &mut Straight) -> Queued {
        self.queue(frame, cursor, straight, false)
    }

    /// Queues `frame`, or writes it straight in; a `keepalive` goes only to a connection
    /// with nothing on its way (a writer busy with a batch speaks for it), and has no
    /// queueing time.
    fn queue(
        &self,
        frame: &Bytes,
        cursor: Option<u64>,
        straight: &mut Straight,
        keepalive: bool,
    ) -> Queued {
        if self.0.reason.get().is_some() {
            return Queued::Gone;
        }
        {
            let mut guard = self.frames();
            let queue = &mut *guard;
            let frames = &mut queue.waiting;
            if cursor.is_some()
                && let Some(older) = frames.iter().position(|queued| queued.cursor == cursor)
            {
                // The newer state goes to the back, behind any document update queued
                // since, so a cursor never arrives before the text it points into.
                frames.remove(older);
                crate::metrics::cursor_coalesced();
            }
            let idle = frames.is_empty() && queue.writing == 0 && !queue.unflushed;
            if keepalive && !idle {
                return Queued::Yes;
            }
            if idle && let Some(direct) = self.0.direct.get() {
                // The queue's lock is held across the write, so the writer cannot take a
                // batch meanwhile; the writer holds the socket while it writes, so a frame
                // never passes one it took.
                let tried = direct.try_write(frame);
                if tried != Tried::Busy {
                    queue.unflushed = tried == Tried::Buffered;
                    drop(guard);
                    self.sent_now();
                    straight.0 += 1;
                    if tried == Tried::Buffered {
                        self.wake_writer();
                    }
                    return Queued::Yes;
                }
            }
            let frames = &mut queue.waiting;
            if frames.len() + queue.writing < self.0.capacity {
                frames.push_back(Waiting {
                    frame: frame.clone(),
                    cursor,
                    queued_at: (!keepalive).then(Instant::now),
                });
                drop(guard);
                self.wake_writer();
                return Queued::Yes;
            }
        }
        crate::metrics::slow_consumer_closed();
        self.close(CloseReason::error(
            close::OVERLOADED,
            "slow-consumer",
            "the client did not read its messages fast enough; reconnect to resync",
        ));
        Queued::Gone
    }

    /// Wakes the writer (tests' waits), and has the session start one unless it runs.
    fn wake_writer(&self) {
        self.0.frame_queued.notify_one();
        if let Some(direct) = self.0.direct.get() {
            Arc::clone(direct).wake(self);
        }
    }

    /// Notes that a frame went into the socket, for the keepalive.
    fn sent_now(&self) {
        let now = crate::room::runtime::millis();
        self.0.last_sent.store(now, Ordering::Relaxed);
    }

    /// Whether there is something for a writer: frames queued, or a frame written straight
    /// into the socket's buffer that needs flushing.
    pub fn pending(&self) -> bool {
        let queue = self.frames();
        !queue.waiting.is_empty() || queue.unflushed
    }

    /// The close asked for, if one was.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.0.reason.get().map(|reason| CloseReason::clone(reason))
    }

    /// Waits until there is something for the writer: frames queued, or a frame written
    /// straight into the socket's buffer that needs flushing (tests: the writer runs only
    /// while there is).
    #[cfg(test)]
    pub async fn ready(&self) {
        loop {
            {
                let queue = self.frames();
                if !queue.waiting.is_empty() || queue.unflushed {
                    return;
                }
            }
            // `notify_one` keeps a permit when nobody waits, so no wake-up is lost
            // between the check above and this wait.
            self.0.frame_queued.notified().await;
        }
    }

    /// Takes every queued frame (possibly none: then there is only a flush to do); they
    /// count against the capacity until [`Outbox::written`]. The queue gives its memory
    /// away with them. The writer takes them while holding the socket.
    pub fn take(&self) -> Frames {
        let mut queue = self.frames();
        queue.unflushed = false;
        let frames = std::mem::take(&mut queue.waiting);
        queue.writing = frames.len();
        Frames(frames)
    }

    /// Waits for frames to write and takes all of them (tests: the writer uses [`ready`]
    /// and [`take`]).
    ///
    /// [`ready`]: Outbox::ready
    /// [`take`]: Outbox::take
    #[cfg(test)]
    pub async fn next_batch(&self) -> Frames {
        loop {
            self.ready().await;
            let frames = self.take();
            if !frames.is_empty() {
                return frames;
            }
        }
    }

    /// The last batch taken is written: its frames no longer count against the capacity.
    pub fn written(&self) {
        self.frames().writing = 0;
        self.sent_now();
    }

    /// Waits for the next frame to write (one at a time: tests).
    #[cfg(test)]
    pub async fn next_frame(&self) -> Bytes {
        loop {
            if let Some(queued) = self.frames().waiting.pop_front() {
                return queued.frame;
            }
            self.0.frame_queued.notified().await;
        }
    }

    /// Asks for the connection to be closed; the first reason wins.
    pub fn close(&self, reason: CloseReason) {
        if self.0.reason.set(Box::new(reason)).is_ok() {
            let mut queue = self.frames();
            queue.waiting = VecDeque::new();
            queue.writing = 0;
            drop(queue);
            self.0.closing.notify_waiters();
            self.0.closing.notify_one();
            // Someone must say goodbye: the writer, started if none runs.
            if let Some(direct) = self.0.direct.get() {
                Arc::clone(direct).wake(self);
            }
        }
    }

    /// Waits until someone asks for the connection to be closed.
    pub async fn closed(&self) -> CloseReason {
        loop {
            let closing = self.0.closing.notified();
            if let Some(reason) = self.0.reason.get() {
                return CloseReason::clone(reason);
            }
            closing.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_closes_the_connection_as_too_slow() {
        let outbox = Outbox::new(2);
        assert_eq!(outbox.send(Bytes::from_static(b"a")), Queued::Yes);
        assert_eq!(outbox.send(Bytes::from_static(b"b")), Queued::Yes);
        assert_eq!(outbox.send(Bytes::from_static(b"c")), Queued::Gone);
        assert_eq!(outbox.closed().await.code, close::OVERLOADED);
        assert_eq!(outbox.send(Bytes::from_static(b"d")), Queued::Gone);
    }

    #[tokio::test]
    async fn frames_come_out_in_order() {
        let outbox = Outbox::new(8);
        outbox.send(Bytes::from_static(b"1"));
        outbox.send(Bytes::from_static(b"2"));
        assert_eq!(&outbox.next_frame().await[..], b"1");
        assert_eq!(&outbox.next_frame().await[..], b"2");
    }
}

#[cfg(test)]
mod batch_tests {
    use super::*;

    #[tokio::test]
    async fn a_batch_takes_everything_queued_in_order() {
        let outbox = Outbox::new(8);
        outbox.send(Bytes::from_static(b"1"));
        outbox.send(Bytes::from_static(b"2"));
        let mut batch = outbox.next_batch().await;
        assert_eq!(batch.pop_front().as_deref(), Some(&b"1"[..]));
        assert_eq!(batch.pop_front().as_deref(), Some(&b"2"[..]));
        assert_eq!(batch.pop_front(), None);
    }

    #[tokio::test]
    async fn frames_being_written_count_against_the_capacity_until_written() {
        let outbox = Outbox::new(3);
        outbox.send(Bytes::from_static(b"a"));
        outbox.send(Bytes::from_static(b"b"));
        let _writing = outbox.next_batch().await;
        assert_eq!(outbox.send(Bytes::from_static(b"c")), Queued::Yes);
        assert_eq!(outbox.send(Bytes::from_static(b"d")), Queued::Gone);
        assert_eq!(outbox.closed().await.code, close::OVERLOADED);

        let outbox = Outbox::new(3);
        outbox.send(Bytes::from_static(b"a"));
        outbox.send(Bytes::from_static(b"b"));
        let _written = outbox.next_batch().await;
        outbox.written();
        for frame in [&b"c"[..], b"d", b"e"] {
            assert_eq!(outbox.send(Bytes::from_static(frame)), Queued::Yes);
        }
    }
}

#[cfg(test)]
mod cursor_tests {
    use super::*;

    #[tokio::test]
    async fn a_newer_cursor_state_replaces_the_queued_one_behind_later_updates() {
        let outbox = Outbox::new(8);
        outbox.send_cursor(Bytes::from_static(b"cursor 7 at 1"), 7);
        outbox.send_cursor(Bytes::from_static(b"cursor 9 at 1"), 9);
        outbox.send(Bytes::from_static(b"update"));
        outbox.send_cursor(Bytes::from_static(b"cursor 7 at 2"), 7);
        assert_eq!(&outbox.next_frame().await[..], b"cursor 9 at 1");
        assert_eq!(&outbox.next_frame().await[..], b"update");
        assert_eq!(&outbox.next_frame().await[..], b"cursor 7 at 2");
    }

    #[tokio::test]
    async fn cursor_moves_alone_never_fill_the_queue() {
        let outbox = Outbox::new(2);
        for step in 0..100u8 {
            assert_eq!(outbox.send_cursor(Bytes::from(vec![step]), 1), Queued::Yes);
        }
        assert_eq!(&outbox.next_frame().await[..], [99]);
    }
}

#[cfg(test)]
mod direct_tests;
mod keepalive;
