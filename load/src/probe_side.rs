//! One side of a latency probe (`undo-latency`, `diag-latency`): a connection with a full
//! replica of the file, which applies every update it receives and hands extension
//! messages to what the probe listens for ([`Hears`]).

use std::time::Duration;

use anyhow::Context;
use collab_protocol::Message;
use collab_protocol::extension::Extension;
use collab_protocol::message::encode_step2;
use yrs::sync::SyncMessage;
use yrs::updates::decoder::Decode;
use yrs::{Doc, GetString, ReadTxn, Text, TextRef, Transact, Update};

use crate::client;
use crate::conn::Conn;
use crate::framing::Framing;
use crate::target::FileUrl;

/// What a probe records of the extension messages one side receives.
pub trait Hears {
    fn hear(&mut self, message: Extension);
}

pub struct Side<H> {
    pub conn: Conn,
    pub doc: Doc,
    pub text: TextRef,
    pub heard: H,
}

impl<H: Hears> Side<H> {
    /// Opens a connection and syncs, keeping what arrives before the sync reply (a
    /// joiner's extension messages may come first).
    pub async fn open(
        framing: Framing,
        url: &FileUrl,
        file: &str,
        heard: H,
    ) -> anyhow::Result<Self> {
        let (doc, text) = client::new_doc(rand::random::<u32>().max(1));
        let conn = Conn::open(framing, url, file).await?;
        let mut side = Side {
            conn,
            doc,
            text,
            heard,
        };
        let step1 = Message::Sync(SyncMessage::SyncStep1(side.doc.transact().state_vector()));
        side.conn.send(step1.encode()).await?;
        loop {
            let message = side.conn.recv().await?;
            side.conn.check(&message)?;
            match message {
                Message::Sync(SyncMessage::SyncStep1(sv)) => {
                    let diff = side.doc.transact().encode_state_as_update_v1(&sv);
                    side.conn.send(encode_step2(&diff)).await?;
                }
                m @ Message::Sync(SyncMessage::SyncStep2(_)) => {
                    side.apply(m)?;
                    return Ok(side);
                }
                other => side.apply(other)?,
            }
        }
    }

    /// The text's length in UTF-16 units.
    pub fn len(&self) -> u32 {
        self.text.len(&self.doc.transact())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn string(&self) -> String {
        self.text.get_string(&self.doc.transact())
    }

    /// Applies one message from the gateway.
    pub fn apply(&mut self, message: Message) -> anyhow::Result<()> {
        self.conn.check(&message)?;
        match message {
            Message::Sync(SyncMessage::SyncStep2(u) | SyncMessage::Update(u)) => {
                let update = Update::decode_v1(&u).context("undecodable update")?;
                self.doc
                    .transact_mut()
                    .apply_update(update)
                    .context("update did not apply")?;
            }
            Message::Extension(extension) => self.heard.hear(extension),
            _ => {}
        }
        Ok(())
    }

    /// Reads and applies until `done` holds; fails after `timeout`.
    pub async fn until(
        &mut self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&Self) -> bool,
    ) -> anyhow::Result<()> {
        tokio::time::timeout(timeout, async {
            while !done(self) {
                let message = self.conn.recv().await?;
                self.apply(message)?;
            }
            anyhow::Ok(())
        })
        .await
        .map_err(|_| anyhow::anyhow!("{what}: nothing after {timeout:?}"))?
    }

    /// Reads and applies for `wait`.
    pub async fn settle(&mut self, wait: Duration) -> anyhow::Result<()> {
        let due = tokio::time::Instant::now() + wait;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(due) => return Ok(()),
                message = self.conn.recv() => self.apply(message?)?,
            }
        }
    }
}
