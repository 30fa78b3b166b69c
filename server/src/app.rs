//! The HTTP surface: the WebSocket endpoint, health and readiness, and the wiring of
//! engine (store and bus) and rooms into one gateway.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use collab_protocol::Keys;
use collab_protocol::envelope::is_valid_gateway_id;
use dashmap::DashMap;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tungstenite::protocol::WebSocketConfig;

use crate::config::Config;
use crate::embedded_redis::EmbeddedRedis;
use crate::engine::{Bus, Engine, Store};
use crate::pending::PendingAppends;
use crate::room::RoomContext;
use crate::rooms::Rooms;
use crate::session;
use crate::upgrade;

/// What every request handler shares.
pub struct AppState {
    pub config: Arc<Config>,
    pub rooms: Rooms,
    pub store: Arc<dyn Store>,
    pub bus: Arc<dyn Bus>,
    /// Flips to true when the gateway starts draining.
    pub shutdown: watch::Receiver<bool>,
    pub sessions: SessionCount,
    pub pending: Arc<PendingAppends>,
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
}

/// Counts live WebSocket sessions, so a draining gateway can wait for them: upgraded
/// connections are not tracked by the HTTP server's own graceful shutdown.
#[derive(Default)]
pub struct SessionCount {
    live: std::sync::atomic::AtomicUsize,
    changed: tokio::sync::Notify,
}

/// Holds one session in the count while alive.
pub struct CountedSession<'a>(&'a SessionCount, usize);

impl CountedSession<'_> {
    /// How many sessions were live when this one entered, itself included.
    pub fn count(&self) -> usize {
        self.1
    }
}

impl SessionCount {
    pub fn enter(&self) -> CountedSession<'_> {
        let count = self.live.fetch_add(1, std::sync::atomic::Ordering::AcqRel) + 1;
        crate::metrics::connections(1.0);
        CountedSession(self, count)
    }

    pub fn live(&self) -> usize {
        self.live.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Waits until no session is left.
    pub async fn drained(&self) {
        loop {
            let changed = self.changed.notified();
            if self.live() == 0 {
                return;
            }
            changed.await;
        }
    }
}

impl Drop for CountedSession<'_> {
    fn drop(&mut self) {
        self.0
            .live
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
        crate::metrics::connections(-1.0);
        self.0.changed.notify_waiters();
    }
}

/// A running gateway's parts that must live as long as it serves.
pub struct Gateway {
    pub state: Arc<AppState>,
    pub shutdown: watch::Sender<bool>,
    /// Holds the engine's background tasks (heartbeats, subscriptions) alive.
    _engine: Engine,
    _metrics_upkeep: tokio::task::JoinHandle<()>,
}

impl Gateway {
    /// Connects the engine to Redis and builds the shared state.
    pub async fn connect(config: Config, redis_url: &str) -> anyhow::Result<Gateway> {
        let gateway_id = match &config.gateway_id {
            Some(id) if is_valid_gateway_id(id) => id.clone(),
            Some(id) => anyhow::bail!(
                "gateway id {id:?} is invalid: use 1 to 64 characters of A-Z, a-z, 0-9, '-' and '_'"
            ),
            None => format!("gw-{:016x}", rand::random::<u64>()),
        };
        let keys = Keys::new(config.key_prefix.clone());
        let engine = crate::engine::redis::connect(
            redis_url,
            keys,
            gateway_id.clone(),
            config.gateway_timeout(),
        )
        .await?;
        let config = Arc::new(config);
        let pending = Arc::new(PendingAppends::new(config.max_pending_bytes));
        let ctx = Arc::new(RoomContext {
            config: config.clone(),
            pending: pending.clone(),
            store: engine.store.clone(),
            bus: engine.bus.clone(),
            registry: Arc::new(DashMap::new()),
        });
        let (shutdown, shutdown_rx) = watch::channel(false);
        let metrics = crate::metrics::install();
        let metrics_upkeep = tokio::spawn(crate::metrics::upkeep(metrics.clone()));
        tracing::info!(gateway_id, "connected to redis");
        Ok(Gateway {
            state: Arc::new(AppState {
                config,
                rooms: Rooms::new(ctx),
                store: engine.store.clone(),
                bus: engine.bus.clone(),
                shutdown: shutdown_rx,
                sessions: SessionCount::default(),
                pending,
                metrics,
            }),
            shutdown,
            _engine: engine,
            _metrics_upkeep: metrics_upkeep,
        })
    }

