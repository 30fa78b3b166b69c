//! The live status page (`/status`) and the JSON it polls (`/status.json`): this gateway,
//! its Redis, its rooms with their people, edit rates and file states, and charts of
//! connections and deliveries per second. Routed only with `--admin-token`, like the admin
//! API; absent otherwise.
//!
//! How the page gets the token without leaking it: a browser sends no `Authorization`
//! header when it navigates, and a token in the URL (`/status?token=`) would land in
//! access logs, browser history and `Referer` headers (Hocuspocus #109). So `/status` is
//! a fixed page that holds no data and needs no token; it asks for the admin token in a
//! form field, keeps it in the tab's `sessionStorage` (gone with the tab) and sends it as
//! `Authorization: Bearer` on its fetches of `/status.json`, which answers 401 without it
//! exactly as the admin routes do. The page's Content-Security-Policy lets only its own
//! inline script and style run (by hash) and fetch only from its own origin
//! ([`page`]), so a name shown on it can neither run script nor carry the token away.
//!
//! - [`snapshot`]: what the JSON holds, and what it never holds (tokens, `sandbox_ip`,
//!   user ids that are not a cursor's name).
//! - [`samples`]: the short history behind the charts and the rooms' edit rates.
//! - [`page`]: the page (`page.html`) and its headers.

pub mod page;
pub mod samples;
pub mod snapshot;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::state::AppState;
use samples::Samples;

/// The status routes, for merging into the gateway's router when an admin token is set.
pub fn routes(state: Arc<AppState>) -> Router<Arc<AppState>> {
    let samples = Arc::new(Samples::default());
    let json = Router::new()
        .route(
            "/status.json",
            get(move |State(state): State<Arc<AppState>>| {
                let samples = samples.clone();
                async move { status_json(state, samples).await }
            }),
        )
        .layer(middleware::from_fn_with_state(
            state,
            crate::admin::require_admin,
        ));
    Router::new().route("/status", get(page::serve)).merge(json)
}

async fn status_json(state: Arc<AppState>, samples: Arc<Samples>) -> Response {
    samples.start(&state);
    let status = snapshot::take(&state, &samples).await;
    ([(header::CACHE_CONTROL, "no-store")], axum::Json(status)).into_response()
}
