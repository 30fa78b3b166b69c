//! Server-assisted client-side caching: one RESP3 connection per gateway with `CLIENT
//! TRACKING ON BCAST PREFIX session: PREFIX user: PREFIX sandbox:`, whose invalidation
//! pushes keep the [`IdentityCache`] coherent and tell access control, through the
//! [`ChangeFeed`], which records changed, within milliseconds of the change.
//!
//! Why broadcasting mode rather than the default (where Redis remembers every key each
//! client read and invalidates only those):
//! - the reads stay on the gateway's shared command connection (RESP2, pipelined with the
//!   rest); default mode would need every identity read to go through the tracking
//!   connection, or `REDIRECT` and a second connection anyway;
//! - Redis keeps no per-key tracking table for us: in default mode every token a client
//!   presents, unknown ones included, would stay in Redis's table (up to
//!   `tracking-table-max-keys`, a million by default) until evicted, so a flood of bad
//!   tokens would cost Redis memory, not just one lookup each;
//! - the price: every change under the three prefixes reaches every gateway, also for
//!   records it never read (a session created for someone connected elsewhere). A push is
//!   a few dozen bytes and a hash lookup here; the platform writes these records at human
//!   rates (logins, shares), far below what one connection carries.
//!
//! The connection's life: connect, `CLIENT TRACKING ON ...`, then the cache is armed and
//! the feed live. A `null` invalidation (`FLUSHALL`) flushes the cache and says
//! [`crate::engine::Change::All`]. When the connection drops (`CLIENT KILL`, a restart, a
//! `PING` unanswered for [`PING_TIMEOUT`]), the cache is disarmed and emptied at once,
//! since invalidations sent while nobody listened are lost, the feed stops being live
//! (access control falls back to its frequent sweep), and the connection is made again
//! with backoff; arming it again flushes and says `All` once more. A Redis that refuses
//! RESP3 or `CLIENT TRACKING` (older than 6, or a proxy) leaves the feed not live and is
//! asked again every [`UNSUPPORTED_RETRY`]: the gateway degrades to the sweep, it never
//! fails for it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ProtocolVersion, PushInfo, PushKind, Value};
use tokio::sync::mpsc;

use super::cache::IdentityCache;
use crate::engine::changes::{ChangeFeed, Record};

/// The prefixes of the identity records (fixed names, written by the platform).
pub const PREFIXES: [&str; 3] = ["session:", "user:", "sandbox:"];
/// How often the tracking connection is pinged to notice a silent loss.
const PING_EVERY: Duration = Duration::from_secs(5);
const PING_TIMEOUT: Duration = Duration::from_secs(3);
/// How often cached deadlines are checked.
const DEADLINES_EVERY: Duration = Duration::from_millis(200);
/// The first attempt's wait before the gateway starts serving without tracking.
pub const FIRST_ATTEMPT: Duration = Duration::from_secs(5);
const UNSUPPORTED_RETRY: Duration = Duration::from_secs(60);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Why a connection attempt failed.
enum Failure {
    /// Redis could not be reached or the connection broke: try again soon.
    Transient(redis::RedisError),
    /// Redis answered, but no: no RESP3 or no `CLIENT TRACKING`.
    Unsupported(redis::RedisError),
}

/// The record a tracked key names, if it is one the gateway reads.
pub fn record_of(key: &str) -> Option<Record> {
    if let Some(token) = key.strip_prefix("session:") {
        return Some(Record::Session(token.to_owned()));
    }
    if let Some(user) = key.strip_prefix("user:") {
        return Some(Record::User(user.to_owned()));
    }
    let sandbox = key.strip_prefix("sandbox:")?.strip_suffix(":members")?;
    Some(Record::Members(sandbox.to_owned()))
}

/// Applies one push to the cache and the feed, on the connection's driver (never blocks).
fn on_push(push: &PushInfo, cache: &IdentityCache, feed: &ChangeFeed) {
    if push.kind != PushKind::Invalidate {
        return;
    }
    match push.data.first() {
        Some(Value::Array(keys)) => {
            for key in keys {
                let Ok(key) = redis::from_redis_value_ref::<String>(key) else {
                    continue;
                };
                cache.invalidate(&key);
                if let Some(record) = record_of(&key) {
                    feed.changed(record);
                }
            }
        }
        // FLUSHALL / FLUSHDB: a null instead of keys.
        Some(Value::Nil) | None => {
            cache.flush();
            feed.everything_changed();
        }
        Some(_) => {}
    }
}

