//! A gateway's lifecycle: connect (engine, rooms, shared state), serve until SIGTERM or
//! Ctrl-C, then drain: close every client with 1012 and wait for accepted updates to be
//! stored, within the drain deadline, before saying goodbye to the other gateways.

use std::sync::Arc;

use collab_protocol::Keys;
use collab_protocol::envelope::is_valid_gateway_id;
use dashmap::DashMap;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::access::Authority;
use crate::access::revocation::{Periods, Revocations};
use crate::census::Census;
use crate::config::{Config, EngineKind};
use crate::embedded_redis::EmbeddedRedis;
use crate::engine::Engine;
use crate::engine::cluster;
use crate::engine::memory::MemoryServer;
use crate::engine::redis::version::{self, RedisVersion, VersionError};
use crate::pending::PendingAppends;
use crate::room::RoomContext;
use crate::rooms::Rooms;
use crate::state::{AppState, SessionCount};

/// A running gateway's parts that must live as long as it serves.
pub struct Gateway {
    pub state: Arc<AppState>,
    pub shutdown: watch::Sender<bool>,
    /// Holds the engine's background tasks (heartbeats, subscriptions) alive.
    _engine: Engine,
    _metrics_upkeep: tokio::task::JoinHandle<()>,
    /// Under `--auth redis`: the task that re-reads live grants (on announced changes and
    /// by the sweep).
    _revalidation: Option<tokio::task::JoinHandle<()>>,
    /// Gives glibc's free pages back (`--malloc-trim-ms`).
    _malloc_trim: Option<tokio::task::JoinHandle<()>>,
}

impl Gateway {
    /// Connects the engine to Redis and builds the shared state.
    pub async fn connect(config: Config, redis_url: &str) -> anyhow::Result<Gateway> {
        let gateway_id = gateway_id(&config)?;
        let keys = Keys::new(config.key_prefix.clone());
        // Before the engine: it reports identity tracking's state from the start.
        let metrics = crate::metrics::install();
        let (redis_version, engine) =
            connect_engine(&config, redis_url, keys, gateway_id.clone()).await?;
        tracing::info!(gateway_id, %redis_version, "connected to redis");
        Gateway::on_engine(config, engine, metrics)
    }

    /// A gateway whose engine is process memory (`--engine memory`), on `server`:
    /// documents live as long as the process, and only gateways of this process on the
    /// same server share them. Needs a tokio runtime.
    pub fn in_memory(config: Config, server: &MemoryServer) -> anyhow::Result<Gateway> {
        let gateway_id = gateway_id(&config)?;
        let metrics = crate::metrics::install();
        tracing::warn!(
            gateway_id,
            "--engine memory: documents live in this process only; nothing is shared with \
             other gateways or kept across a restart"
        );
        let (undo, diag) = (config.undo_policy(), config.diag_policy());
        let engine = crate::engine::memory::connect(server, gateway_id, undo, diag);
        Gateway::on_engine(config, engine, metrics)
    }

