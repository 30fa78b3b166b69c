//! The pub/sub side of Redis: one subscription connection per gateway, shared by all rooms.
//!
//! - [`RedisBus::join`](crate::engine::Bus::join) registers a room's inbox for its file's
//!   channel and subscribes (reference-counted, in order, by one task, so a closing room's
//!   unsubscribe can never undo a newer room's subscribe).
//! - [`router`](super::router) hands received messages to rooms and turns every
//!   disconnection, resubscription and overflow into a catch-up request.
//! - [`liveness`](super::liveness) tracks other gateways' heartbeats so the cursors of a
//!   dead one vanish; this module publishes our own heartbeats and sweeps the silent.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use collab_protocol::envelope::{Envelope, Kind};
use collab_protocol::{FileId, Keys};
use futures_util::future::BoxFuture;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, ProtocolVersion, RedisResult};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::liveness::Liveness;
use super::router::Router;
use crate::engine::Bus;
use crate::engine::error::EngineError;
use crate::engine::inbox::RoomSink;

enum SubCmd {
    Subscribe(String, oneshot::Sender<RedisResult<()>>),
    Unsubscribe(String),
}

/// Handle to the gateway's pub/sub machinery. Cheap to clone.
#[derive(Clone)]
pub struct RedisBus {
    keys: Keys,
    gateway_id: String,
    publisher: ConnectionManager,
    sub_cmds: mpsc::UnboundedSender<SubCmd>,
    router: Arc<Router>,
}

impl RedisBus {
    /// Connects the subscription connection (RESP3, resubscribing after reconnects),
    /// subscribes to the gateways channel and starts heartbeats; returns the bus and its
    /// background tasks (the caller aborts them).
    pub async fn start(
        client: &redis::Client,
        publisher: ConnectionManager,
        keys: Keys,
        gateway_id: String,
        gateway_timeout: Duration,
    ) -> RedisResult<(RedisBus, Vec<JoinHandle<()>>)> {
        let liveness = Arc::new(Liveness::new(gateway_timeout));
        let router = Arc::new(Router::new(keys.clone(), gateway_id.clone(), liveness));

        let info = client.get_connection_info().clone();
        let redis_settings = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let sub_client = redis::Client::open(info.set_redis_settings(redis_settings))?;
        let push_router = router.clone();
        let config = ConnectionManagerConfig::new()
            .set_push_sender(move |push: redis::PushInfo| {
                push_router.on_push(push);
                Ok::<(), ()>(())
            })
            .set_automatic_resubscription()
            .set_max_delay(Duration::from_secs(2))
            .set_connection_timeout(Some(Duration::from_secs(5)));
        let mut sub = ConnectionManager::new_with_config(sub_client, config).await?;
        sub.subscribe(keys.gateways_channel()).await?;
        router.set_live(true);

        let (sub_cmds, rx) = mpsc::unbounded_channel();
        let bus = RedisBus {
            keys,
            gateway_id,
            publisher,
            sub_cmds,
            router,
        };
        let tasks = vec![
            tokio::spawn(subscription_manager(sub, rx)),
            tokio::spawn(bus.clone().heartbeats()),
            tokio::spawn(bus.clone().sweep_dead_gateways()),
        ];
        Ok((bus, tasks))
    }

    async fn heartbeats(self) {
        let period = self.router.liveness.timeout() / 4;
        let mut tick = tokio::time::interval(period);
        let beat = Envelope::new(self.gateway_id.clone(), Kind::Heartbeat, Vec::new()).encode();
        loop {
            tick.tick().await;
            let mut conn = self.publisher.clone();
            let sent: RedisResult<()> = conn
                .publish(self.keys.gateways_channel(), beat.as_slice())
                .await;
            if let Err(error) = sent {
                tracing::debug!(%error, "heartbeat not published");
            }
        }
    }

    async fn sweep_dead_gateways(self) {
        let mut tick = tokio::time::interval(self.router.liveness.timeout() / 8);
        loop {
            tick.tick().await;
            // Without our own subscription we hear nobody: that is not their death.
            if !self.router.is_live() {
                continue;
            }
            for gateway in self.router.liveness.take_expired() {
                tracing::info!(
                    gateway,
                    "gateway silent past its timeout; dropping its cursors"
                );
                self.router.gateway_gone(&gateway);
            }
        }
    }
}

impl Bus for RedisBus {
    fn gateway_id(&self) -> &str {
        &self.gateway_id
    }

    fn is_live(&self) -> bool {
        self.router.is_live()
    }

    fn join<'a>(
        &'a self,
        file: &'a FileId,
        sink: RoomSink,
    ) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(async move {
            let channel = self.keys.channel(file);
            let room_id = sink.room_id;
            self.router.insert(channel.clone(), sink);
            let (tx, rx) = oneshot::channel();
            self.sub_cmds
                .send(SubCmd::Subscribe(channel.clone(), tx))
                .map_err(|_| EngineError::Stopped)?;
            let result = rx.await.map_err(|_| EngineError::Stopped)?;
            if result.is_err() {
                // Never counted as subscribed: only the route goes.
                self.router.remove(&channel, room_id);
            }
            Ok(result?)
        })
    }

    fn leave(&self, file: &FileId, room_id: u64) {
        let channel = self.keys.channel(file);
        self.router.remove(&channel, room_id);
        let _ = self.sub_cmds.send(SubCmd::Unsubscribe(channel));
    }

    fn publish<'a>(
        &'a self,
        file: &'a FileId,
        kind: Kind,
        payload: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(async move {
            let envelope = Envelope::new(self.gateway_id.clone(), kind, payload);
            let mut conn = self.publisher.clone();
            let published: RedisResult<()> = conn
                .publish(self.keys.channel(file), envelope.encode())
                .await;
            Ok(published?)
        })
    }

    fn say_goodbye(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let envelope = Envelope::new(self.gateway_id.clone(), Kind::Leaving, Vec::new());
            let mut conn = self.publisher.clone();
            let _: RedisResult<()> = conn
                .publish(self.keys.gateways_channel(), envelope.encode())
                .await;
        })
    }
}

/// Owns the subscription connection's channel set: reference counts per channel, so
/// subscribe and unsubscribe calls apply in the order rooms made them.
async fn subscription_manager(mut sub: ConnectionManager, mut rx: mpsc::UnboundedReceiver<SubCmd>) {
    let mut counts: HashMap<String, usize> = HashMap::new();
    while let Some(cmd) = rx.recv().await {
        match cmd {
            SubCmd::Subscribe(channel, reply) => {
                let count = counts.entry(channel.clone()).or_insert(0);
                let result = if *count == 0 {
                    sub.subscribe(&channel).await
                } else {
                    Ok(())
                };
                if result.is_ok() {
                    *count += 1;
                } else if *count == 0 {
                    counts.remove(&channel);
                }
                let _ = reply.send(result);
            }
            SubCmd::Unsubscribe(channel) => {
                let Some(count) = counts.get_mut(&channel) else {
                    continue;
                };
                *count -= 1;
                if *count == 0 {
                    counts.remove(&channel);
                    if let Err(error) = sub.unsubscribe(&channel).await {
                        tracing::debug!(channel, %error, "unsubscribe failed");
                    }
                }
            }
        }
    }
}
