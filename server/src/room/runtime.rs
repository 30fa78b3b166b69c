//! What the room core asks of the runtime around it, which it does not reach itself: how
//! one apply of an update to its replica runs (the core's
//! [`RunApply`](super::apply::RunApply)), and what time it is for cursors' ages.
//!
//! An apply is timed and does not stall the gateway. A large update (a reconnecting client's whole document) can take long in yrs: on a
//! multi-threaded runtime the worker thread is handed over first, so the gateway's other
//! tasks move to other threads meanwhile. Without a runtime it simply applies.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Updates at least this large are applied with the worker thread handed over.
const HEAVY_UPDATE_BYTES: usize = 64 << 10;
/// An update that takes longer than this to apply is logged.
const SLOW_APPLY: Duration = Duration::from_millis(250);

/// Milliseconds since the first call, on a monotonic clock (awareness states' ages).
pub fn millis() -> u64 {
    u64::try_from(millis_duration().as_millis()).unwrap_or(u64::MAX)
}

/// The time since the first call of [`millis`] or this.
pub fn millis_duration() -> Duration {
    static STARTED: OnceLock<Instant> = OnceLock::new();
    STARTED.get_or_init(Instant::now).elapsed()
}

/// Runs `apply` (an update of `bytes` bytes), timed.
pub fn run_apply(bytes: usize, apply: &mut dyn FnMut()) {
    let started = Instant::now();
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|rt| rt.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if bytes >= HEAVY_UPDATE_BYTES && multi_thread {
        tokio::task::block_in_place(apply)
    } else {
        apply()
    }
    let took = started.elapsed();
    crate::metrics::update_applied(took);
    if took > SLOW_APPLY {
        tracing::warn!(bytes, ?took, "an update took long to apply");
    }
}
