//! What every editor of a run shares: the propagation tracker, the counters, the wire
//! dialect, the phase to watch, the connect limit and the per-second timeline.
//!
//! Its own module, not part of [`crate::fleet`], which builds it: the editors the fleet
//! spawns ([`crate::client`]) hold it, so with it in `fleet` the two would import each
//! other. The status line, the [`crate::sampler`] and the report read it too.

use tokio::sync::{Semaphore, watch};

use crate::framing::Framing;
use crate::phase::Phase;
use crate::stats::Stats;
use crate::timeline::Timeline;
use crate::tracker::Tracker;

/// What every editor of a run shares.
pub struct Shared {
    pub tracker: Tracker,
    pub stats: Stats,
    pub framing: Framing,
    pub phase: watch::Receiver<Phase>,
    /// Caps WebSocket handshakes in flight.
    pub connect_limit: Semaphore,
    /// Per-second throughput, filled by the status line's ticker.
    pub timeline: Timeline,
}
