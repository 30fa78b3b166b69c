//! What a room holds of a connection: a bounded queue of frames to send, and a way to
//! close it with a code.
//!
//! Rooms never wait on a socket: they `try_send`, and a client whose queue is full is
//! closed with 1013 (it resyncs when it reconnects) rather than stalling everyone else.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use collab_protocol::{Extension, close};
use tokio::sync::{Notify, mpsc};

/// Why and how a connection is being closed.
#[derive(Debug, Clone)]
pub struct CloseReason {
    pub code: u16,
    /// Machine-readable reason (also a metrics label).
    pub reason: &'static str,
    /// Sent to the client as an extension error first, when set.
    pub error: Option<Extension>,
}

impl CloseReason {
    /// A close preceded by an extension error message naming the reason.
    pub fn error(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        CloseReason {
            code,
            reason,
            error: Some(Extension::error(code, reason, message)),
        }
    }

    /// A close with no error message (the client left, or the socket broke).
    pub fn normal() -> Self {
        CloseReason {
            code: close::NORMAL,
            reason: "normal",
            error: None,
        }
    }
}

/// Shared between a session and the rooms: the first close request wins.
#[derive(Default)]
pub struct Closer {
    reason: OnceLock<CloseReason>,
    notify: Notify,
}

impl Closer {
    pub fn close(&self, reason: CloseReason) {
        if self.reason.set(reason).is_ok() {
            self.notify.notify_one();
        }
    }

    pub async fn closed(&self) -> CloseReason {
        loop {
            if let Some(reason) = self.reason.get() {
                return reason.clone();
            }
            self.notify.notified().await;
        }
    }
}

/// The sending half a room keeps for one connection.
#[derive(Clone)]
pub struct Outbox {
    tx: mpsc::Sender<Bytes>,
    closer: Arc<Closer>,
}

/// Result of queueing a frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Queued {
    Yes,
    /// The connection is gone or was just closed as too slow: forget it.
    Gone,
}

impl Outbox {
    /// A new outbox holding at most `capacity` frames, and the receiving end.
    pub fn new(capacity: usize) -> (Outbox, mpsc::Receiver<Bytes>, Arc<Closer>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let closer = Arc::new(Closer::default());
        (
            Outbox {
                tx,
                closer: closer.clone(),
            },
            rx,
            closer,
        )
    }

    /// Queues a frame without waiting; closes a client that cannot keep up.
    pub fn send(&self, frame: Bytes) -> Queued {
        match self.tx.try_send(frame) {
            Ok(()) => Queued::Yes,
            Err(mpsc::error::TrySendError::Full(_)) => {
                crate::metrics::slow_consumer_closed();
                self.close(CloseReason::error(
                    close::OVERLOADED,
                    "slow-consumer",
                    "the client did not read its messages fast enough; reconnect to resync",
                ));
                Queued::Gone
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Queued::Gone,
        }
    }

    pub fn close(&self, reason: CloseReason) {
        self.closer.close(reason);
    }
}
