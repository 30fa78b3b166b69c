//! The agent's HTTP routes.
//!
//! `/healthz` is open; `/files/{*path}` (GET, PUT) and `/changes` need the bearer token.
//! There is no DELETE: the contract has none.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::get;

use crate::state::App;
use crate::{auth, changes, files};

/// The routes.
pub fn router(app: Arc<App>) -> Router {
    // The extractor's limit sits a little above ours so that a body of exactly
    // --max-file-bytes passes and one byte more gets our own 413 with a reason.
    let body_limit = app.max_file_bytes.saturating_add(1);
    let protected = Router::new()
        .route("/files/{*path}", get(files::get).put(files::put))
        .route("/changes", get(changes::feed))
        .layer(DefaultBodyLimit::max(body_limit))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&app),
            auth::require,
        ));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(protected)
        .with_state(app)
}
