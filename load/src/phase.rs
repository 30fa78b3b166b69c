//! Where a run is. Phases only move forward: `Connect` (editors connect and sync), `Edit`
//! (editors type at their rate), `Drain` (no new edits; wait for outstanding deliveries),
//! `Stop` (close every socket).
//!
//! Its own module, not part of [`crate::fleet`]: the fleet moves the phase and spawns the
//! editors ([`crate::client`]) that watch it, so with the phase in `fleet` the two would
//! import each other.

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Connect,
    Edit,
    Drain,
    Stop,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Connect => "connect",
            Phase::Edit => "edit",
            Phase::Drain => "drain",
            Phase::Stop => "stop",
        }
    }
}
