//! Revocation of live `--auth redis` connections: the platform changes its records
//! directly in Redis (deletes or expires a session, moves a user to another sandbox,
//! removes or changes a membership), and every gateway notices within milliseconds.
//!
//! Each session registers its grant here once it joined its room ([`Revocations::register`];
//! the [`Registration`] it keeps deregisters it when dropped). One task per gateway
//! ([`Revocations::run`]) re-reads grants through [`Directory::recheck`] (two pipelined
//! round trips for the whole batch in the Redis engine) on two occasions:
//!
//! - **a change announced by the engine** ([`ChangeFeed`]: in Redis, a `CLIENT TRACKING`
//!   invalidation push, or a cached record reaching its TTL): only the grants that read
//!   the changed record (that session, that user, that sandbox's members) are re-read, at
//!   once: a revocation lands within a few milliseconds on every gateway;
//! - **the sweep**, every distinct `(token, sandbox)` among the live grants once per
//!   period: the backstop. While changes are announced it runs every 30 s by default
//!   ([`Periods::tracked`]); while they are not (tracking off, a Redis that refuses it,
//!   its connection down) every 2 s ([`Periods::untracked`]), so revocation still lands
//!   within 2 s plus a round trip. Losing or regaining the feed re-reads everything at once.
//!
//! What a re-read changes:
//!
//! - the session is gone (deleted, expired) or names another user: close 4401
//!   `session-revoked`;
//! - the user may no longer open the sandbox (moved to another one, membership removed):
//!   close 4403 `access-revoked`;
//! - `rw` became `ro` or back: the room is told ([`AccessSwitch`]); the connection stays
//!   open and its later edits follow the new access (dropped with the `read-only` error).
//!
//! A failed re-read changes nothing: a Redis blip never disconnects anyone; a sweep
//! follows within a second (or the untracked period, if shorter), so a change announced
//! while the read failed is not lost. The cost:
//! an idle grant costs nothing but the sweep, at most six Redis commands per distinct
//! `(token, sandbox)` per 30 s (the three reads and their `PTTL`s, which the cache needs):
//! 12 a minute, against 90 a minute for the 2 s sweep alone (which is what tracking off
//! costs). A change costs one re-read of the grants it touches.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use collab_protocol::close;

use super::grant::{Refusal, Token};
use super::redis::decide;
use super::{Access, Principal};
use crate::engine::{Change, ChangeFeed, Directory, EngineError, Rechecked, Record};
use crate::outbox::Outbox;
use crate::rooms::AccessSwitch;
use collab_room_core::close::CloseReason;

/// The live `--auth redis` grants of this gateway and the directory that re-reads them.
pub struct Revocations {
    directory: Arc<dyn Directory>,
    live: Mutex<HashMap<u64, Live>>,
    next: AtomicU64,
}

/// One live connection's grant, and how to act on the connection.
struct Live {
    token: Token,
    sandbox: String,
    user: Arc<str>,
    access: Access,
    outbox: Outbox,
    switch: AccessSwitch,
}

/// Keeps a connection's grant under watch; dropping it stops the watch.
pub struct Registration {
    registry: Arc<Revocations>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
    }
}

/// What one round changed, by kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    /// Distinct `(token, sandbox)` re-read.
    pub checked: usize,
    /// Connections closed with 4401 `session-revoked`.
    pub sessions: usize,
    /// Connections closed with 4403 `access-revoked`.
    pub access: usize,
    /// Connections made read-only.
    pub downgrades: usize,
    /// Connections made read-write.
    pub upgrades: usize,
}

/// The longest wait for the next sweep after a failed re-read.
const RETRY: Duration = Duration::from_secs(1);

/// How often the sweep re-reads every live grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Periods {
    /// While the engine announces changes (its feed is live): the backstop.
    pub tracked: Duration,
    /// While it does not: the only way revocations are seen.
    pub untracked: Duration,
}

/// What a re-read grant means for its connections.
enum Verdict {
    Keep(Access),
    SessionRevoked,
    AccessRevoked,
}

