//! Overload is answered, not absorbed: per-client and per-subject rate limits on writes and on
//! expensive reads (token buckets: `N` requests per period, bursts of up to `N`), answered 429
//! problem+json with `Retry-After`. `0` turns a limit off (load tests and benchmarks do). The
//! sequencer's queue is bounded too (`store::sequencer`): a full queue is 503.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::http::Method;

/// Clients remembered at most; beyond it, full buckets are forgotten first.
const MAX_KEYS: usize = 100_000;

pub struct Limiter {
    /// Requests per `period`, and the largest burst.
    count: u32,
    period: Duration,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Limiter {
    pub fn per_second(count: u32) -> Self {
        Self::per(count, Duration::from_secs(1))
    }

    pub fn per_minute(count: u32) -> Self {
        Self::per(count, Duration::from_secs(60))
    }

    fn per(count: u32, period: Duration) -> Self {
        Self {
            count,
            period,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `key`'s bucket: `Ok`, or the seconds until one is available.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        if self.count == 0 {
            return Ok(());
        }
        let burst = f64::from(self.count);
        // Tokens regained per second.
        let rate = burst / self.period.as_secs_f64();
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_KEYS {
            buckets.retain(|_, (tokens, at)| *tokens + now.duration_since(*at).as_secs_f64() * rate < burst);
        }
        let (tokens, at) = buckets.entry(key.to_string()).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(burst);
        *at = now;
        if *tokens < 1.0 {
            return Err(((1.0 - *tokens) / rate).ceil().max(1.0) as u64);
        }
        *tokens -= 1.0;
        Ok(())
    }
}

/// Requests the limits apply to: every write, and the reads that cost a scan of the log.
pub fn is_costly(method: &Method, path: &str) -> bool {
    *method == Method::POST
        || path == "/v1/reports/transparency"
        || path == "/v1/audit/verify"
        || path == "/v1/log/entries"
        || path == "/v1/requests"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refuses_and_zero_is_off() {
        let l = Limiter::per_second(3);
        for _ in 0..3 {
            assert!(l.check("a").is_ok());
        }
        assert_eq!(l.check("a"), Err(1));
        assert!(l.check("b").is_ok());
        let off = Limiter::per_second(0);
        for _ in 0..1000 {
            assert!(off.check("a").is_ok());
        }
    }
}
