//! Applying one update to a room's replica, timed, without stalling the gateway.
//!
//! A large update (a reconnecting client's whole document) can take long in yrs: on a
//! multi-threaded runtime the worker thread is handed over first, so the gateway's other
//! tasks move to other threads meanwhile. Without a runtime (unit tests, the fuzzer) it
//! simply applies.

use std::time::{Duration, Instant};

use crate::replica::{ApplyError, Edit, Replica};

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
    match origin {
        Origin::Client => Ok(timed_edit(replica, update)?.map(|edit| edit.relay)),
        Origin::Log => measured(update.len(), || replica.apply(update)),
    }
}

/// Applies a client's `update` (see [`Origin::Client`]); returns what to relay and what
/// it inserted and deleted (the author's undo item).
pub fn timed_edit(replica: &Replica, update: &[u8]) -> Result<Option<Edit>, ApplyError> {
    measured(update.len(), || replica.apply_edit(update))
}

fn measured<T>(bytes: usize, apply: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|rt| rt.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    let result = if bytes >= HEAVY_UPDATE_BYTES && multi_thread {
        tokio::task::block_in_place(apply)
    } else {
        apply()
    };
    let took = started.elapsed();
    crate::metrics::update_applied(took);
    if took > SLOW_APPLY {
        tracing::warn!(bytes, ?took, "an update took long to apply");
    }
    result
}
