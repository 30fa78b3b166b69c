//! `collab-load floor`: the raw relay floor, the lower bound of any gateway on this path.
//!
//! It serves `ws://ADDR/doc/{file}` in plain y-websocket framing and does no CRDT work at
//! all: no document, no decoding of updates, no log. A frame a client sends goes at once to
//! the other local clients of its file and is published, raw behind an 8-byte origin, on the
//! file's Redis channel `collab-floor:{file}` (one task publishes, whatever queued up
//! meanwhile in one pipeline). Each instance subscribes to the channel of a file while it
//! has clients there and forwards what other instances publish to its local clients, so two
//! floors relay across each other through Redis (its own messages coming back are dropped
//! by origin: their local delivery already happened).
//!
//! So that editors can sync, a client's sync step 1 is answered with an empty step 2 and a
//! step 1 with an empty state vector; everything else (updates, the client's step 2,
//! awareness) is relayed raw. The floor keeps no state, so it **cannot give a late joiner
//! the document**: a client sees only what is sent while it is connected. Redis pub/sub is
//! at most once and nothing catches up after a lost message. It is a yardstick for the
//! scenarios, not a server.
//!
//! A client whose queue fills up (it reads slower than its file is written) is closed with
//! 1013 rather than silently losing frames. Loopback only, like the rest of the harness.

use std::collections::HashMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Context, bail};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use redis::aio::{MultiplexedConnection, PubSubSink, PubSubStream};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Message as WsMessage, Utf8Bytes};

use crate::target::is_loopback;

/// Path prefix of the WebSocket endpoint, as our gateway's.
pub(crate) const PATH_PREFIX: &str = "/doc/";

/// Prefix of the per-file Redis channels (apart from the gateway's `collab:{F}`).
const CHANNEL_PREFIX: &str = "collab-floor:";

/// Frames queued for one client before it counts as too slow and is closed.
const CLIENT_QUEUE: usize = 4096;

/// Frames waiting to be published; senders wait when it is full.
const PUBLISH_QUEUE: usize = 16 * 1024;

/// Most PUBLISH commands sent in one pipeline.
const PUBLISH_BATCH: usize = 512;

/// Sync step 2 carrying an empty update (0 structs, 0 delete ranges).
pub(crate) const EMPTY_STEP2: &[u8] = &[0, 1, 2, 0, 0];

/// Sync step 1 with an empty state vector.
pub(crate) const EMPTY_STEP1: &[u8] = &[0, 0, 1, 0];

/// Flags of `collab-load floor`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Address to listen on (loopback only; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,

    /// Redis to relay through, e.g. redis://127.0.0.1:6391 (loopback only).
    #[arg(long, value_name = "URL")]
    pub redis_url: String,
}

/// Runs a floor until SIGTERM or SIGINT; prints `collab-floor listening on ADDR` once it
/// listens.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let floor = Floor::bind(args.listen, &args.redis_url).await?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "collab-floor listening on {}", floor.local_addr())
        .and_then(|()| stdout.flush())
        .context("writing the listening line")?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        result = floor.serve() => result,
        _ = term.recv() => Ok(()),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

/// A bound floor instance, not serving yet.
pub struct Floor {
    listener: TcpListener,
    relay: Arc<Relay>,
    subscription: PubSubStream,
    publisher: MultiplexedConnection,
    to_publish: mpsc::Receiver<(String, Vec<u8>)>,
}