impl Revocations {
    pub fn new(directory: Arc<dyn Directory>) -> Arc<Revocations> {
        Arc::new(Revocations {
            directory,
            live: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Live>> {
        self.live
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Watches the grant of a connection that joined its room: `token` opened a file of
    /// `sandbox` as `principal`; `outbox` closes the connection, `switch` changes its access.
    pub fn register(
        self: &Arc<Self>,
        token: Token,
        sandbox: &str,
        principal: &Principal,
        outbox: Outbox,
        switch: AccessSwitch,
    ) -> Registration {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let live = Live {
            token,
            sandbox: sandbox.to_owned(),
            user: principal.user.clone(),
            access: principal.access,
            outbox,
            switch,
        };
        self.lock().insert(id, live);
        Registration {
            registry: self.clone(),
            id,
        }
    }

    /// Live grants under watch.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Re-reads grants forever: those touched by each change `changes` announces, at once,
    /// and all of them every period of `periods` (the tracked one while `changes` is live).
    pub async fn run(self: Arc<Self>, changes: Option<ChangeFeed>, periods: Periods) {
        let live = |feed: &Option<ChangeFeed>| feed.as_ref().is_some_and(ChangeFeed::is_live);
        let mut next_sweep = Instant::now();
        loop {
            let announced = async {
                match &changes {
                    Some(feed) => feed.next().await,
                    None => std::future::pending().await,
                }
            };
            let (what, result) = tokio::select! {
                _ = tokio::time::sleep_until(next_sweep) => ("sweep", self.revalidate().await),
                change = announced => match change {
                    Change::All => ("everything changed", self.revalidate().await),
                    Change::Records(records) => ("changed records", self.revalidate_touching(&records).await),
                },
            };
            let period = if live(&changes) {
                periods.tracked
            } else {
                periods.untracked
            };
            match result {
                Ok(round) if what != "changed records" => {
                    next_sweep = Instant::now() + period;
                    if round != Round::default() {
                        tracing::debug!(?round, what, "revalidated live grants");
                    }
                }
                Ok(round) => {
                    // The sweep may not come later than its period from now.
                    next_sweep = next_sweep.min(Instant::now() + period);
                    if round != Round::default() {
                        tracing::debug!(?round, what, "revalidated live grants");
                    }
                }
                Err(error) => {
                    // What was announced is not lost: a sweep follows soon.
                    next_sweep = Instant::now() + periods.untracked.min(RETRY);
                    tracing::warn!(%error, what, "revalidating live grants failed; nothing changed")
                }
            }
        }
    }

    /// Re-reads the grants that read one of `records` (their session, user or members).
    pub async fn revalidate_touching(
        &self,
        records: &HashSet<Record>,
    ) -> Result<Round, EngineError> {
        self.revalidate_where(|grant| {
            records.contains(&Record::Session(grant.token.expose().to_owned()))
                || records.contains(&Record::User(grant.user.to_string()))
                || records.contains(&Record::Members(grant.sandbox.clone()))
        })
        .await
    }

    /// One round: each distinct `(token, sandbox)` re-read once, the differences applied.
    /// On an error nothing changes.
    pub async fn revalidate(&self) -> Result<Round, EngineError> {
        self.revalidate_where(|_| true).await
    }

    /// One round over the grants `wanted` picks.
    async fn revalidate_where(&self, wanted: impl Fn(&Live) -> bool) -> Result<Round, EngineError> {
        let asks: Vec<(String, String)> = {
            let live = self.lock();
            let distinct: BTreeSet<(&str, &str)> = live
                .values()
                .filter(|grant| wanted(grant))
                .map(|grant| (grant.token.expose(), grant.sandbox.as_str()))
                .collect();
            distinct
                .into_iter()
                .map(|(token, sandbox)| (token.to_owned(), sandbox.to_owned()))
                .collect()
        };
        let mut round = Round {
            checked: asks.len(),
            ..Round::default()
        };
        if asks.is_empty() {
            return Ok(round);
        }
        let answers = self.directory.recheck(&asks).await?;
        let now: HashMap<(String, String), Rechecked> = asks.into_iter().zip(answers).collect();
        let mut live = self.lock();
        let mut gone = Vec::new();
        for (id, grant) in live.iter_mut() {
            // A grant registered after the read is checked next round.
            let key = (grant.token.expose().to_owned(), grant.sandbox.clone());
            let Some(answer) = now.get(&key) else {
                continue;
            };
            match verdict(answer, grant) {
                Verdict::Keep(access) if access == grant.access => {}
                Verdict::Keep(access) => {
                    grant.access = access;
                    grant.switch.set(access);
                    let kind = match access {
                        Access::ReadOnly => "downgrade",
                        Access::ReadWrite => "upgrade",
                    };
                    *match access {
                        Access::ReadOnly => &mut round.downgrades,
                        Access::ReadWrite => &mut round.upgrades,
                    } += 1;
                    crate::metrics::revocation(kind);
                    tracing::info!(
                        user = &*grant.user,
                        kind,
                        "a live connection's access changed"
                    );
                }
                Verdict::SessionRevoked => {
                    round.sessions += 1;
                    gone.push(*id);
                    revoke(grant, close::UNAUTHENTICATED, "session-revoked");
                }
                Verdict::AccessRevoked => {
                    round.access += 1;
                    gone.push(*id);
                    revoke(grant, close::FORBIDDEN, "access-revoked");
                }
            }
        }
        for id in gone {
            live.remove(&id);
        }
        Ok(round)
    }
}

/// What the re-read `answer` (the session's user and standing, or none) means for `grant`.
fn verdict(answer: &Rechecked, grant: &Live) -> Verdict {
    match answer {
        None => Verdict::SessionRevoked,
        Some((user, _)) if **user != *grant.user => Verdict::SessionRevoked,
        Some((_, standing)) => match decide(standing, &grant.sandbox) {
            Ok(access) => Verdict::Keep(access),
            Err(Refusal::Forbidden(_)) => Verdict::AccessRevoked,
            // `decide` refuses nothing else; should it ever, keep the connection.
            Err(_) => Verdict::Keep(grant.access),
        },
    }
}

/// Closes a revoked connection with `code` and `reason` (extension error, then close frame).
fn revoke(grant: &Live, code: u16, reason: &'static str) {
    let kind = if code == close::UNAUTHENTICATED {
        "session"
    } else {
        "access"
    };
    crate::metrics::revocation(kind);
    tracing::info!(
        user = &*grant.user,
        reason,
        "closing a live connection: its grant was revoked"
    );
    let message = match kind {
        "session" => "the session was revoked or expired; sign in again",
        _ => "access to this sandbox was withdrawn",
    };
    grant
        .outbox
        .close(CloseReason::error(code, reason, message));
}

#[cfg(test)]
#[path = "revocation_tests.rs"]
mod tests;
