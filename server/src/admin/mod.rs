//! The admin API: writing the identity records (sessions, users, sandbox members) over
//! HTTP, for deployments and demos without a platform that writes them into Redis itself.
//!
//! It exists only when the gateway has `--admin-token` (`COLLAB_ADMIN_TOKEN`); otherwise
//! its paths are 404 like any unknown path. Every request needs
//! `Authorization: Bearer <admin token>` (compared in constant time); a missing or wrong
//! one is 401 before anything else is looked at, also for a wrong method or an unknown
//! path under `/admin/`. Routes (JSON bodies and answers):
//!
//! | route | effect |
//! | --- | --- |
//! | `POST /admin/sessions` `{"user","ttl_secs"}` | `session:{token}` for the user: 201 `{"token","user","expires_in"}` |
//! | `DELETE /admin/sessions/{token}` | deletes it: 204 (404 if none) |
//! | `PUT /admin/users/{id}` `{"sandbox_id","sandbox_ip","name","color","ttl_secs"}` | replaces `user:{id}`: 200, the record without `sandbox_ip` |
//! | `PUT /admin/sandboxes/{sid}/members/{user}` `{"role":"rw"\|"ro"}` | sets the member: 200 |
//! | `DELETE /admin/sandboxes/{sid}/members/{user}` | removes it: 204 (404 if none) |
//!
//! Bad ids or bodies are 400 with `{"error": "..."}` naming what is wrong but never
//! quoting the value ([`input`]); an unreachable Redis is 503. The writes go through
//! [`crate::engine::IdentityAdmin`]; this module never sees Redis.

mod auth;
mod error;
mod handlers;
pub mod input;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{delete, post, put};

use crate::state::AppState;

pub use auth::{MIN_TOKEN_BYTES, check_token, require_admin};
pub use error::AdminError;

/// Largest admin request body, in bytes.
const MAX_BODY_BYTES: usize = 16 << 10;

/// The admin routes, for merging into the gateway's router when an admin token is set.
/// Everything under `/admin/` needs the token: without it a wrong method or an unknown
/// path is 401 as well, so nothing about the routes shows to a stranger.
pub fn routes(state: Arc<AppState>) -> Router<Arc<AppState>> {
    let admin = Router::new()
        .route("/sessions", post(handlers::create_session))
        .route("/sessions/{token}", delete(handlers::revoke_session))
        .route("/users/{id}", put(handlers::put_user))
        .route(
            "/sandboxes/{sid}/members/{user}",
            put(handlers::put_member).delete(handlers::remove_member),
        )
        .fallback(|| async { AdminError::new(StatusCode::NOT_FOUND, "no such admin route") })
        .layer(middleware::from_fn_with_state(state, auth::require_admin))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    Router::new().nest("/admin", admin)
}
