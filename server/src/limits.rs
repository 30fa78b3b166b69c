//! Per-connection rate limits: token buckets for messages and bytes.
//!
//! A bucket holds up to `burst` tokens and refills at `rate` per second; a message that
//! finds too few tokens breaks the limit. A rate of 0 disables the bucket.

use std::time::Instant;

#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    refilled: Instant,
}

impl TokenBucket {
    pub fn new(rate: f64, burst: f64) -> Self {
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            refilled: Instant::now(),
        }
    }

    /// Takes `n` tokens if there are enough, at `now`.
    pub fn take_at(&mut self, n: f64, now: Instant) -> bool {
        if self.rate <= 0.0 {
            return true;
        }
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.refilled = now;
        if self.tokens >= n {
            self.tokens -= n;
            true
        } else {
            false
        }
    }

    pub fn take(&mut self, n: f64) -> bool {
        self.take_at(n, Instant::now())
    }
}

/// The limits one connection's input is held to.
#[derive(Debug, Clone)]
pub struct InputLimits {
    pub messages: TokenBucket,
    pub bytes: TokenBucket,
}

impl InputLimits {
    /// Messages may burst to twice the rate; bytes to one second's worth or one largest
    /// frame, whichever is more (a reconnecting client uploads its whole state at once).
    pub fn new(messages_per_sec: f64, bytes_per_sec: f64, max_frame: usize) -> Self {
        InputLimits {
            messages: TokenBucket::new(messages_per_sec, (messages_per_sec * 2.0).max(1.0)),
            bytes: TokenBucket::new(bytes_per_sec, bytes_per_sec.max(max_frame as f64)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn refills_at_its_rate_up_to_its_burst() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10.0, 5.0);
        for _ in 0..5 {
            assert!(bucket.take_at(1.0, start));
        }
        assert!(!bucket.take_at(1.0, start));
        assert!(bucket.take_at(1.0, start + Duration::from_millis(100)));
        assert!(!bucket.take_at(1.0, start + Duration::from_millis(100)));
        // A long pause refills to the burst, not beyond.
        let later = start + Duration::from_secs(60);
        assert!(bucket.take_at(5.0, later));
        assert!(!bucket.take_at(1.0, later));
    }

    #[test]
    fn a_zero_rate_is_unlimited() {
        let mut bucket = TokenBucket::new(0.0, 0.0);
        assert!((0..10_000).all(|_| bucket.take(1e9)));
    }
}
