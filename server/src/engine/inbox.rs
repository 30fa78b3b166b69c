//! A room's side of the bus, the same for every engine: the queue its channel's messages
//! arrive on, and out-of-band signals (catch up, a gateway died) that never get lost.
//!
//! An engine delivers into these without blocking: when the queue is full, or after the
//! engine lost its subscription, it raises the catch-up flag instead and the room reads
//! what it missed from the log.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use collab_protocol::envelope::Envelope;
use tokio::sync::{Notify, mpsc};

/// Out-of-band signals for one room: flags plus one wake-up.
#[derive(Default)]
pub struct RoomSignals {
    catch_up: AtomicBool,
    gone_gateways: Mutex<Vec<String>>,
    notify: Notify,
}

impl RoomSignals {
    /// Asks the room to read what it missed from the log.
    pub fn request_catch_up(&self) {
        self.catch_up.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    /// Tells the room that a gateway died, so its clients' cursors go.
    pub fn gateway_gone(&self, gateway: &str) {
        if let Ok(mut gone) = self.gone_gateways.lock() {
            gone.push(gateway.to_owned());
        }
        self.notify.notify_one();
    }

    /// Waits for any signal.
    pub async fn notified(&self) {
        self.notify.notified().await
    }

    /// Takes the pending catch-up request.
    pub fn take_catch_up(&self) -> bool {
        self.catch_up.swap(false, Ordering::AcqRel)
    }

    /// Takes the gateways reported gone since the last call.
    pub fn take_gone(&self) -> Vec<String> {
        self.gone_gateways
            .lock()
            .map(|mut g| std::mem::take(&mut *g))
            .unwrap_or_default()
    }
}

/// Where a room receives its channel's messages.
///
/// Boxed envelopes (8 B, not 72): the room's channel allocates its first block of 32 when
/// the room opens and keeps it for the room's life, idle or not (issue 23).
#[derive(Clone)]
pub struct RoomSink {
    pub room_id: u64,
    pub tx: mpsc::Sender<Box<Envelope>>,
    pub signals: Arc<RoomSignals>,
}
