//! What the in-memory engine's parts share: the server's clock (standing in for Redis
//! `TIME`) and locks that survive a panic elsewhere.

use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

/// Milliseconds since the server started, never 0 (a 0 stamp on an undo item means "an
/// inverse").
pub struct Clock(Instant);

impl Default for Clock {
    fn default() -> Self {
        Clock(Instant::now())
    }
}

impl Clock {
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.0.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .saturating_add(1)
    }
}

/// Locks `mutex`; a poisoned lock is taken over (every critical section of the engine
/// leaves its data consistent between statements that can panic).
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
