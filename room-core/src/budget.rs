//! The gateway-wide budget of accepted updates not yet stored, as the room core sees it: a
//! plain counter of reserved bytes with a cap.
//!
//! A room reserves an accepted update's bytes before handing it to the log; past the cap it
//! stops queueing (the writer is closed with 1013) and, once the store answers again,
//! appends its whole state instead, reserved past the cap. Releasing and waiting for the
//! budget to empty (a draining gateway) belong to the shell around the core.

use std::sync::atomic::{AtomicUsize, Ordering};

pub struct PendingBudget {
    bytes: AtomicUsize,
    max: usize,
}

impl PendingBudget {
    pub fn new(max: usize) -> Self {
        PendingBudget {
            bytes: AtomicUsize::new(0),
            max,
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

    /// Releases `n` bytes once stored; true when that emptied the budget.
    pub fn release(&self, n: usize) -> bool {
        let before = self
            .bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                Some(used.saturating_sub(n))
            })
            .unwrap_or(0);
        before <= n
    }

    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_budget_and_frees_on_release() {
        let pending = PendingBudget::new(10);
        assert!(pending.try_reserve(6));
        assert!(!pending.try_reserve(5));
        pending.force_reserve(5);
        assert_eq!(pending.bytes(), 11);
        assert!(pending.release(11), "released to empty");
        assert!(pending.try_reserve(10));
        assert!(!pending.release(4), "6 bytes still reserved");
    }
}
