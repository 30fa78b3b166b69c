//! The pub/sub side of Redis: one subscription connection per gateway, shared by all rooms.
//!
//! - [`RedisBus::join`](crate::engine::Bus::join) registers a room's inbox for its file's
//!   channel and subscribes (reference-counted, in order, by one task, so a closing room's
//!   unsubscribe can never undo a newer room's subscribe).
//! - [`router`](super::router) hands received messages to rooms and turns every
//!   disconnection, resubscription and overflow into a catch-up request; a channel the
//!   server dropped on its own (a cluster slot that moved) comes back here to be
//!   subscribed again.
//! - [`liveness`](super::liveness) tracks other gateways' heartbeats so the cursors of a
//!   dead one vanish; this module publishes our own heartbeats and sweeps the silent.
//!
//! Generic over the connection ([`Conn`]): file channels are classic pub/sub on one
//! server and sharded pub/sub on a cluster; the gateways channel is classic pub/sub on
//! both (see [`crate::engine::cluster`] for why).

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

use super::conn::Conn;
use super::liveness::Liveness;
use super::router::Router;
use crate::engine::Bus;
use crate::engine::error::EngineError;
use crate::engine::inbox::RoomSink;

/// How long a failed resubscription waits before the next attempt, at first.
const RESUBSCRIBE_RETRY: Duration = Duration::from_millis(250);
/// The longest wait between attempts (a failover's seconds are covered in a few).
const RESUBSCRIBE_RETRY_MAX: Duration = Duration::from_secs(2);

enum SubCmd {
    Subscribe(String, oneshot::Sender<RedisResult<()>>),
    Unsubscribe(String),
}

/// Handle to the gateway's pub/sub machinery. Cheap to clone.
#[derive(Clone)]
pub struct RedisBus<C> {
    keys: Keys,
    gateway_id: String,
    publisher: C,
    sub_cmds: mpsc::UnboundedSender<SubCmd>,
    router: Arc<Router>,
}

/// A router for a bus on connections of type `C` that is about to start, and the queue
/// on which it asks for channels to be subscribed again (hand both to
/// [`RedisBus::start`]). The subscription connection's pushes go to
/// [`Router::on_push`].
pub fn router<C: Conn>(
    keys: &Keys,
    gateway_id: &str,
    gateway_timeout: Duration,
) -> (Arc<Router>, mpsc::UnboundedReceiver<String>) {
    let liveness = Arc::new(Liveness::new(gateway_timeout));
    let (resubscribe, rx) = mpsc::unbounded_channel();
    let router = Router::new(
        keys.clone(),
        gateway_id.to_owned(),
        liveness,
        resubscribe,
        !C::RESUBSCRIBES_ITSELF,
    );
    (Arc::new(router), rx)
}

/// Connects one server's subscription connection (RESP3, resubscribing after
/// reconnects, its pushes to `router`) and subscribes to the gateways channel.
pub async fn subscriber(
    client: &redis::Client,
    router: Arc<Router>,
    keys: &Keys,
) -> RedisResult<ConnectionManager> {
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
    Ok(sub)
}

