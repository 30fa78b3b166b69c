//! The single-Redis engine: a file's log and snapshot are a stream and a hash, its
//! channel a pub/sub channel, all on one Redis server (or a primary with replicas).
//!
//! - [`conn`]: what those parts need of a connection, so that each also serves the
//!   cluster engine ([`crate::engine::cluster`]) unchanged.
//! - [`store`]: [`RedisStore`](store::RedisStore), the log and snapshot, over the
//!   gateway's one command connection; `scripts` are its Lua, `value` parses replies.
//! - [`bus`]: [`RedisBus`](bus::RedisBus), the subscription connection (RESP3) shared by
//!   all rooms, plus heartbeats; [`router`] hands pushes to rooms, [`liveness`] tracks
//!   other gateways.
//! - [`directory`]: [`RedisDirectory`](directory::RedisDirectory), the platform's
//!   identity records (`session:{token}`, `user:{id}`, `sandbox:{sid}:members`), read
//!   through [`cache`], which [`tracking`] keeps coherent with `CLIENT TRACKING`
//!   invalidation pushes (also announced as [`ChangeFeed`] changes to revocation).
//!
//! - [`diag_cache`]: [`RedisDiagnostics`](diag_cache::RedisDiagnostics), cached markers
//!   in one hash per file (`diag_scripts` are its Lua).
//! - [`file_state`]: [`RedisFileState`](file_state::RedisFileState), the file's source
//!   record and write lease (`collab:{F}:file`) and the seed-once script.
//! - [`identity_admin`]: [`RedisIdentityAdmin`](identity_admin::RedisIdentityAdmin), the
//!   admin API's writes of sessions, users and sandbox members.
//! - [`readiness`]: `/readyz` on one Redis (subscription up, `PING` answered).
//! - [`version`]: the oldest Redis these commands run on (6.2), checked before connecting.
//!
//! [`connect`] builds every part: the store, the directory, the identity writes and the
//! bus's publishing share one multiplexed connection; the bus's subscriptions have their
//! own, and so does identity tracking.

#[cfg(test)]
mod append_bench;
pub mod bus;
pub mod cache;
pub mod conn;
pub mod diag_cache;
mod diag_scripts;
pub mod directory;
pub mod file_state;
pub mod identity_admin;
pub mod liveness;
pub mod readiness;
pub mod router;
mod scripts;
pub mod store;
pub mod tracking;
#[cfg(test)]
mod undo_lists_tests;
mod value;
pub mod version;

use std::sync::Arc;
use std::time::Duration;

use collab_protocol::Keys;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::Engine;
use super::changes::ChangeFeed;
use super::error::EngineError;
use collab_room_core::ext::diagnostics::DiagPolicy;
use collab_room_core::ext::undo::UndoPolicy;

/// Connects to the Redis at `url`, starts the bus (subscription, heartbeats, sweep of
/// silent gateways) and returns the engine whose store and bus rooms use, and whose
/// directory access control reads. With `tracking`, identity reads are cached and
/// changes announced through [`tracking`] (waiting up to [`tracking::FIRST_ATTEMPT`] for
/// Redis to confirm it; a Redis that cannot track leaves the feed not live).
pub async fn connect(
    url: &str,
    keys: Keys,
    gateway_id: String,
    gateway_timeout: Duration,
    undo: UndoPolicy,
    diag: DiagPolicy,
    tracking: bool,
) -> Result<Engine, EngineError> {
    let client = conn::client(url)?;
    let commands = ConnectionManager::new_with_config(
        client.clone(),
        ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(10)))
            .set_max_delay(Duration::from_secs(2)),
    )
    .await?;
    let store = store::RedisStore::new(commands.clone(), keys.clone(), gateway_id.clone(), undo);
    let identity_cache = Arc::new(cache::IdentityCache::new());
    let directory = directory::RedisDirectory::new(commands.clone(), identity_cache.clone());
    let identity_admin = identity_admin::RedisIdentityAdmin::new(commands.clone());
    let diagnostics =
        diag_cache::RedisDiagnostics::new(commands.clone(), keys.clone(), gateway_id.clone(), diag);
    let files = file_state::RedisFileState::new(commands.clone(), keys.clone(), gateway_id.clone());
    let (router, resubscribe) =
        bus::router::<ConnectionManager>(&keys, &gateway_id, gateway_timeout);
    let sub = bus::subscriber(&client, router.clone(), &keys).await?;
    let readiness = readiness::RedisReadiness {
        router: router.clone(),
        conn: commands.clone(),
    };
    let (bus, mut tasks) =
        bus::RedisBus::start(router, resubscribe, sub, commands, keys, gateway_id);
    let changes = if tracking {
        let feed = ChangeFeed::new();
        tasks.push(tracking::start(client, identity_cache, feed.clone()).await);
        Some(feed)
    } else {
        None
    };
    Ok(Engine::new(
        Arc::new(store),
        Arc::new(bus),
        Arc::new(directory),
        Arc::new(identity_admin),
        Arc::new(diagnostics),
        Arc::new(readiness),
        tasks,
    )
    .with_changes(changes)
    .with_files(Arc::new(files)))
}
