//! The in-memory engine's channels: which room of which gateway hears a file, and the
//! delivery of envelopes to them, as Redis pub/sub and the Redis engine's router do it.
//!
//! Delivery never blocks: a room whose inbox is full misses the envelope, and if it was
//! an update the room is asked to catch up from the log instead. Every room routed to a
//! file hears everything published there, its own gateway's messages included (as a
//! Redis subscriber does); the room core skips what it already holds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use collab_protocol::FileId;
use collab_protocol::envelope::{Envelope, Kind};
use futures_util::future::BoxFuture;

use super::shared::lock;
use crate::engine::Bus;
use crate::engine::error::EngineError;
use crate::engine::inbox::RoomSink;

/// One gateway's room for one file.
struct Route {
    gateway: Arc<str>,
    sink: RoomSink,
}

/// Routes of every file, across every gateway connected to the server.
#[derive(Default)]
pub struct Channels {
    routes: Mutex<HashMap<FileId, Vec<Route>>>,
    /// Tests only: every publication is lost, as pub/sub loses messages while a
    /// subscriber reconnects.
    #[cfg(test)]
    pub(crate) lose_all: std::sync::atomic::AtomicBool,
}

impl Channels {
    /// Routes `file` on `gateway` to `sink`, replacing that gateway's older room.
    fn join(&self, file: &FileId, gateway: &Arc<str>, sink: RoomSink) {
        let mut routes = lock(&self.routes);
        let rooms = routes.entry(file.clone()).or_default();
        rooms.retain(|route| route.gateway != *gateway);
        rooms.push(Route {
            gateway: gateway.clone(),
            sink,
        });
    }

    /// Unroutes the room `room_id` of `gateway` (a newer room keeps its route).
    fn leave(&self, file: &FileId, gateway: &str, room_id: u64) {
        let mut routes = lock(&self.routes);
        if let Some(rooms) = routes.get_mut(file) {
            rooms.retain(|route| !(&*route.gateway == gateway && route.sink.room_id == room_id));
            if rooms.is_empty() {
                routes.remove(file);
            }
        }
    }

    /// Delivers `kind` and `payload` from `origin` to every room routed to `file`.
    pub fn deliver(&self, file: &FileId, origin: &str, kind: Kind, payload: Bytes) {
        #[cfg(test)]
        if self.lose_all.load(std::sync::atomic::Ordering::Acquire) {
            return;
        }
        let routes = lock(&self.routes);
        let Some(rooms) = routes.get(file) else {
            return;
        };
        let is_update = matches!(kind, Kind::Update { .. });
        let envelope = Envelope::new(origin, kind, payload);
        for route in rooms {
            if route.sink.tx.try_send(Box::new(envelope.clone())).is_err() && is_update {
                // Inbox full: the log has the update; the room reads it from there.
                route.sink.signals.request_catch_up();
            }
        }
    }

    /// Tells every other gateway's rooms that `gateway` left.
    fn gone(&self, gateway: &str) {
        let routes = lock(&self.routes);
        for route in routes.values().flatten() {
            if &*route.gateway != gateway {
                route.sink.signals.gateway_gone(gateway);
            }
        }
    }
}

/// One gateway's side of the channels.
pub struct MemoryBus {
    channels: Arc<Channels>,
    gateway: Arc<str>,
    gateway_id: String,
}

impl MemoryBus {
    pub fn new(channels: Arc<Channels>, gateway_id: String) -> Self {
        MemoryBus {
            channels,
            gateway: Arc::from(gateway_id.as_str()),
            gateway_id,
        }
    }
}

impl Bus for MemoryBus {
    fn gateway_id(&self) -> &str {
        &self.gateway_id
    }

    fn join<'a>(
        &'a self,
        file: &'a FileId,
        sink: RoomSink,
    ) -> BoxFuture<'a, Result<(), EngineError>> {
        self.channels.join(file, &self.gateway, sink);
        Box::pin(async { Ok(()) })
    }

    fn leave(&self, file: &FileId, room_id: u64) {
        self.channels.leave(file, &self.gateway, room_id);
    }

    fn publish<'a>(
        &'a self,
        file: &'a FileId,
        kind: Kind,
        payload: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), EngineError>> {
        let payload = Bytes::from(payload);
        self.channels.deliver(file, &self.gateway, kind, payload);
        Box::pin(async { Ok(()) })
    }

    fn say_goodbye(&self) -> BoxFuture<'_, ()> {
        self.channels.gone(&self.gateway);
        Box::pin(async {})
    }
}
