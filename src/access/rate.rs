//! Request rate limits per key (an API token, a stdio user): a token bucket
//! per key, in memory and bounded. Unlike [`super::throttle`], which slows
//! failed logins down, this caps how much work one caller may ask for, so an
//! assistant in a loop cannot take the server's time from everyone else.
//! Knows nothing of HTTP or MCP.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Keys kept at most; the least recently seen goes first.
const MAX_KEYS: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Per-key token buckets; cheap to clone and share.
#[derive(Debug, Clone)]
pub struct RateLimit {
    per_minute: u32,
    burst: u32,
    buckets: Arc<Mutex<HashMap<String, Bucket>>>,
}

impl RateLimit {
    /// `per_minute` requests a minute on average, up to `burst` at once
    /// (0 per minute: no limit).
    pub fn new(per_minute: u32, burst: u32) -> RateLimit {
        RateLimit {
            per_minute,
            burst: burst.max(1),
            buckets: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Takes one request for `key`: `Ok` if allowed, else how long to wait.
    pub fn take(&self, key: &str) -> Result<(), Duration> {
        self.take_at(key, Instant::now())
    }

    fn take_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let rate = f64::from(self.per_minute) / 60.0;
        let mut buckets = match self.buckets.lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        };
        if buckets.len() >= MAX_KEYS && !buckets.contains_key(key) {
            if let Some(oldest) = buckets
                .iter()
                .min_by_key(|(_, b)| b.last)
                .map(|(k, _)| k.clone())
            {
                buckets.remove(&oldest);
            }
        }
        let burst = f64::from(self.burst);
        let b = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_average_rate_per_key() {
        let r = RateLimit::new(60, 3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(r.take_at("a", t0).is_ok());
        }
        let wait = r.take_at("a", t0).expect_err("over the burst");
        assert!(wait <= Duration::from_secs(1) && wait > Duration::ZERO);
        assert!(r.take_at("b", t0).is_ok(), "keys are independent");
        assert!(r.take_at("a", t0 + Duration::from_millis(1010)).is_ok());
        assert!(RateLimit::new(0, 0).take("x").is_ok());
    }
}