    /// Builds the shared state around a connected engine: access control, revocation,
    /// rooms.
    fn on_engine(
        config: Config,
        mut engine: Engine,
        metrics: metrics_exporter_prometheus::PrometheusHandle,
    ) -> anyhow::Result<Gateway> {
        let authority = Authority::from_config(&config, engine.directory.clone())?;
        match &authority {
            Authority::Open => tracing::warn!(
                "--auth none: every client may read and write every file, without a token; \
                 for local experiments and protocol tests only"
            ),
            Authority::Jwt(jwt) => {
                tracing::info!(
                    auth = "jwt",
                    algorithm = jwt.algorithm().name(),
                    "access control"
                )
            }
            Authority::Redis(_) => tracing::info!(auth = "redis", "access control"),
        }
        let revocations = matches!(authority, Authority::Redis(_))
            .then(|| Revocations::new(engine.directory.clone()));
        let periods = Periods {
            tracked: config.revalidate_tracked(),
            untracked: config.revalidate_untracked(),
        };
        let changes = engine.changes.take();
        let revalidation = revocations
            .clone()
            .map(|live| tokio::spawn(live.run(changes, periods)));
        let files = match crate::ext::files::Settings::from_config(&config)? {
            Some(settings) => Some(crate::ext::files::start(settings, &engine)?),
            None => None,
        };
        let config = Arc::new(config);
        let pending = Arc::new(PendingAppends::new(config.max_pending_bytes));
        let ctx = Arc::new(RoomContext {
            config: config.clone(),
            pending: pending.clone(),
            store: engine.store.clone(),
            undo: engine.undo.clone(),
            bus: engine.bus.clone(),
            registry: Arc::new(DashMap::new()),
            totals: Arc::default(),
            checking: crate::ext::diagnostics::check::Checking {
                // Hashing needs a thread even when syntax checks are off.
                pool: crate::ext::diagnostics::CheckPool::new(config.diagnostics_workers().max(1)),
                cache: engine.diagnostics.clone(),
                settings: config.diagnostics_settings(),
            },
            files,
        });
        let (shutdown, shutdown_rx) = watch::channel(false);
        let metrics_upkeep = tokio::spawn(crate::metrics::upkeep(metrics.clone()));
        let malloc_trim = config
            .malloc_trim()
            .map(|period| tokio::spawn(crate::trimmer::run(period, ctx.totals.clone())));
        let census = Census {
            registry: ctx.registry.clone(),
            rooms: ctx.totals.clone(),
            bus: engine.bus.clone(),
            directory: engine.directory.clone(),
            revocations: revocations.clone(),
            pending: pending.clone(),
        };
        Ok(Gateway {
            state: Arc::new(AppState {
                config,
                rooms: Rooms::new(ctx),
                bus: engine.bus.clone(),
                readiness: engine.readiness.clone(),
                authority,
                revocations,
                identity_admin: engine.identity_admin.clone(),
                diagnostics: engine.diagnostics.clone(),
                shutdown: shutdown_rx,
                sessions: SessionCount::default(),
                pending,
                metrics,
                census,
            }),
            shutdown,
            _engine: engine,
            _metrics_upkeep: metrics_upkeep,
            _revalidation: revalidation,
            _malloc_trim: malloc_trim,
        })
    }
}

/// The configured gateway id, or a random one; checks the admin token too, before any
/// connection is made.
fn gateway_id(config: &Config) -> anyhow::Result<String> {
    if let Some(token) = &config.admin_token {
        crate::admin::check_token(token)?;
    }
    match &config.gateway_id {
        Some(id) if is_valid_gateway_id(id) => Ok(id.clone()),
        Some(id) => anyhow::bail!(
            "gateway id {id:?} is invalid: use 1 to 64 characters of A-Z, a-z, 0-9, '-' and '_'"
        ),
        None => Ok(format!("gw-{:016x}", rand::random::<u64>())),
    }
}

/// Checks the Redis version and connects the engine the configuration names: one Redis
/// at `redis_url`, or with `--redis-cluster` the cluster its comma-separated seeds
/// belong to (without identity tracking: revocation polls there).
async fn connect_engine(
    config: &Config,
    redis_url: &str,
    keys: Keys,
    gateway_id: String,
) -> anyhow::Result<(RedisVersion, Engine)> {
    let redis_auth = config.auth == crate::config::AuthMode::Redis;
    if !config.redis_cluster {
        let version = version::require_supported(redis_url).await?;
        let engine = crate::engine::redis::connect(
            redis_url,
            keys,
            gateway_id,
            config.gateway_timeout(),
            config.undo_policy(),
            config.diag_policy(),
            config.client_tracking && redis_auth,
        )
        .await?;
        return Ok((version, engine));
    }
    let seeds = cluster::seeds(redis_url);
    // The first seed that answers: a cluster with a node down still starts gateways.
    let mut checked = Err(anyhow::anyhow!(
        "--redis-cluster needs at least one seed node in --redis-url"
    ));
    for seed in &seeds {
        match version::require_supported(seed).await {
            Err(no_answer @ (VersionError::Redis(_) | VersionError::Timeout(_))) => {
                checked = Err(no_answer.into())
            }
            answered => {
                checked = answered.map_err(Into::into);
                break;
            }
        }
    }
    let version = checked?;
    if version < cluster::MINIMUM {
        anyhow::bail!(
            "Redis {version} found, Redis {} or later needed under --redis-cluster (sharded \
             pub/sub)",
            cluster::MINIMUM
        );
    }
    if config.client_tracking && redis_auth {
        tracing::info!("identity tracking is not used under --redis-cluster: revocation polls");
    }
    let engine = cluster::connect(
        &seeds,
        keys,
        gateway_id,
        config.gateway_timeout(),
        config.undo_policy(),
        config.diag_policy(),
    )
    .await?;
    Ok((version, engine))
}