/// Makes the tracking connection and keeps it, forever: see the module comment. Returns
/// once the first attempt is over (tracking on, or known to be unavailable for now) with
/// the task that keeps it.
pub async fn start(
    client: redis::Client,
    cache: Arc<IdentityCache>,
    feed: ChangeFeed,
) -> tokio::task::JoinHandle<()> {
    let (first_tx, first_rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(keep(client, cache, feed, first_tx));
    let _ = tokio::time::timeout(FIRST_ATTEMPT, first_rx).await;
    task
}

async fn keep(
    client: redis::Client,
    cache: Arc<IdentityCache>,
    feed: ChangeFeed,
    first: tokio::sync::oneshot::Sender<()>,
) {
    let mut first = Some(first);
    let mut backoff = Duration::from_millis(100);
    let mut warned = false;
    loop {
        let (lost_tx, mut lost_rx) = mpsc::unbounded_channel::<()>();
        match connect(&client, &cache, &feed, lost_tx).await {
            Ok(conn) => {
                cache.arm();
                feed.set_live(true);
                crate::metrics::tracking(true);
                tracing::info!("identity tracking on: revocations arrive as Redis pushes");
                if let Some(first) = first.take() {
                    let _ = first.send(());
                }
                backoff = Duration::from_millis(100);
                warned = false;
                serve(conn, &cache, &feed, &mut lost_rx).await;
                cache.disarm();
                feed.set_live(false);
                crate::metrics::tracking(false);
                tracing::warn!(
                    "identity tracking connection lost: cache flushed, sweeping at the untracked period until it is back"
                );
            }
            Err(Failure::Unsupported(error)) => {
                if !warned {
                    tracing::warn!(
                        %error,
                        "Redis refuses RESP3 client tracking: revocation falls back to the periodic sweep"
                    );
                    warned = true;
                }
                if let Some(first) = first.take() {
                    let _ = first.send(());
                }
                tokio::time::sleep(UNSUPPORTED_RETRY).await;
                continue;
            }
            Err(Failure::Transient(error)) => {
                tracing::debug!(%error, "identity tracking connection not made; retrying");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One tracking connection: RESP3 with pushes handled on the driver, then `CLIENT TRACKING`.
async fn connect(
    client: &redis::Client,
    cache: &Arc<IdentityCache>,
    feed: &ChangeFeed,
    lost: mpsc::UnboundedSender<()>,
) -> Result<MultiplexedConnection, Failure> {
    let info = client.get_connection_info().clone();
    let settings = info
        .redis_settings()
        .clone()
        .set_protocol(ProtocolVersion::RESP3);
    let resp3 =
        redis::Client::open(info.set_redis_settings(settings)).map_err(Failure::Unsupported)?;
    let (push_cache, push_feed) = (cache.clone(), feed.clone());
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_response_timeout(Some(PING_TIMEOUT))
        .set_push_sender(move |push: PushInfo| {
            if push.kind == PushKind::Disconnection {
                // Stop serving at once: what changes from now on is not announced.
                push_cache.disarm();
                let _ = lost.send(());
            } else {
                on_push(&push, &push_cache, &push_feed);
            }
            Ok::<(), ()>(())
        });
    let mut conn = resp3
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(classify)?;
    let mut tracking = redis::cmd("CLIENT");
    tracking.arg("TRACKING").arg("ON").arg("BCAST");
    for prefix in PREFIXES {
        tracking.arg("PREFIX").arg(prefix);
    }
    tracking
        .query_async::<()>(&mut conn)
        .await
        .map_err(classify)?;
    Ok(conn)
}

fn classify(error: redis::RedisError) -> Failure {
    if error.is_io_error()
        || error.is_timeout()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
    {
        Failure::Transient(error)
    } else {
        Failure::Unsupported(error)
    }
}

/// Serves one connection until it is lost: pings it, and hands back cached keys whose
/// deadline passed as changes.
async fn serve(
    mut conn: MultiplexedConnection,
    cache: &IdentityCache,
    feed: &ChangeFeed,
    lost: &mut mpsc::UnboundedReceiver<()>,
) {
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut deadlines = tokio::time::interval(DEADLINES_EVERY);
    loop {
        tokio::select! {
            _ = lost.recv() => return,
            _ = ping.tick() => {
                let answered = redis::cmd("PING").query_async::<String>(&mut conn).await;
                if answered.is_err() {
                    return;
                }
            }
            _ = deadlines.tick() => {
                for key in cache.expire_due(Instant::now()) {
                    if let Some(record) = record_of(&key) {
                        feed.changed(record);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_records() {
        assert_eq!(
            record_of("session:t0k"),
            Some(Record::Session("t0k".into()))
        );
        assert_eq!(record_of("user:123"), Some(Record::User("123".into())));
        assert_eq!(
            record_of("sandbox:lxc-1:members"),
            Some(Record::Members("lxc-1".into()))
        );
        assert_eq!(record_of("sandbox:lxc-1:other"), None);
        assert_eq!(record_of("collab:{sb1/a}:log"), None);
    }

    #[test]
    fn pushes_invalidate_and_announce() {
        let cache = IdentityCache::new();
        cache.arm();
        let feed = ChangeFeed::new();
        let bulk = |s: &str| Value::BulkString(s.as_bytes().to_vec());
        assert!(cache.insert(cache.ticket(), "user:u1", "", bulk("x"), -1));
        let push = PushInfo {
            kind: PushKind::Invalidate,
            data: vec![Value::Array(vec![
                bulk("user:u1"),
                bulk("sandbox:sb1:members"),
            ])],
        };
        on_push(&push, &cache, &feed);
        assert!(cache.is_empty());
        let Some(crate::engine::Change::Records(records)) = feed.take() else {
            panic!("records expected");
        };
        assert!(records.contains(&Record::User("u1".into())));
        assert!(records.contains(&Record::Members("sb1".into())));
        assert!(cache.insert(cache.ticket(), "user:u2", "", bulk("y"), -1));
        let flush = PushInfo {
            kind: PushKind::Invalidate,
            data: vec![Value::Nil],
        };
        on_push(&flush, &cache, &feed);
        assert!(cache.is_empty());
        assert_eq!(feed.take(), Some(crate::engine::Change::All));
    }
}
