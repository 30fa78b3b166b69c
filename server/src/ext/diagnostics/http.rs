//! The external sources' door: `POST /files/{F}/diagnostics` with
//! `{"source","version","markers"}` and `DELETE /files/{F}/diagnostics?source=NAME`.
//!
//! Authorized by `Authorization: Bearer <admin token>` or by a session (or JWT) that may
//! write the file; under `--auth none` by anyone. The file's room on this gateway (opened
//! for the purpose if no client holds it here) says whether the version is its text's,
//! current or recent: else 409. Accepted markers are cached and published like syntax
//! markers, so every gateway's watchers get them. Answers are JSON; errors are
//! `{"error": "..."}` naming what is wrong without quoting values.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use collab_protocol::FileId;
use serde::Deserialize;
use serde_json::json;

use collab_room_core::ext::diagnostics::message::Diagnostics;
use collab_room_core::ext::diagnostics::post::PostAnswer;

use super::input::{self, Post};
use crate::access::{Authority, Refusal, Token};
use crate::state::AppState;

/// Largest request body, in bytes (a thousand markers fit easily).
const MAX_BODY_BYTES: usize = 1 << 20;
/// How long a request may wait for the file's room.
const ROOM_TIMEOUT: Duration = Duration::from_secs(10);

/// The routes, for merging into the gateway's router.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/files/{*rest}", post(post_markers).delete(delete_markers))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// A refused request: its status and JSON body.
struct Refused {
    status: StatusCode,
    body: serde_json::Value,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body)).into_response()
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> Refused {
    Refused {
        status,
        body: json!({ "error": message.into() }),
    }
}

/// `{F}/diagnostics` to the file id.
fn file_of(rest: &str) -> Result<FileId, Refused> {
    let Some(file) = rest.strip_suffix("/diagnostics") else {
        return Err(error(StatusCode::NOT_FOUND, "no such route"));
    };
    FileId::parse(file).map_err(|e| error(StatusCode::BAD_REQUEST, e.to_string()))
}

/// The bearer credential, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_at_checked(7)?;
    scheme.eq_ignore_ascii_case("bearer ").then(|| token.trim())
}

/// Whether the request may publish markers for `file`.
async fn authorize(state: &AppState, headers: &HeaderMap, file: &FileId) -> Result<(), Refused> {
    let presented = bearer(headers);
    if let (Some(admin), Some(presented)) = (&state.config.admin_token, presented)
        && admin.matches(presented.as_bytes())
    {
        return Ok(());
    }
    if matches!(state.authority, Authority::Open) {
        return Ok(());
    }
    let token = presented.and_then(|t| Token::new(t.to_owned()));
    let refused = |status, message: &str| {
        crate::metrics::diagnostics_post("refused");
        Err(error(status, message))
    };
    match state.authority.authorize(token.as_ref(), file).await {
        Ok(grant) if grant.principal.may_write() => Ok(()),
        Ok(_) => refused(StatusCode::FORBIDDEN, "read-only access to this file"),
        Err(Refusal::Unauthenticated(_)) => refused(
            StatusCode::UNAUTHORIZED,
            "a bearer token is needed: the admin token or a session that may write the file",
        ),
        Err(Refusal::Forbidden(_)) => refused(StatusCode::FORBIDDEN, "no access to this file"),
        Err(Refusal::Unavailable) => refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "the identity store is unavailable; try again",
        ),
    }
}

/// Asks the file's room whether `version` (`None`: any) is its text's.
async fn ask_room(
    state: &AppState,
    file: &FileId,
    version: Option<String>,
) -> Result<Arc<str>, Refused> {
    let answer = tokio::time::timeout(ROOM_TIMEOUT, state.rooms.check_post(file, version)).await;
    match answer {
        Ok(Ok(PostAnswer::Accepted { current })) => Ok(current),
        Ok(Ok(PostAnswer::Stale { current })) => {
            crate::metrics::diagnostics_post("stale");
            Err(Refused {
                status: StatusCode::CONFLICT,
                body: json!({
                    "error": "version is not the file's current or recent text",
                    "current": &*current,
                }),
            })
        }
        Ok(Ok(PostAnswer::Busy)) => Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many posts wait for this file; try again",
        )),
        Ok(Err(_)) | Err(_) => Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the file could not be opened; try again",
        )),
    }
}

fn unavailable(error_: crate::engine::EngineError) -> Refused {
    tracing::warn!(error = %error_, "diagnostics: the cache is unavailable");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "the diagnostics store is unavailable; try again",
    )
}

async fn post_markers(
    Path(rest): Path<String>,
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match post_inner(&rest, &state, &headers, &body).await {
        Ok(response) => response,
        Err(refused) => refused.into_response(),
    }
}

async fn post_inner(
    rest: &str,
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, Refused> {
    let file = file_of(rest)?;
    authorize(state, headers, &file).await?;
    let invalid = |message: String| {
        crate::metrics::diagnostics_post("invalid");
        error(StatusCode::BAD_REQUEST, message)
    };
    let post: Post = serde_json::from_slice(body).map_err(|e| {
        invalid(format!(
            "the body must be JSON {{\"source\",\"version\",\"markers\"}}: {}",
            json_problem(&e)
        ))
    })?;
    input::check_post(&post).map_err(invalid)?;
    ask_room(state, &file, Some(post.version.clone())).await?;
    let count = post.markers.len();
    let message = Diagnostics::new(&post.source, &post.version, post.markers);
    state
        .diagnostics
        .store(&file, &message.source, &message.version, &message.json)
        .await
        .map_err(unavailable)?;
    crate::metrics::diagnostics_post("stored");
    let answer = json!({ "source": message.source, "version": message.version, "markers": count });
    Ok((StatusCode::OK, axum::Json(answer)).into_response())
}

#[derive(Deserialize)]
struct DeleteParams {
    source: Option<String>,
}

async fn delete_markers(
    Path(rest): Path<String>,
    State(state): State<Arc<AppState>>,
    Query(params): Query<DeleteParams>,
    headers: HeaderMap,
) -> Response {
    match delete_inner(&rest, &state, &headers, params.source).await {
        Ok(response) => response,
        Err(refused) => refused.into_response(),
    }
}

async fn delete_inner(
    rest: &str,
    state: &AppState,
    headers: &HeaderMap,
    source: Option<String>,
) -> Result<Response, Refused> {
    let file = file_of(rest)?;
    authorize(state, headers, &file).await?;
    let source = source.ok_or_else(|| {
        error(
            StatusCode::BAD_REQUEST,
            "?source= names the source to clear",
        )
    })?;
    input::check_source(&source).map_err(|e| error(StatusCode::BAD_REQUEST, e))?;
    let current = ask_room(state, &file, None).await?;
    let cleared = Diagnostics::new(&source, &current, Vec::new());
    state
        .diagnostics
        .clear(&file, &source, &cleared.json)
        .await
        .map_err(unavailable)?;
    crate::metrics::diagnostics_post("cleared");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// What kind of problem a body has, without echoing the input.
fn json_problem(error: &serde_json::Error) -> &'static str {
    match error.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "not valid JSON",
        serde_json::error::Category::Data => "a field is missing or has the wrong type",
        serde_json::error::Category::Eof => "truncated",
    }
}
