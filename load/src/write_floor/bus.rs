//! The write-floor's path between instances through Redis, the simplest that works: two
//! threads with blocking connections beside the event loop.
//!
//! The publisher thread takes `(channel, origin + frame)` from a bounded queue and sends
//! whatever queued up meanwhile as one pipeline of `PUBLISH` (as the relay floor does). The
//! subscriber thread pattern-subscribes once to every write-floor channel
//! (`collab-wfloor:*`: no subscribe or unsubscribe per file), drops its own instance's
//! messages by origin, encodes each other one as a server frame and hands it to the event
//! loop through a channel, waking the loop's epoll only when it is not already due to look.
//! Both threads belong to the process whose CPU is measured.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, mpsc::TrySendError};
use std::thread;

use anyhow::Context;
use bytes::Bytes;
use mio::Waker;

use super::wire;

/// Prefix of the per-file channels (apart from the relay floor's and the gateway's).
pub const CHANNEL_PREFIX: &str = "collab-wfloor:";

/// Frames waiting to be published; the event loop waits when it is full.
const PUBLISH_QUEUE: usize = 16 * 1024;

/// Most PUBLISH commands in one pipeline.
const PUBLISH_BATCH: usize = 512;

/// What the Redis threads hand to the event loop.
#[derive(Debug)]
pub enum BusEvent {
    /// Another instance's frame for the local clients of `file`, encoded.
    Frame { file: String, frame: Bytes },
    /// A Redis connection failed; the write-floor stops.
    Failed(String),
}

/// Wakes the event loop at most once until it looks at the channel again.
#[derive(Clone)]
struct Wake {
    waker: Arc<Waker>,
    due: Arc<AtomicBool>,
}

impl Wake {
    fn wake(&self) {
        if !self.due.swap(true, Ordering::AcqRel) {
            // A failed eventfd write leaves the loop to its 1 s poll timeout: slow, not lost.
            let _ = self.waker.wake();
        }
    }
}

/// The event loop's side of the bus.
pub struct Bus {
    instance: u32,
    publish: SyncSender<(Arc<str>, Vec<u8>)>,
    pub events: Receiver<BusEvent>,
    due: Arc<AtomicBool>,
}

impl Bus {
    /// Connects both threads to Redis; returns once the subscription is in place.
    pub fn connect(client: &redis::Client, waker: Waker) -> anyhow::Result<Bus> {
        let instance: u32 = rand::random();
        let wake = Wake {
            waker: Arc::new(waker),
            due: Arc::new(AtomicBool::new(false)),
        };
        let (events_tx, events) = mpsc::channel();
        let publisher = client
            .get_connection()
            .context("connecting the publisher to Redis")?;
        let (publish, queue) = mpsc::sync_channel(PUBLISH_QUEUE);
        let (tx, w) = (events_tx.clone(), wake.clone());
        thread::Builder::new()
            .name("wfloor-publish".to_owned())
            .spawn(move || publish_batches(publisher, queue, &tx, &w))
            .context("starting the publisher thread")?;

        let (ready_tx, ready) = mpsc::sync_channel(1);
        let subscriber = client.clone();
        let w = wake.clone();
        thread::Builder::new()
            .name("wfloor-subscribe".to_owned())
            .spawn(move || forward(&subscriber, instance, &events_tx, &w, &ready_tx))
            .context("starting the subscriber thread")?;
        ready
            .recv()
            .context("the subscriber thread ended before subscribing")??;
        Ok(Bus {
            instance,
            publish,
            events,
            due: wake.due,
        })
    }

    /// Call before draining [`Bus::events`]: a message sent after this wakes the loop again.
    pub fn woken(&self) {
        self.due.store(false, Ordering::Release);
    }

    /// Queues connection `id`'s frame for publishing on `channel`, behind its origin.
    pub fn publish(&self, channel: &Arc<str>, id: u32, frame: &[u8]) -> anyhow::Result<()> {
        let mut payload = Vec::with_capacity(8 + frame.len());
        payload.extend_from_slice(&self.instance.to_be_bytes());
        payload.extend_from_slice(&id.to_be_bytes());
        payload.extend_from_slice(frame);
        match self.publish.try_send((channel.clone(), payload)) {
            Ok(()) => Some(()),
            // Redis is behind: wait for room, as the relay floor's senders do.
            Err(TrySendError::Full(message)) => self.publish.send(message).ok(),
            Err(TrySendError::Disconnected(_)) => None,
        }
        .context("the publisher thread has stopped")
    }
}

/// The channel of `file`.
pub fn channel(file: &str) -> Arc<str> {
    format!("{CHANNEL_PREFIX}{file}").into()
}

fn publish_batches(
    mut connection: redis::Connection,
    queue: Receiver<(Arc<str>, Vec<u8>)>,
    events: &Sender<BusEvent>,
    wake: &Wake,
) {
    let mut batch = Vec::with_capacity(PUBLISH_BATCH);
    while let Ok(first) = queue.recv() {
        batch.push(first);
        batch.extend(queue.try_iter().take(PUBLISH_BATCH - 1));
        let mut pipe = redis::pipe();
        for (channel, payload) in batch.drain(..) {
            pipe.cmd("PUBLISH").arg(&*channel).arg(payload).ignore();
        }
        if let Err(e) = pipe.query::<()>(&mut connection) {
            let _ = events.send(BusEvent::Failed(format!("publishing to Redis: {e}")));
            wake.wake();
            return;
        }
    }
}

/// Subscribes, says so on `ready`, then forwards other instances' frames until Redis fails.
fn forward(
    client: &redis::Client,
    instance: u32,
    events: &Sender<BusEvent>,
    wake: &Wake,
    ready: &SyncSender<anyhow::Result<()>>,
) {
    let mut connection = match client.get_connection() {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(e).context("connecting the subscriber to Redis"));
            return;
        }
    };
    let mut pubsub = connection.as_pubsub();
    if let Err(e) = pubsub.psubscribe(format!("{CHANNEL_PREFIX}*")) {
        let _ = ready.send(Err(e).context("subscribing to the write-floor channels"));
        return;
    }
    let _ = ready.send(Ok(()));
    let own = instance.to_be_bytes();
    loop {
        let message = match pubsub.get_message() {
            Ok(m) => m,
            Err(e) => {
                let _ = events.send(BusEvent::Failed(format!("the Redis subscription: {e}")));
                wake.wake();
                return;
            }
        };
        let Some(file) = message.get_channel_name().strip_prefix(CHANNEL_PREFIX) else {
            continue;
        };
        let Some((origin, frame)) = message.get_payload_bytes().split_first_chunk::<8>() else {
            tracing::warn!(
                "{}: message shorter than its origin",
                message.get_channel_name()
            );
            continue;
        };
        if origin[..4] == own {
            continue;
        }
        let event = BusEvent::Frame {
            file: file.to_owned(),
            frame: wire::binary(frame),
        };
        if events.send(event).is_err() {
            return; // the event loop is gone
        }
        wake.wake();
    }
}
