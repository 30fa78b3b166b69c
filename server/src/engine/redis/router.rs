//! Routes what the subscription connection receives to rooms, without ever blocking it.
//!
//! Runs inside the Redis connection's push callback, so it only does map look-ups and
//! non-blocking sends. A room whose inbox is full, and every room after a disconnection,
//! is told to catch up from the log instead: pub/sub may drop, the log does not.
//!
//! Under Redis Cluster a slot that migrates takes its sharded channels with it: the old
//! owner pushes an unsolicited `sunsubscribe`, which redis-rs 1.8.1 applies to its
//! subscription tracker without subscribing again. A `sunsubscribe` for a channel a room
//! still routes is therefore never ours (a leaving room unroutes first): the router asks
//! the bus to subscribe it again and the room to catch up.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use collab_protocol::Keys;
use collab_protocol::envelope::{Envelope, Kind};
use dashmap::DashMap;
use redis::{PushInfo, PushKind, Value};
use tokio::sync::mpsc;

use super::liveness::Liveness;
use crate::engine::inbox::RoomSink;

/// The subscription connection's routing table: channel to room, plus liveness.
pub struct Router {
    keys: Keys,
    gateways_channel: String,
    own_id: String,
    routes: DashMap<String, RoomSink>,
    /// File channels the subscription manager holds subscribed (for the census).
    subscribed: AtomicUsize,
    live: AtomicBool,
    pub(super) liveness: Arc<Liveness>,
    /// Channels the server dropped while routed, for the bus to subscribe again.
    resubscribe: mpsc::UnboundedSender<String>,
    /// Channels whose resubscription is under way (asked once, however often dropped).
    resubscribing: Mutex<HashSet<String>>,
    /// After a disconnection, ask for every channel again (the connection will not).
    resubscribe_after_disconnection: bool,
}

impl Router {
    pub fn new(
        keys: Keys,
        own_id: String,
        liveness: Arc<Liveness>,
        resubscribe: mpsc::UnboundedSender<String>,
        resubscribe_after_disconnection: bool,
    ) -> Self {
        Router {
            gateways_channel: keys.gateways_channel(),
            keys,
            own_id,
            routes: DashMap::new(),
            subscribed: AtomicUsize::new(0),
            live: AtomicBool::new(false),
            liveness,
            resubscribe,
            resubscribing: Mutex::new(HashSet::new()),
            resubscribe_after_disconnection,
        }
    }

    /// Asks the bus to subscribe `channel` again (if a room still wants it by then),
    /// unless that is already under way.
    pub fn resubscribe(&self, channel: String) {
        let fresh = self
            .resubscribing
            .lock()
            .map_or(true, |mut under_way| under_way.insert(channel.clone()));
        if fresh {
            let _ = self.resubscribe.send(channel);
        }
    }

    /// The resubscription of `channel` is over (done, or no longer wanted).
    pub fn resubscribed(&self, channel: &str) {
        if let Ok(mut under_way) = self.resubscribing.lock() {
            under_way.remove(channel);
        }
    }

    /// Whether a room routes `channel` (so it still wants the channel subscribed).
    pub fn is_routed(&self, channel: &str) -> bool {
        self.routes.contains_key(channel)
    }

    /// Whether `channel` is the gateways channel.
    pub fn is_gateways_channel(&self, channel: &str) -> bool {
        channel == self.gateways_channel
    }

    /// The gateways channel's name.
    pub fn gateways_channel(&self) -> &str {
        &self.gateways_channel
    }

    /// The file channels rooms route now: one per open file (readiness and per-node
    /// metrics under a cluster look up their slots).
    pub fn file_channels(&self) -> Vec<String> {
        self.routes
            .iter()
            .map(|route| route.key().clone())
            .collect()
    }

    /// The subscription manager holds `n` file channels subscribed.
    pub fn set_subscribed(&self, n: usize) {
        self.subscribed.store(n, Ordering::Relaxed);
    }

    /// The sizes of the routing tables, for the census ([`crate::census`]).
    pub fn tables(&self) -> Vec<(&'static str, usize)> {
        let resubscribing = self.resubscribing.lock().map_or(0, |set| set.len());
        vec![
            ("routes", self.routes.len()),
            ("subscriptions", self.subscribed.load(Ordering::Relaxed)),
            ("resubscribing", resubscribing),
            ("gateways_seen", self.liveness.len()),
        ]
    }

