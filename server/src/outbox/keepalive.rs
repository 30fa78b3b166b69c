//! The keepalive: a connection that has heard nothing from the gateway for a while gets an
//! empty awareness update, so a stock y-websocket client (which reconnects after 30 s of
//! silence) stays, and a peer that went away is found by the write that fails.
//!
//! No timer of its own: the session's reader asks at its own timer ([`Outbox::keepalive`]),
//! and the frame goes the way any frame goes (straight into the socket, or queued behind
//! what waits, for a writer started on demand), so it never passes a frame sent before it.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use collab_protocol::message::KEEPALIVE;

use super::{Outbox, Straight};

impl Outbox {
    /// Sends a keepalive if nothing went into the socket for `every` (and nothing is on
    /// its way); returns how long until the next one may be due.
    pub fn keepalive(&self, every: Duration) -> Duration {
        let sent = self.0.last_sent.load(Ordering::Relaxed);
        let silent = crate::room::runtime::millis().saturating_sub(sent);
        let silent = Duration::from_millis(silent);
        if silent < every {
            return every - silent;
        }
        let frame = Bytes::from_static(KEEPALIVE);
        let mut straight = Straight::default();
        self.queue(&frame, None, &mut straight, true);
        if straight.0 > 0 {
            // Counted as a message out, with no delivery time (the room did not send it).
            crate::metrics::messages_out(std::iter::once((&frame[..], None)));
        }
        every
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::outbox::{Direct, Tried};

    /// A socket that takes every frame, or none.
    struct Socket {
        takes: bool,
        took: Mutex<Vec<Bytes>>,
    }

    impl Direct for Socket {
        fn try_write(&self, frame: &Bytes) -> Tried {
            if !self.takes {
                return Tried::Busy;
            }
            self.took.lock().unwrap().push(frame.clone());
            Tried::Written
        }
    }

    fn outbox(takes: bool) -> (Outbox, Arc<Socket>) {
        let socket = Arc::new(Socket {
            takes,
            took: Mutex::new(Vec::new()),
        });
        let outbox = Outbox::new(4);
        outbox.attach(socket.clone());
        (outbox, socket)
    }

    #[test]
    fn a_silent_connection_gets_a_keepalive_and_a_talking_one_does_not() {
        let (outbox, socket) = outbox(true);
        let every = Duration::from_secs(3600);
        let left = outbox.keepalive(every);
        assert!(left > Duration::ZERO && left <= every, "{left:?}");
        assert!(socket.took.lock().unwrap().is_empty(), "not silent yet");

        assert_eq!(outbox.keepalive(Duration::ZERO), Duration::ZERO);
        assert_eq!(
            *socket.took.lock().unwrap(),
            [Bytes::from_static(KEEPALIVE)]
        );
        // It counts as the connection hearing from the gateway.
        assert!(outbox.keepalive(every) > Duration::ZERO);
        assert_eq!(socket.took.lock().unwrap().len(), 1);
    }

    #[test]
    fn a_keepalive_never_joins_frames_already_waiting() {
        let (outbox, _) = outbox(false);
        outbox.send(Bytes::from_static(b"update"));
        outbox.keepalive(Duration::ZERO);
        let mut waiting = outbox.take();
        assert_eq!(waiting.pop_front().as_deref(), Some(&b"update"[..]));
        assert_eq!(waiting.pop_front(), None, "the writer speaks for it");

        // With nothing waiting, a keepalive the socket cannot take waits like any frame.
        outbox.written();
        outbox.keepalive(Duration::ZERO);
        let mut waiting = outbox.take();
        assert_eq!(waiting.pop_front().as_deref(), Some(KEEPALIVE));
    }
}
