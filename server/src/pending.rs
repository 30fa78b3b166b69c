//! The gateway-wide budget of accepted updates not yet stored in Redis.
//!
//! While Redis is unreachable, rooms keep relaying between local clients and their
//! appenders hold accepted updates until Redis is back. The budget bounds that memory:
//! past it, a room stops queueing, closes the writing client with 1013, and once Redis
//! answers again appends its whole state instead, so nothing accepted is lost. A draining
//! gateway waits for the budget to empty before it exits.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

pub struct PendingAppends {
    bytes: AtomicUsize,
    max: usize,
    emptied: Notify,
}

impl PendingAppends {
    pub fn new(max: usize) -> Self {
        PendingAppends {
            bytes: AtomicUsize::new(0),
            max,
            emptied: Notify::new(),
        }
    }

    /// Reserves room for `n` bytes if the budget allows.
    pub fn try_reserve(&self, n: usize) -> bool {
        self.bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                let next = used.saturating_add(n);
                (next <= self.max).then_some(next)
            })
            .is_ok()
    }

    /// Reserves `n` bytes past the budget (recovery must not be refused).
    pub fn force_reserve(&self, n: usize) {
        self.bytes.fetch_add(n, Ordering::AcqRel);
    }

    /// Releases `n` bytes once stored.
    pub fn release(&self, n: usize) {
        let before = self
            .bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                Some(used.saturating_sub(n))
            })
            .unwrap_or(0);
        if before <= n {
            self.emptied.notify_waiters();
        }
    }

    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Acquire)
    }

    /// Waits until everything reserved was stored.
    pub async fn flushed(&self) {
        loop {
            let emptied = self.emptied.notified();
            if self.bytes() == 0 {
                return;
            }
            emptied.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_budget_and_frees_on_release() {
        let pending = PendingAppends::new(10);
        assert!(pending.try_reserve(6));
        assert!(!pending.try_reserve(5));
        pending.force_reserve(5);
        assert_eq!(pending.bytes(), 11);
        pending.release(11);
        assert!(pending.try_reserve(10));
    }
}