    pub fn insert(&self, channel: String, sink: RoomSink) {
        self.routes.insert(channel, sink);
    }

    /// Removes the route if it still belongs to `room_id` (a newer room may have taken it).
    pub fn remove(&self, channel: &str, room_id: u64) {
        self.routes
            .remove_if(channel, |_, sink| sink.room_id == room_id);
    }

    /// Whether the subscription connection is up.
    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    pub fn set_live(&self, live: bool) {
        self.live.store(live, Ordering::Release);
    }

    /// Tells every room that `gateway` is gone.
    pub fn gateway_gone(&self, gateway: &str) {
        for sink in self.routes.iter() {
            sink.signals.gateway_gone(gateway);
        }
    }

    /// Handles one push from the subscription connection.
    pub fn on_push(&self, push: PushInfo) {
        match push.kind {
            PushKind::Message | PushKind::SMessage => {
                let mut data = push.data.into_iter();
                if let (Some(Value::BulkString(channel)), Some(Value::BulkString(payload))) =
                    (data.next(), data.next())
                {
                    self.on_message(&channel, Bytes::from(payload));
                }
            }
            PushKind::Subscribe | PushKind::SSubscribe => {
                if let Some(Value::BulkString(channel)) = push.data.first() {
                    self.on_subscribed(channel);
                }
            }
            PushKind::Disconnection => {
                self.set_live(false);
                crate::metrics::redis_reconnect();
                tracing::warn!("redis subscription connection lost; rooms will catch up");
                for sink in self.routes.iter() {
                    sink.signals.request_catch_up();
                }
                if self.resubscribe_after_disconnection {
                    self.resubscribe(self.gateways_channel.clone());
                    for channel in self.file_channels() {
                        self.resubscribe(channel);
                    }
                }
            }
            PushKind::SUnsubscribe => {
                if let Some(Value::BulkString(channel)) = push.data.first() {
                    self.on_dropped(channel);
                }
            }
            _ => {}
        }
    }

    fn on_subscribed(&self, channel: &[u8]) {
        let Ok(channel) = std::str::from_utf8(channel) else {
            return;
        };
        if channel == self.gateways_channel {
            // While we were deaf, others' heartbeats went unheard: that is not their death.
            self.liveness.refresh_all();
            self.set_live(true);
        } else if let Some(sink) = self.routes.get(channel) {
            // A (re)subscription: anything published before it may be gone.
            sink.signals.request_catch_up();
        }
    }

    /// A `sunsubscribe` push: ours when no room routes the channel any more, else the
    /// server's (the slot moved): subscribe again, and catch up meanwhile.
    fn on_dropped(&self, channel: &[u8]) {
        let Ok(channel) = std::str::from_utf8(channel) else {
            return;
        };
        let Some(sink) = self.routes.get(channel) else {
            return;
        };
        tracing::info!(
            channel,
            "server dropped a routed channel (slot moved?); subscribing again"
        );
        sink.signals.request_catch_up();
        self.resubscribe(channel.to_owned());
    }

