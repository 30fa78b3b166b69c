//! Each connection's budget of slow origin checks.
//!
//! An honest keystroke passes the origin check with two index look-ups
//! ([`crate::origin_order`]); an item that neither sits between neighbours nor continues its
//! author's typing takes the slow path: a walk over the items between its origins and a
//! read of every block's references, O(document). Honest clients need that only where they
//! typed at a place others typed at concurrently, or when they reconnect with offline edits
//! there. A crafted client could need it for every item, so each connection gets a bucket of
//! slow checks: [`BURST`] at first, refilled at [`PER_SEC`]; an update that needs more than
//! is left is refused before the work and the connection closed with 1008
//! (`origin-check-budget`).

/// Slow checks a connection may use at once.
pub const BURST: u32 = 32;
/// Slow checks a connection gets back per second.
pub const PER_SEC: u32 = 4;

/// A token bucket of slow checks, on the room core's millisecond clock.
#[derive(Debug, Clone, Default)]
pub struct SlowChecks {
    /// Spent slow checks, in thousandths (they come back at [`PER_SEC`]).
    spent_milli: u64,
    /// When `spent_milli` was last brought up to date (`None`: not yet used).
    at_ms: Option<u64>,
}

impl SlowChecks {
    /// How many slow checks the connection may use now.
    pub fn allowance(&mut self, now_ms: u64) -> u32 {
        let elapsed = self.at_ms.map_or(0, |at| now_ms.saturating_sub(at));
        self.at_ms = Some(now_ms);
        let back = elapsed.saturating_mul(u64::from(PER_SEC));
        self.spent_milli = self.spent_milli.saturating_sub(back);
        let left = (u64::from(BURST) * 1000).saturating_sub(self.spent_milli) / 1000;
        left as u32
    }

    /// Notes `n` slow checks used.
    pub fn spend(&mut self, n: u32) {
        self.spent_milli = self.spent_milli.saturating_add(u64::from(n) * 1000);
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
