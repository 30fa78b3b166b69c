//! Applying one update to a room's replica, timed, without stalling the gateway.
//!
//! A large update (a reconnecting client's whole document) can take long in yrs: on a
//! multi-threaded runtime the worker thread is handed over first, so the gateway's other
//! tasks move to other threads meanwhile. Without a runtime (unit tests, the fuzzer) it
//! simply applies.

use std::time::{Duration, Instant};

use crate::replica::{ApplyError, Replica};

/// Updates at least this large are applied with the worker thread handed over.
const HEAVY_UPDATE_BYTES: usize = 64 << 10;
/// An update that takes longer than this to apply is logged.
const SLOW_APPLY: Duration = Duration::from_millis(250);

/// Where an update to apply comes from.
#[derive(Debug, Clone, Copy)]
pub enum Origin {
    /// A local client: applied only once its predecessors are in.
    Client,
    /// The log or another gateway, in log order.
    Log,
}

/// Applies `update` to `replica` by the rule for its origin; returns what to relay.
pub fn timed(
    replica: &Replica,
    update: &[u8],
    origin: Origin,
) -> Result<Option<Vec<u8>>, ApplyError> {
    let started = Instant::now();
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|rt| rt.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    let apply = || match origin {
        Origin::Client => replica.apply_from_client(update),
        Origin::Log => replica.apply(update),
    };
    let result = if update.len() >= HEAVY_UPDATE_BYTES && multi_thread {
        tokio::task::block_in_place(apply)
    } else {
        apply()
    };
    let took = started.elapsed();
    crate::metrics::update_applied(took);
    if took > SLOW_APPLY {
        tracing::warn!(bytes = update.len(), ?took, "an update took long to apply");
    }
    result
}
