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
        let now = Instant::now();
        match self.last_seen.get_mut(gateway) {
            Some(mut at) => *at = now,
            None => {
                self.last_seen.insert(gateway.to_owned(), now);
            }
        }
    }

    pub fn forget(&self, gateway: &str) {
        self.last_seen.remove(gateway);
    }

    /// Removes and returns the gateways silent for longer than the timeout.
    pub fn take_expired(&self) -> Vec<String> {
        let now = Instant::now();
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
        let live = Liveness::new(Duration::from_millis(0));
        live.saw("a");
        std::thread::sleep(Duration::from_millis(2));
        live.saw("b");
        let expired = live.take_expired();
        assert!(expired.contains(&"a".to_owned()));
        assert!(live.take_expired().iter().all(|g| g != "a"));
    }
}