/// Runs a gateway until SIGTERM or Ctrl-C, starting a local redis-server when no Redis
/// URL is configured (and none at all under `--engine memory`).
pub async fn run(config: Config) -> anyhow::Result<()> {
    if config.redis_cluster && config.redis_url.is_none() {
        anyhow::bail!("--redis-cluster needs --redis-url with the cluster's seed nodes");
    }
    let in_memory = config.engine == EngineKind::Memory;
    if in_memory && (config.redis_url.is_some() || config.redis_cluster) {
        anyhow::bail!("--engine memory uses no Redis: drop --redis-url and --redis-cluster");
    }
    let embedded = match &config.redis_url {
        Some(_) => None,
        None if in_memory => None,
        None => Some(EmbeddedRedis::start(config.embedded_redis_dir.clone()).await?),
    };
    let listener = TcpListener::bind(config.listen).await?;
    let (gateway, redis_url) = match (&config.redis_url, &embedded) {
        _ if in_memory => (
            Gateway::in_memory(config, &MemoryServer::new())?,
            "none (--engine memory)".to_owned(),
        ),
        (Some(url), _) => {
            let url = url.clone();
            (Gateway::connect(config, &url).await?, url)
        }
        (None, Some(redis)) => {
            let url = redis.url();
            (Gateway::connect(config, &url).await?, url)
        }
        (None, None) => unreachable!("an embedded redis exists when no URL is given"),
    };
    let addr = listener.local_addr()?;
    {
        use std::io::Write;
        let mut out = std::io::stdout();
        let _ = writeln!(out, "collab-gateway listening on {addr}");
        let _ = out.flush();
    }
    tracing::info!(%addr, redis = %redact(&redis_url), "serving");

    let shutdown = gateway.shutdown.clone();
    let stop = async move {
        wait_for_signal().await;
        tracing::info!("shutting down: closing clients with 1012");
        let _ = shutdown.send(true);
    };
    let limits = gateway.state.config.handshake_limits();
    let router = crate::app::router(gateway.state.clone());
    crate::listener::serve(listener, router, limits, stop).await;
    drain(&gateway.state).await;
    gateway.state.bus.say_goodbye().await;
    if let Some(redis) = embedded {
        redis.stop().await;
    }
    Ok(())
}

/// After the signal: waits, within the drain deadline, for every client to be closed
/// (with 1012, so it reconnects elsewhere), every accepted update to be stored and every
/// dirty file written back. Sessions get half the deadline: a reader that stopped reading
/// may hold its goodbye for minutes (its updates are already accepted), and must not eat
/// the time the stores and the write-back need.
async fn drain(state: &AppState) {
    let start = tokio::time::Instant::now();
    let deadline = start + state.config.drain_timeout();
    let sessions = &state.sessions;
    let sessions_deadline = start + state.config.drain_timeout() / 2;
    if tokio::time::timeout_at(sessions_deadline, sessions.drained())
        .await
        .is_err()
    {
        tracing::warn!(
            left = sessions.live(),
            "sessions still open at half the drain deadline; storing and writing back first"
        );
    }
    if tokio::time::timeout_at(deadline, state.pending.flushed())
        .await
        .is_err()
    {
        tracing::error!(
            bytes = state.pending.bytes(),
            "accepted updates not stored by the drain deadline; their clients re-send them on reconnect"
        );
    }
    if tokio::time::timeout_at(deadline, state.rooms.flush_files())
        .await
        .is_err()
    {
        tracing::error!("files not written back by the drain deadline");
    }
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// The URL (or comma list of seed URLs) without credentials.
fn redact(urls: &str) -> String {
    urls.split(',')
        .map(|url| match url.rsplit_once('@') {
            Some((_, host)) => format!("redis://***@{host}"),
            None => url.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redacts_every_seed_of_a_list() {
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(
            redact("redis://u:secret@a:1,redis://:other@b:2"),
            "redis://***@a:1,redis://***@b:2"
        );
    }
}
