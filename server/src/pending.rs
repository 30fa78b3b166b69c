//! The gateway-wide budget of accepted updates not yet stored in Redis, with the waiting a
//! draining gateway does on it.
//!
//! While Redis is unreachable, rooms keep relaying between local clients and their
//! appenders hold accepted updates until Redis is back. The budget bounds that memory
//! (the counter rooms reserve from is [`PendingBudget`]: past it, a room stops queueing,
//! closes the writing client with 1013, and once Redis answers again appends its whole
//! state instead, so nothing accepted is lost). A draining gateway waits here for the
//! budget to empty before it exits.

use std::sync::Arc;

use tokio::sync::Notify;

use collab_room_core::budget::PendingBudget;

pub struct PendingAppends {
    budget: Arc<PendingBudget>,
    emptied: Notify,
}

impl PendingAppends {
    pub fn new(max: usize) -> Self {
        PendingAppends {
            budget: Arc::new(PendingBudget::new(max)),
            emptied: Notify::new(),
        }
    }

    /// The counter rooms reserve from.
    pub fn budget(&self) -> Arc<PendingBudget> {
        self.budget.clone()
    }

    /// Releases `n` bytes once stored.
    pub fn release(&self, n: usize) {
        if self.budget.release(n) {
            self.emptied.notify_waiters();
        }
    }

    pub fn bytes(&self) -> usize {
        self.budget.bytes()
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
