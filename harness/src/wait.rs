//! Waiting for conditions outside our process, with a deadline.
//!
//! Clients notify their waiters on every change ([`crate::Client::wait_for`]); Redis keys
//! and child processes cannot, so [`eventually`] re-checks them at a short interval until
//! the condition holds or the deadline passes. Never a fixed sleep.

use std::future::Future;
use std::time::{Duration, Instant};

/// How often [`eventually`] re-checks a condition.
const RECHECK: Duration = Duration::from_millis(20);

/// Re-checks `condition` until it returns true (then true) or `within` passes (then false).
pub async fn eventually<F, Fut>(within: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, condition()).await {
            Ok(true) => return true,
            Ok(false) => {}
            Err(_) => return false,
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(RECHECK.min(deadline.saturating_duration_since(Instant::now()))).await;
    }
}
