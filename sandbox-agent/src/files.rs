//! `GET /files/{path}` and `PUT /files/{path}`: bytes in and out, exactly as they are.
//!
//! The agent is byte-transparent: CRLF, a BOM, emoji or bytes that are not UTF-8 are served
//! and stored as sent; whether a file is acceptable as a document is the gateway's call.
//! Disk work runs on the blocking pool; a PUT holds its file's lock (`locks.rs`) from the
//! version check to the rename.

use std::io::Read;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::atomic::{self, Precondition};
use crate::error::ApiError;
use crate::etag::{self, Condition};
use crate::paths::{self, RelPath};
use crate::state::App;

/// `GET /files/{path}`: 200 with the bytes and the ETag, 304 on a matching `If-None-Match`.
pub async fn get(
    State(app): State<Arc<App>>,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let rel = RelPath::parse(&raw)?;
    let if_none_match = header_condition(&headers, header::IF_NONE_MATCH)?;
    let app2 = Arc::clone(&app);
    let bytes = tokio::task::spawn_blocking(move || read(&app2, &rel))
        .await
        .map_err(|_| ApiError::Io(std::io::ErrorKind::Other))??;
    let hex = etag::of_bytes(&bytes);
    let tag = header_value(&hex)?;
    if if_none_match.is_some_and(|c| c.matches(Some(&hex))) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, tag)]).into_response());
    }
    Ok((
        StatusCode::OK,
        [
            (header::ETAG, tag),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        bytes,
    )
        .into_response())
}

/// `PUT /files/{path}`: conditional replace (`If-Match`) or create (`If-None-Match: *`).
pub async fn put(
    State(app): State<Arc<App>>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let rel = RelPath::parse(&raw)?;
    let pre = precondition(&headers)?;
    if body.len() > app.max_file_bytes {
        return Err(ApiError::TooLarge(app.max_file_bytes));
    }
    let root = app.root.clone();
    let target = {
        let rel = rel.clone();
        tokio::task::spawn_blocking(move || paths::resolve_write(&root, &rel))
            .await
            .map_err(|_| ApiError::Io(std::io::ErrorKind::Other))??
    };
    let guard = app.locks.lock(target.path()).await;
    let app2 = Arc::clone(&app);
    let written = tokio::task::spawn_blocking(move || {
        let result = atomic::write(&app2.root, &target, &pre, &body, &app2.known);
        drop(guard);
        result
    })
    .await
    .map_err(|_| ApiError::Io(std::io::ErrorKind::Other))??;
    tracing::debug!(path = rel.as_str(), created = written.created, "written");
    let status = if written.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let quoted = etag::quote(&written.etag);
    let body = serde_json::json!({ "etag": quoted }).to_string();
    Ok((
        status,
        [
            (header::ETAG, header_value(&written.etag)?),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
        ],
        body,
    )
        .into_response())
}

/// Reads a file whole, refusing one over the size limit.
fn read(app: &App, rel: &RelPath) -> Result<Vec<u8>, ApiError> {
    let path = paths::resolve_read(&app.root, rel)?;
    let file = std::fs::File::open(&path).map_err(|e| ApiError::io(&e))?;
    paths::check_opened(&app.root, &file)?;
    let meta = file.metadata().map_err(|e| ApiError::io(&e))?;
    if !meta.is_file() {
        return Err(ApiError::NotAFile("it is a directory"));
    }
    let limit = app.max_file_bytes;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0).min(limit) + 1);
    file.take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| ApiError::io(&e))?;
    if bytes.len() > limit {
        return Err(ApiError::TooLarge(limit));
    }
    if let Some(rel) = path.strip_prefix(&app.root).ok().and_then(|p| p.to_str()) {
        app.known.note_read(rel);
    }
    Ok(bytes)
}

/// The PUT's precondition from its headers: exactly one of `If-Match` or `If-None-Match: *`.
fn precondition(headers: &HeaderMap) -> Result<Precondition, ApiError> {
    let if_match = header_condition(headers, header::IF_MATCH)?;
    let if_none_match = header_condition(headers, header::IF_NONE_MATCH)?;
    match (if_match, if_none_match) {
        (Some(_), Some(_)) => Err(ApiError::BadHeader(
            "send If-Match or If-None-Match, not both",
        )),
        (Some(condition), None) => Ok(Precondition::Match(condition)),
        (None, Some(Condition::Any)) => Ok(Precondition::Absent),
        (None, Some(Condition::Tags(_))) => {
            Err(ApiError::BadHeader("If-None-Match on a PUT must be *"))
        }
        (None, None) => Err(ApiError::PreconditionRequired),
    }
}

fn header_condition(
    headers: &HeaderMap,
    name: header::HeaderName,
) -> Result<Option<Condition>, ApiError> {
    let mut values = headers.get_all(&name).iter().peekable();
    if values.peek().is_none() {
        return Ok(None);
    }
    let mut joined = String::new();
    for value in values {
        let text = value
            .to_str()
            .map_err(|_| ApiError::BadHeader("a precondition header is not ASCII"))?;
        if !joined.is_empty() {
            joined.push(',');
        }
        joined.push_str(text);
    }
    Condition::parse(&joined)
        .map(Some)
        .ok_or(ApiError::BadHeader(
            "a precondition header is not `*` or a list of \"etags\"",
        ))
}

fn header_value(hex: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(&etag::quote(hex)).map_err(|_| ApiError::Io(std::io::ErrorKind::Other))
}
