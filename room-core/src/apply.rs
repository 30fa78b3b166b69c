//! Applying one update to a room's replica, through the shell's runner.
//!
//! A large update (a reconnecting client's whole document) can take long in yrs: the core
//! does not decide how that work runs. It hands each apply, with the update's size, to
//! the [`RunApply`] it was given (the gateway's times it and hands a multi-threaded
//! runtime's worker over for a big one); without a shell (unit tests, the fuzzer)
//! [`inline`] simply applies.

use crate::replica::{ApplyError, Edit, Replica};

/// Runs one apply of an update of `bytes` bytes: must call `apply` exactly once.
pub type RunApply = fn(bytes: usize, apply: &mut dyn FnMut());

/// Applies at once, on the caller's thread.
pub fn inline(_bytes: usize, apply: &mut dyn FnMut()) {
    apply()
}

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
    run: RunApply,
    replica: &Replica,
    update: &[u8],
    origin: Origin,
) -> Result<Option<Vec<u8>>, ApplyError> {
    match origin {
        Origin::Client => Ok(timed_edit(run, replica, update, u64::MAX)?.map(|edit| edit.relay)),
        Origin::Log => measured(run, update.len(), || replica.apply(update)),
    }
}

/// Applies a client's `update` (see [`Origin::Client`]) with at most `allowance` work for
/// slow origin checks ([`Replica::apply_edit_within`]); returns what to relay and what it
/// inserted and deleted (the author's undo item).
pub fn timed_edit(
    run: RunApply,
    replica: &Replica,
    update: &[u8],
    allowance: u64,
) -> Result<Option<Edit>, ApplyError> {
    measured(run, update.len(), || {
        replica.apply_edit_within(update, allowance)
    })
}

fn measured<T>(
    run: RunApply,
    bytes: usize,
    apply: impl FnOnce() -> Result<T, ApplyError>,
) -> Result<T, ApplyError> {
    let mut job = Some(apply);
    let mut out = None;
    run(bytes, &mut || out = job.take().map(|job| job()));
    out.unwrap_or_else(|| Err(ApplyError::Apply("the runner skipped the apply".into())))
}
