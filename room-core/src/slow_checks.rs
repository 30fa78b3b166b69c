//! Each connection's budget of work for slow origin checks.
//!
//! An honest keystroke passes the origin check with two index look-ups
//! ([`crate::origin_order`]); an item that neither sits between neighbours nor continues its
//! author's typing takes the slow path: a walk over the runs between its origins and over
//! the blocks of its causal past, O(document) at worst. Honest clients need that where they
//! typed at a place others typed at concurrently, and when they reconnect with offline edits
//! made at many places (one walk over the document for all of an author's items of an
//! update). A crafted client could need it for every item, so each connection gets a bucket
//! of work, counted in runs and blocks read: [`BURST`] at first, refilled at [`PER_SEC`]. An
//! update whose checks need more than is left is refused before integration and the
//! connection closed with 1008 (`origin-check-budget`).

/// Work (runs and blocks read) a connection may use at once: a few walks over a large
/// document, some tens of milliseconds.
pub const BURST: u64 = 1_000_000;
/// Work a connection gets back per second.
pub const PER_SEC: u64 = 50_000;

/// A token bucket of slow-check work, on the room core's millisecond clock.
#[derive(Debug, Clone, Default)]
pub struct SlowChecks {
    /// Work spent, in thousandths (it comes back at [`PER_SEC`]).
    spent_milli: u64,
    /// When `spent_milli` was last brought up to date (`None`: not yet used).
    at_ms: Option<u64>,
}

impl SlowChecks {
    /// How much work the connection may use now.
    pub fn allowance(&mut self, now_ms: u64) -> u64 {
        let elapsed = self.at_ms.map_or(0, |at| now_ms.saturating_sub(at));
        self.at_ms = Some(now_ms);
        let back = elapsed.saturating_mul(PER_SEC);
        self.spent_milli = self.spent_milli.saturating_sub(back);
        BURST.saturating_mul(1000).saturating_sub(self.spent_milli) / 1000
    }

    /// Notes `work` used.
    pub fn spend(&mut self, work: u64) {
        self.spent_milli = self.spent_milli.saturating_add(work.saturating_mul(1000));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_burst_is_spent_and_comes_back_at_its_rate() {
        let mut checks = SlowChecks::default();
        assert_eq!(checks.allowance(1_000), BURST);
        checks.spend(BURST);
        assert_eq!(checks.allowance(1_000), 0);
        assert_eq!(checks.allowance(1_500), PER_SEC / 2);
        assert_eq!(
            checks.allowance(100_000),
            BURST,
            "never more than the burst"
        );
    }
}
