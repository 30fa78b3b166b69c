//! What every request handler and session shares: the configuration, the rooms, the
//! engine's parts, the authority that checks tokens, the shutdown switch and the counts a
//! draining gateway waits on.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Notify, watch};

use crate::access::Authority;
use crate::access::revocation::Revocations;
use crate::config::Config;
use collab_room_core::ext::diagnostics::DiagnosticsCache;

use crate::engine::{Bus, EngineError, IdentityAdmin, Readiness};
use crate::pending::PendingAppends;
use crate::rooms::Rooms;

/// What every request handler shares.
pub struct AppState {
    pub config: Arc<Config>,
    pub rooms: Rooms,
    pub bus: Arc<dyn Bus>,
    /// The engine's answer to `/readyz`.
    pub readiness: Arc<dyn Readiness>,
    /// Decides what a connection's token lets it open (`--auth`).
    pub authority: Authority,
    /// Under `--auth redis`: the live grants, re-read on announced changes and every
    /// `--revalidate-ms`.
    pub revocations: Option<Arc<Revocations>>,
    /// Cached diagnostics, for external sources' posts.
    pub diagnostics: Arc<dyn DiagnosticsCache<Error = EngineError>>,
    /// Identity writes, for the admin API (routed only with `--admin-token`).
    pub identity_admin: Arc<dyn IdentityAdmin>,
    /// Flips to true when the gateway starts draining.
    pub shutdown: watch::Receiver<bool>,
    pub sessions: SessionCount,
    pub pending: Arc<PendingAppends>,
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// The sizes of the gateway's tables, set as gauges on each scrape.
    pub census: crate::census::Census,
}

/// Counts live WebSocket sessions, so a draining gateway can wait for them: upgraded
/// connections are not tracked by the HTTP server's own graceful shutdown.
#[derive(Default)]
pub struct SessionCount {
    live: AtomicUsize,
    changed: Notify,
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
        let count = self.live.fetch_add(1, Ordering::AcqRel) + 1;
        crate::metrics::connections(1.0);
        CountedSession(self, count)
    }

    pub fn live(&self) -> usize {
        self.live.load(Ordering::Acquire)
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
        self.0.live.fetch_sub(1, Ordering::AcqRel);
        crate::metrics::connections(-1.0);
        self.0.changed.notify_waiters();
    }
}