impl Floor {
    /// Binds `listen` and connects to Redis (one publishing and one subscribing connection).
    pub async fn bind(listen: SocketAddr, redis_url: &str) -> anyhow::Result<Floor> {
        if !listen.ip().is_loopback() {
            bail!("--listen {listen}: the floor only listens on loopback addresses");
        }
        let client = loopback_redis(redis_url)?;
        let publisher = client
            .get_multiplexed_async_connection()
            .await
            .with_context(|| format!("connecting to Redis at {redis_url}"))?;
        let (subscriptions, subscription) = client
            .get_async_pubsub()
            .await
            .with_context(|| format!("opening a subscription connection to {redis_url}"))?
            .split();
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding {listen}"))?;
        let (publish_queue, to_publish) = mpsc::channel(PUBLISH_QUEUE);
        let relay = Arc::new(Relay {
            instance: rand::random(),
            next_connection: AtomicU32::new(1),
            rooms: Mutex::new(HashMap::new()),
            subscriptions: tokio::sync::Mutex::new(subscriptions),
            publish_queue,
        });
        Ok(Floor {
            listener,
            relay,
            subscription,
            publisher,
            to_publish,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Accepts connections, publishes and forwards what Redis delivers until a Redis
    /// connection fails (then it returns an error: the floor does not reconnect).
    pub async fn serve(self) -> anyhow::Result<()> {
        let Floor {
            listener,
            relay,
            mut subscription,
            publisher,
            to_publish,
        } = self;
        let mut publishing = tokio::spawn(publish_batches(publisher, to_publish));
        loop {
            tokio::select! {
                ended = &mut publishing => {
                    return match ended {
                        Ok(result) => result,
                        Err(e) => Err(e).context("the publishing task failed"),
                    };
                }
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let relay = relay.clone();
                        tokio::spawn(async move {
                            if let Err(e) = serve_client(relay, stream).await {
                                tracing::debug!("client {peer}: {e:#}");
                            }
                        });
                    }
                    Err(e) => {
                        // Out of file descriptors, typically: wait instead of spinning.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                },
                message = subscription.next() => match message {
                    Some(m) => relay.deliver_remote(m.get_channel_name(), m.get_payload_bytes()),
                    None => bail!("the Redis subscription connection ended"),
                },
            }
        }
    }
}

/// One local client of a file: its outgoing queue and the alarm that closes it when the
/// queue is full.
struct Client {
    queue: mpsc::Sender<Bytes>,
    overflow: Arc<Notify>,
}

/// What the connections of one instance share.
struct Relay {
    /// Tells this instance's messages apart from the other instances' on the channels.
    instance: u32,
    next_connection: AtomicU32,
    /// Local clients by file, then by connection number.
    rooms: Mutex<HashMap<String, HashMap<u32, Client>>>,
    /// Held across "first client joins / last client leaves" and the (un)subscribe that
    /// goes with it, so the two can never cross.
    subscriptions: tokio::sync::Mutex<PubSubSink>,
    /// Channel and payload of frames to publish, in the order clients sent them.
    publish_queue: mpsc::Sender<(String, Vec<u8>)>,
}

impl Relay {
    /// Adds a client to `file`'s room, subscribing to the file's channel first when it is
    /// the room's first client. Returns the client's connection number.
    async fn join(&self, file: &str, client: Client) -> anyhow::Result<u32> {
        let mut subscriptions = self.subscriptions.lock().await;
        let id = self.next_connection.fetch_add(1, Ordering::Relaxed);
        let first = {
            let mut rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
            let room = rooms.entry(file.to_owned()).or_default();
            room.insert(id, client);
            room.len() == 1
        };
        if first && let Err(e) = subscriptions.subscribe(channel(file)).await {
            self.remove(file, id);
            return Err(e).with_context(|| format!("subscribing to {}", channel(file)));
        }
        Ok(id)
    }

    /// Removes a client; unsubscribes from the file's channel when it was the last one.
    async fn leave(&self, file: &str, id: u32) {
        let mut subscriptions = self.subscriptions.lock().await;
        if self.remove(file, id)
            && let Err(e) = subscriptions.unsubscribe(channel(file)).await
        {
            tracing::warn!("unsubscribing from {}: {e}", channel(file));
        }
    }

    /// Removes a client; true when its room is now empty (and gone).
    fn remove(&self, file: &str, id: u32) -> bool {
        let mut rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(room) = rooms.get_mut(file) else {
            return false;
        };
        room.remove(&id);
        if room.is_empty() {
            rooms.remove(file);
            true
        } else {
            false
        }
    }

    /// Queues `frame` for every local client of `file` but `except`.
    fn to_local(&self, file: &str, except: Option<u32>, frame: &Bytes) {
        let rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(room) = rooms.get(file) else { return };
        for (id, client) in room {
            if Some(*id) == except {
                continue;
            }
            if let Err(mpsc::error::TrySendError::Full(_)) = client.queue.try_send(frame.clone()) {
                client.overflow.notify_one();
            }
        }
    }

    /// Queues a client's frame for publishing on its file's channel, behind its origin.
    async fn publish(&self, file: &str, id: u32, frame: &[u8]) -> anyhow::Result<()> {
        let mut payload = Vec::with_capacity(8 + frame.len());
        payload.extend_from_slice(&self.instance.to_be_bytes());
        payload.extend_from_slice(&id.to_be_bytes());
        payload.extend_from_slice(frame);
        self.publish_queue
            .send((channel(file), payload))
            .await
            .context("the publishing task has stopped")
    }

    /// Forwards a message another instance published to the local clients of its file.
    fn deliver_remote(&self, channel_name: &str, payload: &[u8]) {
        let Some(file) = channel_name.strip_prefix(CHANNEL_PREFIX) else {
            return;
        };
        let Some((origin, frame)) = payload.split_first_chunk::<8>() else {
            tracing::warn!("{channel_name}: message shorter than its origin");
            return;
        };
        if origin[..4] == self.instance.to_be_bytes() {
            return;
        }
        self.to_local(file, None, &Bytes::copy_from_slice(frame));
    }
}

/// Publishes queued frames, everything queued meanwhile in one pipeline (one write, one
/// round trip), as a gateway batches when updates come fast.
async fn publish_batches(
    mut publisher: MultiplexedConnection,
    mut queue: mpsc::Receiver<(String, Vec<u8>)>,
) -> anyhow::Result<()> {
    let mut batch = Vec::with_capacity(PUBLISH_BATCH);
    while queue.recv_many(&mut batch, PUBLISH_BATCH).await > 0 {
        let mut pipe = redis::pipe();
        for (channel, payload) in batch.drain(..) {
            pipe.cmd("PUBLISH").arg(channel).arg(payload).ignore();
        }
        pipe.query_async::<()>(&mut publisher)
            .await
            .context("publishing to Redis")?;
    }
    Ok(())
}

/// A Redis client for `redis_url`, which must name a loopback address or a Unix socket.
pub(crate) fn loopback_redis(redis_url: &str) -> anyhow::Result<redis::Client> {
    let client = redis::Client::open(redis_url)
        .with_context(|| format!("--redis-url {redis_url:?} is not a Redis URL"))?;
    match client.get_connection_info().addr() {
        redis::ConnectionAddr::Tcp(host, _) if is_loopback(host) => Ok(client),
        redis::ConnectionAddr::Unix(_) => Ok(client),
        other => bail!("--redis-url {redis_url:?}: {other} is not a loopback address"),
    }
}

fn channel(file: &str) -> String {
    format!("{CHANNEL_PREFIX}{file}")
}

/// The file id of a request path `/doc/{file}` (the file may contain `/`).
pub(crate) fn file_of(path: &str) -> Option<&str> {
    path.strip_prefix(PATH_PREFIX).filter(|f| !f.is_empty())
}

/// One client connection: upgrade, join the file's room, relay until either side closes.
async fn serve_client(relay: Arc<Relay>, stream: TcpStream) -> anyhow::Result<()> {
    stream.set_nodelay(true).context("setting TCP_NODELAY")?;
    let mut file = None;
    // The refusal type is tungstenite's handshake callback contract, large or not.
    #[allow(clippy::result_large_err)]
    let check_path = |request: &Request, response: Response| match file_of(request.uri().path()) {
        Some(f) => {
            file = Some(f.to_owned());
            Ok(response)
        }
        None => {
            let mut refusal = ErrorResponse::new(Some(format!("use {PATH_PREFIX}{{file}}")));
            *refusal.status_mut() = StatusCode::NOT_FOUND;
            Err(refusal)
        }
    };
    // Small buffers, as the gateway's: an idle connection should cost little.
    let config = WebSocketConfig::default()
        .read_buffer_size(1024)
        .write_buffer_size(0)
        .max_message_size(Some(64 << 20))
        .max_write_buffer_size(64 << 20);
    let ws = tokio_tungstenite::accept_hdr_async_with_config(stream, check_path, Some(config))
        .await
        .context("WebSocket handshake")?;
    let file = file.context("handshake passed without a file")?;

    let (queue, mut outgoing) = mpsc::channel::<Bytes>(CLIENT_QUEUE);
    let overflow = Arc::new(Notify::new());
    let client = Client {
        queue: queue.clone(),
        overflow: overflow.clone(),
    };
    let id = relay.join(&file, client).await?;
    let (mut sink, mut incoming) = ws.split();

    // The writer ends when every sender of its queue is gone (the client left) or the
    // queue overflowed.
    let writer = tokio::spawn(async move {
        loop {
            tokio::select! {
                frame = outgoing.recv() => match frame {
                    Some(frame) => {
                        if sink.send(WsMessage::Binary(frame)).await.is_err() {
                            return;
                        }
                    }
                    None => break,
                },
                _ = overflow.notified() => {
                    let frame = CloseFrame {
                        code: CloseCode::Again,
                        reason: Utf8Bytes::from_static("slow consumer"),
                    };
                    let _ = sink.send(WsMessage::Close(Some(frame))).await;
                    return;
                }
            }
        }
        let _ = sink.close().await;
    });

    let result = async {
        while let Some(message) = incoming.next().await {
            match message.context("reading")? {
                WsMessage::Binary(frame) if frame.starts_with(&EMPTY_STEP1[..2]) => {
                    // Sync step 1: "synced" with an empty doc, and ask for theirs.
                    for reply in [EMPTY_STEP2, EMPTY_STEP1] {
                        queue
                            .send(Bytes::from_static(reply))
                            .await
                            .context("own queue closed")?;
                    }
                }
                WsMessage::Binary(frame) => {
                    relay.to_local(&file, Some(id), &frame);
                    relay.publish(&file, id, &frame).await?;
                }
                WsMessage::Close(_) => break,
                WsMessage::Text(_) | WsMessage::Ping(_) | WsMessage::Pong(_) => {}
                WsMessage::Frame(_) => {}
            }
        }
        anyhow::Ok(())
    }
    .await;

    relay.leave(&file, id).await;
    drop(queue);
    let _ = writer.await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_come_from_the_doc_path() {
        assert_eq!(file_of("/doc/a"), Some("a"));
        assert_eq!(file_of("/doc/load-1/7"), Some("load-1/7"));
        assert_eq!(file_of("/doc/"), None);
        assert_eq!(file_of("/other/a"), None);
        assert_eq!(channel("a/b"), "collab-floor:a/b");
    }
}
