//! The HTTP surface: the WebSocket endpoint `GET /doc/{file}`, `/healthz`, `/readyz`,
//! `/metrics`, the admin API ([`crate::admin`]) and the status page ([`crate::status`]),
//! both only with an admin token, and, when
//! configured, static files. Every handler reads the shared
//! [`AppState`]; the gateway's lifecycle lives in [`crate::gateway`].
//!
//! The request URI carries the token (`?token=`): nothing here logs it, and it leaves this
//! module only inside a [`Token`], which never formats itself.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tungstenite::protocol::WebSocketConfig;

use crate::access::Token;
use crate::session::{self, Opening};
use crate::state::AppState;
use crate::upgrade;
use collab_room_core::ext::OptIns;

/// The gateway's routes over its shared state.
pub fn router(state: Arc<AppState>) -> Router {
    let static_dir = state.config.static_dir.clone();
    let admin = match state.config.admin_token {
        Some(_) => crate::admin::routes(state.clone()).merge(crate::status::routes(state.clone())),
        None => Router::new(),
    };
    let router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(render_metrics))
        .route("/doc", get(doc_without_id))
        .route("/doc/", get(doc_without_id))
        .route("/doc/{*file}", get(doc))
        .merge(admin)
        .merge(crate::ext::diagnostics::http::routes())
        .with_state(state);
    match static_dir {
        Some(dir) => router.fallback_service(tower_http::services::ServeDir::new(dir)),
        None => router,
    }
}

async fn render_metrics(State(state): State<Arc<AppState>>) -> String {
    state.census.record(state.sessions.live());
    state.metrics.render()
}

/// 200 `ready`, or 503 with the engine's reason ([`crate::engine::readiness`]).
async fn ready(State(state): State<Arc<AppState>>) -> Response {
    match crate::engine::readiness::check_in_time(&*state.readiness).await {
        Ok(()) => "ready".into_response(),
        Err(not_ready) => (StatusCode::SERVICE_UNAVAILABLE, not_ready.0).into_response(),
    }
}

/// The query parameters of `GET /doc/{file}` the gateway reads; others are ignored.
/// (No `Debug`: it holds the token.)
#[derive(Default)]
struct DocParams {
    /// Comma list of features whose unsolicited messages the client wants.
    ext: Option<String>,
    /// The credential (`?token=`, y-websocket's `params: { token }`).
    token: Option<Token>,
    /// Who the client says it is (`?user=`); read under `--auth none` only.
    user: Option<String>,
}

impl DocParams {
    /// Reads the query of `uri`; the first of repeated parameters counts, and an
    /// unreadable query asks for nothing (no token included) rather than failing.
    fn from_uri(uri: &axum::http::Uri) -> DocParams {
        let Ok(Query(pairs)) = Query::<Vec<(String, String)>>::try_from_uri(uri) else {
            return DocParams::default();
        };
        let mut params = DocParams::default();
        for (name, value) in pairs {
            match name.as_str() {
                "ext" if params.ext.is_none() => params.ext = Some(value),
                "token" if params.token.is_none() => params.token = Token::new(value),
                "user" if params.user.is_none() => params.user = Some(value),
                _ => {}
            }
        }
        params
    }
}

/// The frames of one batch (everything queued for a connection, see `session::writer`)
/// gather in the socket's write buffer up to this many bytes and leave in one `write`:
/// one system call per frame was 42% of the gateway's CPU in edit-storm
/// (bench/results/delivery-profile/). The buffer keeps its capacity, so it stays small.
const WRITE_BATCH_BYTES: usize = 4 << 10;

/// The socket's read buffer, held for the connection's life (see `upgrade`).
const READ_BUFFER_BYTES: usize = 512;

fn upgrade(request: Request, file: String, state: Arc<AppState>) -> Response {
    let params = DocParams::from_uri(request.uri());
    let opening = Opening {
        file,
        opt_ins: params
            .ext
            .as_deref()
            .map_or_else(OptIns::default, OptIns::parse),
        token: params.token,
        user: params.user,
    };
    let max = state.config.max_frame_bytes;
    // The socket's own limit sits above ours so that an oversized frame is read and
    // refused with 1009 and a reason, instead of failing the connection.
    let hard_limit = max.saturating_add((max / 4).max(1 << 20));
    // Idle connections dominate a gateway's memory: a small read buffer (it grows only
    // while a large frame is read) took an idle connection from 22.5 KB to 12.6 KB RSS.
    // tungstenite allocates it when the socket opens and keeps it: 512 B, not 1 KiB
    // (issue 23), as a client's messages (edits, cursors) are smaller than that; a large
    // frame (a state upload at reconnect) takes a `read` per 512 B of it instead of 1 KiB.
    // Large messages leave as runs of small frames (see `session`), so the write buffer
    // never needs to hold more than one of those, or one batch of small ones.
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BATCH_BYTES)
        .max_write_buffer_size(max.max(1 << 20).saturating_mul(4))
        .max_message_size(Some(hard_limit))
        .max_frame_size(Some(hard_limit));
    upgrade::accept(request, config, move |socket| {
        session::serve(socket, opening, state)
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
