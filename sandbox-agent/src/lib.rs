//! `collab-sandbox-agent`: the file agent that runs in each sandbox and serves its workspace
//! directory to the collab gateway (DESIGN.md, "Files").
//!
//! A request flows: `app.rs` (routes) -> `auth.rs` (bearer token, `token.rs`) -> `files.rs` (GET/PUT
//! handlers) -> `paths.rs` (a request path to a real file inside the root, or a refusal) ->
//! `atomic.rs` (check the version, write a temp file, rename it in place) under the file's
//! lock from `locks.rs`. ETags (`etag.rs`) are the hex SHA-256 of the bytes. What every
//! request shares is in `state.rs`.
//!
//! The change feed (`changes/`) runs beside it: inotify events -> settle (coalesce a burst,
//! look at the file once quiet) -> compare with `known.rs` (what the agent wrote or already
//! reported) -> one SSE event per real change to every subscriber.
//!
//! Invariants: a file is replaced whole or not at all; two PUTs to one file never both pass
//! their precondition; nothing is read or written outside the root; the token and file
//! contents never reach a log or an error.

pub mod app;
pub mod atomic;
pub mod auth;
pub mod changes;
pub mod config;
pub mod error;
pub mod etag;
pub mod files;
pub mod known;
pub mod locks;
pub mod paths;
pub mod state;
pub mod token;

use std::future::Future;
use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::changes::settle::Settle;
use crate::config::Config;
use crate::state::App;

/// Touches queued between the watcher thread and the settle task.
const TOUCH_QUEUE: usize = 16 * 1024;

/// A started agent: the watch is in place, requests are not served yet.
pub struct Agent {
    app: Arc<App>,
    _watcher: notify::RecommendedWatcher,
}

impl Agent {
    /// Starts watching the root; call [`Agent::serve`] next.
    pub fn start(config: &Config) -> Result<Agent> {
        let app = Arc::new(App {
            root: config.root.clone(),
            token: config.token.clone(),
            max_file_bytes: config.max_file_bytes,
            locks: Arc::default(),
            known: Arc::default(),
            changes: changes::channel(),
        });
        let (touch_tx, touch_rx) = mpsc::channel(TOUCH_QUEUE);
        let watcher = changes::watch::start(config.root.clone(), touch_tx)
            .context("watching the root (inotify)")?;
        let settle = Settle {
            root: config.root.clone(),
            known: Arc::clone(&app.known),
            locks: Arc::clone(&app.locks),
            out: app.changes.clone(),
            quiet: config.settle,
            max_wait: config.settle_max,
        };
        tokio::spawn(settle.run(touch_rx));
        Ok(Agent {
            app,
            _watcher: watcher,
        })
    }

    /// Serves requests on `listener` until `shutdown` completes.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<()> {
        let router = app::router(Arc::clone(&self.app));
        tokio::select! {
            served = axum::serve(listener, router) => served.context("serving"),
            () = shutdown => Ok(()),
        }
    }
}