    pub fn router(&self) -> Router {
        let router = Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route("/readyz", get(ready))
            .route("/metrics", get(render_metrics))
            .route("/doc", get(doc_without_id))
            .route("/doc/", get(doc_without_id))
            .route("/doc/{*file}", get(doc))
            .with_state(self.state.clone());
        match &self.state.config.static_dir {
            Some(dir) => router.fallback_service(tower_http::services::ServeDir::new(dir)),
            None => router,
        }
    }
}

/// Runs a gateway until SIGTERM or Ctrl-C, starting a local redis-server when no Redis
/// URL is configured.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let embedded = match &config.redis_url {
        Some(_) => None,
        None => Some(EmbeddedRedis::start(config.embedded_redis_dir.clone()).await?),
    };
    let redis_url = match (&config.redis_url, &embedded) {
        (Some(url), _) => url.clone(),
        (None, Some(redis)) => redis.url(),
        (None, None) => unreachable!("an embedded redis exists when no URL is given"),
    };
    let listener = TcpListener::bind(config.listen).await?;
    let gateway = Gateway::connect(config, &redis_url).await?;
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
    crate::listener::serve(listener, gateway.router(), limits, stop).await;
    drain(&gateway.state).await;
    gateway.state.bus.say_goodbye().await;
    if let Some(redis) = embedded {
        redis.stop().await;
    }
    Ok(())
}

/// After the signal: waits, within the drain deadline, for every client to be closed
/// (with 1012, so it reconnects elsewhere) and every accepted update to be stored.
async fn drain(state: &AppState) {
    let deadline = tokio::time::Instant::now() + state.config.drain_timeout();
    let sessions = &state.sessions;
    if tokio::time::timeout_at(deadline, sessions.drained())
        .await
        .is_err()
    {
        tracing::warn!(
            left = sessions.live(),
            "sessions still open at the drain deadline"
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

fn redact(url: &str) -> String {
    match url.split_once('@') {
        Some((_, host)) => format!("redis://***@{host}"),
        None => url.to_owned(),
    }
}

async fn render_metrics(State(state): State<Arc<AppState>>) -> String {
    state.metrics.render()
}

async fn ready(State(state): State<Arc<AppState>>) -> Response {
    if !state.bus.is_live() {
        return (StatusCode::SERVICE_UNAVAILABLE, "redis subscription down").into_response();
    }
    match tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await {
        Ok(Ok(())) => "ready".into_response(),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "redis unreachable").into_response(),
    }
}

fn upgrade(request: Request, file: String, state: Arc<AppState>) -> Response {
    let max = state.config.max_frame_bytes;
    // The socket's own limit sits above ours so that an oversized frame is read and
    // refused with 1009 and a reason, instead of failing the connection.
    let hard_limit = max.saturating_add((max / 4).max(1 << 20));
    // Idle connections dominate a gateway's memory: a small read buffer (it grows only
    // while a large frame is read) took an idle connection from 22.5 KB to 12.6 KB RSS.
    // Large messages leave as runs of small frames (see `session`), so the write buffer
    // never needs to hold more than one of those.
    let config = WebSocketConfig::default()
        .read_buffer_size(1 << 10)
        .write_buffer_size(0)
        .max_write_buffer_size(max.max(1 << 20).saturating_mul(4))
        .max_message_size(Some(hard_limit))
        .max_frame_size(Some(hard_limit));
    upgrade::accept(request, config, move |socket| {
        session::serve(socket, file, state)
    })
}

async fn doc(
    Path(file): Path<String>,
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Response {
    upgrade(request, file, state)
}

async fn doc_without_id(State(state): State<Arc<AppState>>, request: Request) -> Response {
    upgrade(request, String::new(), state)
}