    fn on_message(&self, channel: &[u8], payload: Bytes) {
        let Ok(channel) = std::str::from_utf8(channel) else {
            return;
        };
        let envelope = match Envelope::decode(payload) {
            Ok(envelope) => envelope,
            Err(error) => {
                tracing::warn!(channel, %error, "dropping undecodable bus message");
                return;
            }
        };
        if channel == self.gateways_channel {
            if envelope.origin == self.own_id {
                // Our own heartbeat came back: the gateways channel is heard. Under a
                // cluster that is how liveness returns after one node's connection was
                // lost, whichever node it was (no subscribe confirmation may follow).
                if envelope.kind == Kind::Heartbeat && !self.is_live() {
                    self.liveness.refresh_all();
                    self.set_live(true);
                }
            } else {
                match envelope.kind {
                    Kind::Heartbeat => self.liveness.saw(&envelope.origin),
                    Kind::Leaving => {
                        self.liveness.forget(&envelope.origin);
                        self.gateway_gone(&envelope.origin);
                    }
                    _ => {}
                }
            }
            return;
        }
        let Some(sink) = self.routes.get(channel) else {
            return;
        };
        if envelope.origin != self.own_id {
            self.liveness.saw(&envelope.origin);
        }
        let is_update = matches!(envelope.kind, Kind::Update { .. });
        if sink.tx.try_send(Box::new(envelope)).is_err() && is_update {
            // Inbox full: the log has the update; the room reads it from there.
            sink.signals.request_catch_up();
        }
        debug_assert!(self.keys.file_of_channel(channel).is_some());
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::engine::inbox::RoomSignals;

    const CHANNEL: &str = "collab:{sb/a.rs}";

    fn routed(after_disconnection: bool) -> (Router, mpsc::UnboundedReceiver<String>, RoomSink) {
        let (resubscribe, asked) = mpsc::unbounded_channel();
        let liveness = Arc::new(Liveness::new(Duration::from_secs(6)));
        let router = Router::new(
            Keys::new("collab"),
            "gw-me".into(),
            liveness,
            resubscribe,
            after_disconnection,
        );
        let (tx, _rx) = tokio::sync::mpsc::channel(4);
        let sink = RoomSink {
            room_id: 1,
            tx,
            signals: Arc::new(RoomSignals::default()),
        };
        router.insert(CHANNEL.into(), sink.clone());
        (router, asked, sink)
    }

    fn push(kind: PushKind, channel: &str) -> PushInfo {
        PushInfo {
            kind,
            data: vec![Value::BulkString(channel.into()), Value::Int(0)],
        }
    }

    fn drain(asked: &mut mpsc::UnboundedReceiver<String>) -> Vec<String> {
        std::iter::from_fn(|| asked.try_recv().ok()).collect()
    }

    #[test]
    fn a_routed_channel_the_server_dropped_is_asked_again_once_and_caught_up() {
        let (router, mut asked, sink) = routed(false);
        router.on_push(push(PushKind::SUnsubscribe, CHANNEL));
        router.on_push(push(PushKind::SUnsubscribe, CHANNEL));
        assert_eq!(drain(&mut asked), vec![CHANNEL.to_owned()], "asked once");
        assert!(sink.signals.take_catch_up());
        // Once that resubscription is over, a new drop asks again.
        router.resubscribed(CHANNEL);
        router.on_push(push(PushKind::SUnsubscribe, CHANNEL));
        assert_eq!(drain(&mut asked), vec![CHANNEL.to_owned()]);
    }

    #[test]
    fn our_own_unsubscribe_is_not_a_drop() {
        let (router, mut asked, _sink) = routed(false);
        router.remove(CHANNEL, 1);
        router.on_push(push(PushKind::SUnsubscribe, CHANNEL));
        assert!(drain(&mut asked).is_empty());
    }

    #[test]
    fn a_disconnection_asks_for_every_channel_only_when_the_connection_will_not() {
        let (router, mut asked, sink) = routed(true);
        router.set_live(true);
        router.on_push(PushInfo {
            kind: PushKind::Disconnection,
            data: vec![],
        });
        assert!(!router.is_live());
        assert!(sink.signals.take_catch_up());
        let mut got = drain(&mut asked);
        got.sort();
        assert_eq!(got, vec!["collab:gateways".to_owned(), CHANNEL.to_owned()]);

        let (router, mut asked, sink) = routed(false);
        router.on_push(PushInfo {
            kind: PushKind::Disconnection,
            data: vec![],
        });
        assert!(sink.signals.take_catch_up());
        assert!(
            drain(&mut asked).is_empty(),
            "the connection resubscribes itself"
        );
    }

    #[test]
    fn our_own_heartbeat_coming_back_means_we_hear_the_gateways_channel() {
        let (router, _asked, _sink) = routed(true);
        assert!(!router.is_live());
        let beat = Envelope::new("gw-me", Kind::Heartbeat, Vec::new()).encode();
        router.on_push(PushInfo {
            kind: PushKind::Message,
            data: vec![
                Value::BulkString(b"collab:gateways".to_vec()),
                Value::BulkString(beat),
            ],
        });
        assert!(router.is_live());
    }
}
