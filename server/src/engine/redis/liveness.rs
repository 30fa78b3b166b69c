//! Which other gateways are alive, from their heartbeats on the gateways channel.
//!
//! A gateway killed with SIGKILL says no goodbye; its clients' cursors must still vanish.
//! Every gateway publishes a heartbeat a few times per timeout; one not heard from for a
//! whole timeout is declared gone and every room drops the cursors that came from it.

use std::time::{Duration, Instant};

use dashmap::DashMap;

pub struct Liveness {
    last_seen: DashMap<String, Instant>,
    timeout: Duration,
}

impl Liveness {
    pub fn new(timeout: Duration) -> Self {
        Liveness {
            last_seen: DashMap::new(),
            timeout,
        }
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Records a sign of life.
    pub fn saw(&self, gateway: &str) {
        self.saw_at(gateway, Instant::now());
    }

    fn saw_at(&self, gateway: &str, now: Instant) {
        match self.last_seen.get_mut(gateway) {
            Some(mut at) => *at = now,
            None => {
                self.last_seen.insert(gateway.to_owned(), now);
            }
        }
    }

    /// Counts every known gateway as just heard from.
    pub fn refresh_all(&self) {
        let now = Instant::now();
        for mut at in self.last_seen.iter_mut() {
            *at = now;
        }
    }

    /// Gateways heard from and not yet declared gone.
    pub fn len(&self) -> usize {
        self.last_seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.last_seen.is_empty()
    }

    pub fn forget(&self, gateway: &str) {
        self.last_seen.remove(gateway);
    }

    /// Removes and returns the gateways silent for longer than the timeout.
    pub fn take_expired(&self) -> Vec<String> {
        self.take_expired_at(Instant::now())
    }

    fn take_expired_at(&self, now: Instant) -> Vec<String> {
        let expired: Vec<String> = self
            .last_seen
            .iter()
            .filter(|e| now.duration_since(*e.value()) > self.timeout)
            .map(|e| e.key().clone())
            .collect();
        for gateway in &expired {
            self.last_seen
                .remove_if(gateway, |_, at| now.duration_since(*at) > self.timeout);
        }
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_silent_gateways_only() {
        let start = Instant::now();
        let live = Liveness::new(Duration::from_secs(6));
        live.saw_at("a", start);
        live.saw_at("b", start + Duration::from_secs(4));
        assert!(
            live.take_expired_at(start + Duration::from_secs(5))
                .is_empty()
        );
        assert_eq!(
            live.take_expired_at(start + Duration::from_secs(7)),
            vec!["a".to_owned()]
        );
        // Gone once reported; b still counts as alive until its own timeout.
        assert!(
            live.take_expired_at(start + Duration::from_secs(8))
                .is_empty()
        );
        assert_eq!(
            live.take_expired_at(start + Duration::from_secs(11)),
            vec!["b".to_owned()]
        );
    }
}
