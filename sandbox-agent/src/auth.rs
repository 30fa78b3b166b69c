//! Bearer-token check for every route but `/healthz` (the comparison is in `token.rs`).
//! Neither the token nor the header is ever logged.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::App;

/// Middleware: 401 unless `Authorization: Bearer <token>` carries the token.
pub async fn require(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let offered = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    match offered {
        Some(token) if app.token.accepts(token) => next.run(request).await,
        _ => ApiError::Unauthorized.into_response(),
    }
}
