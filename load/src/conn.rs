//! One plain y-websocket connection with no stats and no tracker: what the seeder, its
//! verifier and `undo-latency` use to talk to a gateway one message at a time (sync
//! handshake, send, receive, idle until a deadline, close).
//!
//! Its own module, not part of [`crate::seed`]: `undo-latency` drives connections like
//! these without seeding through them.

use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use collab_protocol::Message;
use collab_protocol::extension::Extension;
use collab_protocol::message::encode_step2;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use yrs::sync::SyncMessage;
use yrs::updates::decoder::Decode;
use yrs::{Doc, ReadTxn, Transact, Update};

use crate::client::{self, Ws};
use crate::framing::{Framing, Inbound};
use crate::target::FileUrl;

/// One plain connection of the seeder or verifier: no stats, no tracker.
pub struct Conn {
    ws: Ws,
    framing: Framing,
    file_id: String,
    url: String,
}

impl Conn {
    pub async fn open(framing: Framing, url: &FileUrl, file_id: &str) -> anyhow::Result<Conn> {
        let ws = client::open(url).await.map_err(|e| anyhow!("{url}: {e}"))?;
        let mut conn = Conn {
            ws,
            framing,
            file_id: file_id.to_owned(),
            url: url.shown().to_owned(),
        };
        for frame in framing.hello(file_id) {
            conn.send_frame(frame).await?;
        }
        Ok(conn)
    }

    pub async fn send_frame(&mut self, frame: Vec<u8>) -> anyhow::Result<()> {
        self.ws
            .send(WsMessage::Binary(frame.into()))
            .await
            .with_context(|| format!("{}: send failed", self.url))
    }

    /// Sends one y-websocket message.
    pub async fn send(&mut self, message: Vec<u8>) -> anyhow::Result<()> {
        let frame = self.framing.wrap(&self.file_id, message);
        self.send_frame(frame).await
    }

    /// The next y-websocket message from the gateway; a close or error ends the connection.
    pub async fn recv(&mut self) -> anyhow::Result<Message> {
        loop {
            let msg = match self.ws.next().await {
                Some(Ok(msg)) => msg,
                Some(Err(e)) => bail!("{}: read failed: {e}", self.url),
                None => bail!("{}: closed without a close frame", self.url),
            };
            match msg {
                WsMessage::Binary(bytes) => {
                    let inbound = self
                        .framing
                        .unwrap(&self.file_id, &bytes)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", self.url))?;
                    let payload = match inbound {
                        Inbound::Message(payload) => payload,
                        Inbound::Bookkeeping => continue,
                        Inbound::Closed(why) => bail!("{}: session closed: {why}", self.url),
                    };
                    let message = Message::decode(&payload)
                        .with_context(|| format!("{}: undecodable frame", self.url))?;
                    return Ok(message);
                }
                WsMessage::Close(frame) => bail!(
                    "{}: closed by the gateway: {}",
                    self.url,
                    frame.map_or("no code".to_owned(), |f| format!(
                        "code {} {:?}",
                        u16::from(f.code),
                        f.reason.as_str()
                    ))
                ),
                WsMessage::Text(_) | WsMessage::Ping(_) | WsMessage::Pong(_) => {}
                WsMessage::Frame(_) => {}
            }
        }
    }

    /// Refuses what the gateway may send that means it will not serve us.
    pub fn check(&self, message: &Message) -> anyhow::Result<()> {
        match message {
            Message::Auth(reason) => bail!("{}: permission denied: {reason}", self.url),
            Message::Extension(Extension::Error {
                code,
                reason,
                message,
            }) => bail!("{}: gateway error {code} {reason}: {message}", self.url),
            _ => Ok(()),
        }
    }

    /// Runs the sync handshake: our step 1, the gateway's step 1 answered, its step 2
    /// applied to `doc`.
    pub async fn sync(&mut self, doc: &Doc) -> anyhow::Result<()> {
        let step1 = Message::Sync(SyncMessage::SyncStep1(doc.transact().state_vector()));
        self.send(step1.encode()).await?;
        loop {
            let message = self.recv().await?;
            self.check(&message)?;
            match message {
                Message::Sync(SyncMessage::SyncStep1(sv)) => {
                    let diff = doc.transact().encode_state_as_update_v1(&sv);
                    self.send(encode_step2(&diff)).await?;
                }
                Message::Sync(SyncMessage::SyncStep2(update)) => {
                    let update = Update::decode_v1(&update)
                        .with_context(|| format!("{}: undecodable step 2", self.url))?;
                    doc.transact_mut()
                        .apply_update(update)
                        .with_context(|| format!("{}: step 2 did not apply", self.url))?;
                    return Ok(());
                }
                _ => {}
            }
        }
    }

    /// Reads (and drops) what the gateway sends until `due`; fails if it closes on us.
    pub async fn idle_until(&mut self, due: Instant) -> anyhow::Result<()> {
        let due = tokio::time::Instant::from_std(due);
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(due) => return Ok(()),
                message = self.recv() => self.check(&message?)?,
            }
        }
    }

    /// Sends a normal close and waits briefly for the reply.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            if self.ws.close(None).await.is_ok() {
                while let Some(Ok(msg)) = self.ws.next().await {
                    if matches!(msg, WsMessage::Close(_)) {
                        break;
                    }
                }
            }
        })
        .await;
    }
}