impl<C: Conn> RedisBus<C> {
    /// Starts the bus on a subscription connection `sub` that already hears the gateways
    /// channel (its pushes going to `router`) and a `publisher`: the subscription
    /// manager, heartbeats and the sweep of silent gateways. Returns the bus and its
    /// background tasks (the caller aborts them).
    pub fn start(
        router: Arc<Router>,
        resubscribe: mpsc::UnboundedReceiver<String>,
        sub: C,
        publisher: C,
        keys: Keys,
        gateway_id: String,
    ) -> (RedisBus<C>, Vec<JoinHandle<()>>) {
        router.set_live(true);
        let (sub_cmds, rx) = mpsc::unbounded_channel();
        let bus = RedisBus {
            keys,
            gateway_id,
            publisher,
            sub_cmds,
            router: router.clone(),
        };
        let tasks = vec![
            tokio::spawn(subscription_manager(sub, rx, resubscribe, router)),
            tokio::spawn(bus.clone().heartbeats()),
            tokio::spawn(bus.clone().sweep_dead_gateways()),
        ];
        (bus, tasks)
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

impl<C: Conn> Bus for RedisBus<C> {
    fn gateway_id(&self) -> &str {
        &self.gateway_id
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
            let published: RedisResult<()> = redis::cmd(C::FILE_PUBLISH)
                .arg(self.keys.channel(file))
                .arg(envelope.encode())
                .query_async(&mut conn)
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

    fn tables(&self) -> Vec<(&'static str, usize)> {
        self.router.tables()
    }
}

/// Owns the subscription connection's channel set: reference counts per channel, so
/// subscribe and unsubscribe calls apply in the order rooms made them. A channel the
/// server dropped (a cluster slot that moved) or a connection lost (under a cluster) while
/// rooms still count on it comes from the router (`resubscribe`) and is subscribed again
/// on a task of its own, so that other rooms' commands go on meanwhile.
async fn subscription_manager<C: Conn>(
    mut sub: C,
    mut rx: mpsc::UnboundedReceiver<SubCmd>,
    mut resubscribe: mpsc::UnboundedReceiver<String>,
    router: Arc<Router>,
) {
    let mut counts: HashMap<String, usize> = HashMap::new();
    loop {
        let cmd = tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(cmd) => cmd,
                None => return,
            },
            Some(channel) = resubscribe.recv() => {
                let broadcast = router.is_gateways_channel(&channel);
                if broadcast || counts.contains_key(&channel) {
                    tokio::spawn(resubscribe_channel(sub.clone(), channel, broadcast, router.clone()));
                } else {
                    router.resubscribed(&channel);
                }
                continue;
            }
        };
        match cmd {
            SubCmd::Subscribe(channel, reply) => {
                let count = counts.entry(channel.clone()).or_insert(0);
                let result = if *count == 0 {
                    sub.subscribe_file(&channel).await
                } else {
                    Ok(())
                };
                if result.is_ok() {
                    *count += 1;
                } else if *count == 0 {
                    counts.remove(&channel);
                }
                router.set_subscribed(counts.len());
                let _ = reply.send(result);
            }
            SubCmd::Unsubscribe(channel) => {
                let Some(count) = counts.get_mut(&channel) else {
                    continue;
                };
                *count -= 1;
                if *count == 0 {
                    counts.remove(&channel);
                    router.set_subscribed(counts.len());
                    if let Err(error) = sub.unsubscribe_file(&channel).await {
                        tracing::debug!(channel, %error, "unsubscribe failed");
                    }
                }
            }
        }
    }
}

/// Subscribes `channel` again (the cluster client routes it to the slot's current
/// owner). A failure (the slot's master died and no replica took over yet) is retried with
/// a growing delay ([`resubscribe_delay`]: a failover takes seconds, and a gateway may hold
/// thousands of that master's channels) for as long as a room routes the channel. Rooms
/// catch up once the subscription is confirmed (the router sees the confirmation push). A
/// room that leaves while this runs may leave the channel subscribed without a route: its
/// messages are dropped, and the next room of that file counts from there.
async fn resubscribe_channel<C: Conn>(
    mut sub: C,
    channel: String,
    broadcast: bool,
    router: Arc<Router>,
) {
    let mut failures = 0u32;
    loop {
        let result = if broadcast {
            sub.subscribe_broadcast(&channel).await
        } else {
            sub.subscribe_file(&channel).await
        };
        match &result {
            Ok(()) if failures == 0 => tracing::debug!(channel, "channel subscribed again"),
            Ok(()) => tracing::info!(channel, failures, "channel subscribed again"),
            // One warning per channel and outage; the retries are debug.
            Err(error) if failures == 0 => {
                tracing::warn!(channel, %error, "resubscription failed; retrying")
            }
            Err(error) => tracing::debug!(channel, failures, %error, "resubscription failed"),
        }
        let wanted = broadcast || router.is_routed(&channel);
        if result.is_ok() || !wanted {
            break;
        }
        tokio::time::sleep(resubscribe_delay(failures)).await;
        failures += 1;
    }
    router.resubscribed(&channel);
}

/// The wait after the `failures`+1-th failed resubscription: [`RESUBSCRIBE_RETRY`]
/// doubling up to [`RESUBSCRIBE_RETRY_MAX`], each between 3/4 and 5/4 of that so a
/// gateway's channels do not retry in lockstep.
fn resubscribe_delay(failures: u32) -> Duration {
    let base = RESUBSCRIBE_RETRY
        .saturating_mul(1 << failures.min(8))
        .min(RESUBSCRIBE_RETRY_MAX);
    base.mul_f64(0.75 + rand::random::<f64>() / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resubscription_delays_grow_to_a_cap_with_jitter() {
        // (failures so far, the delay's bounds in ms): 250 ms doubling, capped at 2 s, +-25%.
        let expected = [
            (0, 187.5, 312.5),
            (1, 375.0, 625.0),
            (2, 750.0, 1250.0),
            (3, 1500.0, 2500.0),
            (40, 1500.0, 2500.0),
        ];
        for (failures, low, high) in expected {
            let delays: Vec<f64> = (0..200)
                .map(|_| resubscribe_delay(failures).as_secs_f64() * 1000.0)
                .collect();
            assert!(
                delays.iter().all(|d| (low..=high).contains(d)),
                "after {failures} failures: {delays:?} not within {low}..={high} ms"
            );
            let spread = delays.iter().cloned().fold(f64::MIN, f64::max)
                - delays.iter().cloned().fold(f64::MAX, f64::min);
            assert!(
                spread > (high - low) / 4.0,
                "no jitter after {failures} failures"
            );
        }
    }
}
