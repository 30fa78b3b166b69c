//! A reconnecting editor: a [`Client`] that keeps typing [`tokens`](crate::tokens) and
//! reconnects when its connection ends, the way y-websocket's `WebsocketProvider` does.
//!
//! The stock client lets the user type while offline (edits stay in the doc), and after a
//! close waits `min(100 ms × 2^failures, 2.5 s)` before it tries again, `failures` being
//! reset when a connection opens. It re-sends its state vector on every connection and
//! uploads what the gateway lacks. [`Editor`] does the same, either to its own URL (a
//! client pointed at one gateway) or to any gateway of a list (a client behind a load
//! balancer). It records every close code it saw, so a test can assert what users saw.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::client::Client;
use crate::tokens::Ledger;

/// y-websocket's first reconnect delay unit and its cap.
const BACKOFF_UNIT: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_millis(2500);
/// How long one connection attempt may take (a refused port fails at once).
const CONNECT_DEADLINE: Duration = Duration::from_secs(5);

/// Where an editor goes after a close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconnect {
    /// Back to the URL it started on (a stock client pointed at one gateway).
    SameUrl,
    /// To a random URL of the list (a stock client behind a load balancer).
    AnyGateway,
}

/// How an editor types.
#[derive(Debug, Clone, Copy)]
pub struct EditorOptions {
    /// Pause between two edits, drawn uniformly from this range (milliseconds).
    pub pause_ms: (u64, u64),
    /// Share of edits that delete one of the editor's own tokens.
    pub delete_ratio: f64,
    pub reconnect: Reconnect,
}

impl Default for EditorOptions {
    fn default() -> Self {
        EditorOptions {
            pause_ms: (2, 30),
            delete_ratio: 0.25,
            reconnect: Reconnect::AnyGateway,
        }
    }
}

/// One editor: its client, its tokens, and what its connections went through.
pub struct Editor {
    pub client: Client,
    pub ledger: Ledger,
    /// Close code and reason of every connection of this editor that ended.
    pub closes: Vec<(u16, String)>,
    /// Connections opened after the first.
    pub reconnects: usize,
    /// Connection attempts that failed (gateway down).
    pub failed_attempts: usize,
    urls: Vec<String>,
    home: usize,
    options: EditorOptions,
    rng: StdRng,
    online: bool,
    failures: u32,
    next_attempt: Instant,
}

impl Editor {
    /// Connects editor `name` to `urls[home]` and waits until it is synced. `name` owns
    /// the editor's tokens (unique per document); `seed` drives its choices.
    pub async fn join(
        name: &str,
        urls: Vec<String>,
        home: usize,
        seed: u64,
        options: EditorOptions,
    ) -> Result<Editor> {
        let client = Client::connect_synced(&urls[home], crate::DEADLINE)
            .await
            .with_context(|| format!("editor {name} joins {}", urls[home]))?;
        Ok(Editor {
            client,
            ledger: Ledger::new(name),
            closes: Vec::new(),
            reconnects: 0,
            failed_attempts: 0,
            urls,
            home,
            options,
            rng: StdRng::seed_from_u64(seed),
            online: true,
            failures: 0,
            next_attempt: Instant::now(),
        })
    }

    /// Types until `stop` turns true (or its sender goes away), reconnecting as needed.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) -> Result<Editor> {
        loop {
            if *stop.borrow() {
                return Ok(self);
            }
            self.tend_connection().await;
            self.edit_once()?;
            let (lo, hi) = self.options.pause_ms;
            let pause = Duration::from_millis(self.rng.random_range(lo..=hi));
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                _ = stop.wait_for(|stop| *stop) => return Ok(self),
            }
        }
    }

    /// Makes one edit (also while offline: it is uploaded on the next connection).
    pub fn edit_once(&mut self) -> Result<()> {
        let Editor {
            client,
            ledger,
            rng,
            options,
            ..
        } = self;
        client
            .edit_by_text(|text| ledger.next_edit(text, rng, options.delete_ratio))
            .context("a token edit fits the text")
    }

    /// Notices a closed connection and, when the backoff allows, connects again.
    async fn tend_connection(&mut self) {
        if self.online
            && let Some(code) = self.client.closed_with()
        {
            self.closes.push((code, self.client.close_reason()));
            self.online = false;
            self.schedule_retry();
        }
        if self.online || Instant::now() < self.next_attempt {
            return;
        }
        let url = match self.options.reconnect {
            Reconnect::SameUrl => self.urls[self.home].clone(),
            Reconnect::AnyGateway => self.urls[self.rng.random_range(0..self.urls.len())].clone(),
        };
        match tokio::time::timeout(CONNECT_DEADLINE, self.client.reconnect(&url)).await {
            Ok(Ok(())) => {
                self.online = true;
                self.failures = 0;
                self.reconnects += 1;
            }
            _ => {
                self.failed_attempts += 1;
                self.schedule_retry();
            }
        }
    }

    fn schedule_retry(&mut self) {
        self.failures = self.failures.saturating_add(1);
        let delay = BACKOFF_UNIT
            .saturating_mul(1u32 << self.failures.min(6))
            .min(BACKOFF_MAX);
        self.next_attempt = Instant::now() + delay;
    }

    /// After the typing: reconnects until a connection is open and synced, within `within`.
    pub async fn settle(&mut self, within: Duration) -> Result<()> {
        let deadline = Instant::now() + within;
        loop {
            self.tend_connection().await;
            let left = deadline.saturating_duration_since(Instant::now());
            if self.online {
                let _ = self
                    .client
                    .wait_for(|c| c.is_synced() || c.closed_with().is_some(), left)
                    .await;
                if self.client.is_synced() && self.client.closed_with().is_none() {
                    return Ok(());
                }
            } else {
                // The stock client's backoff, not a guess at how long something takes.
                let wait = self.next_attempt.saturating_duration_since(Instant::now());
                tokio::time::sleep(wait.min(left)).await;
            }
            if Instant::now() >= deadline {
                bail!(
                    "editor could not get a synced connection within {within:?} (last close \
                     {:?}, {} failed attempts)",
                    self.closes.last(),
                    self.failed_attempts
                );
            }
        }
    }
}
