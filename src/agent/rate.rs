//! The agent's global probe rate cap: a token bucket (pure) and its async wrapper.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Tokens refill at `rate` per second up to `burst`. Each probe takes one token in
/// advance; when none is left the caller waits its turn, so over any interval of `t`
/// seconds at most `burst + rate × t` probes start.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: f64,
}

impl TokenBucket {
    /// A full bucket; `rate` is clamped to at least 0.01/s, `burst` to at least 1.
    pub(crate) fn new(rate: f64, burst: f64) -> Self {
        let rate = if rate.is_finite() {
            rate.max(0.01)
        } else {
            0.01
        };
        let burst = if burst.is_finite() {
            burst.max(1.0)
        } else {
            1.0
        };
        Self {
            rate,
            burst,
            tokens: burst,
            last: 0.0,
        }
    }

    /// Takes a token at time `now` (seconds, monotonic); returns how long to wait before
    /// using it (0 when one was available).
    pub(crate) fn take(&mut self, now: f64) -> f64 {
        if now > self.last {
            self.tokens = (self.tokens + (now - self.last) * self.rate).min(self.burst);
            self.last = now;
        }
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            0.0
        } else {
            -self.tokens / self.rate
        }
    }
}

/// A shared [`TokenBucket`] on the Tokio clock.
pub struct Limiter {
    start: Instant,
    bucket: Mutex<TokenBucket>,
}

impl Limiter {
    /// At most `rate` probes per second, bursts of up to `min(rate, 10)`.
    pub fn new(rate: f64) -> Self {
        Self {
            start: Instant::now(),
            bucket: Mutex::new(TokenBucket::new(rate, rate.min(10.0))),
        }
    }

    /// Waits until a probe may start.
    pub(crate) async fn acquire(&self) {
        let now = self.start.elapsed().as_secs_f64();
        let wait = self.bucket.lock().map_or(1.0, |mut b| b.take(now));
        if wait > 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(wait.min(3600.0))).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_paces_at_the_rate() {
        let mut b = TokenBucket::new(10.0, 3.0);
        let waits: Vec<f64> = (0..6).map(|_| b.take(0.0)).collect();
        assert_eq!(&waits[..3], [0.0, 0.0, 0.0]);
        for (i, w) in waits[3..].iter().enumerate() {
            assert!((w - 0.1 * (i + 1) as f64).abs() < 1e-9, "{waits:?}");
        }
        // One second later the debt is paid and 7 more tokens accrued... capped at 3.
        let mut b = TokenBucket::new(10.0, 3.0);
        for _ in 0..3 {
            b.take(0.0);
        }
        assert_eq!(b.take(10.0), 0.0);
        assert_eq!(b.take(10.0), 0.0);
        assert_eq!(b.take(10.0), 0.0);
        assert!(b.take(10.0) > 0.0);
    }

    #[test]
    fn never_more_than_burst_plus_rate_times_t() {
        let (rate, burst) = (5.0, 2.0);
        let mut b = TokenBucket::new(rate, burst);
        // A greedy caller asking every 10 ms for 10 s: start times are now + wait.
        let mut starts = Vec::new();
        for i in 0..1000 {
            let now = f64::from(i) * 0.01;
            starts.push(now + b.take(now));
        }
        starts.sort_by(f64::total_cmp);
        for (i, s) in starts.iter().enumerate() {
            let window = starts.iter().skip(i).take_while(|t| **t <= s + 1.0).count();
            assert!(window as f64 <= burst + rate + 1e-9, "{window} in 1 s");
        }
    }

    #[test]
    fn silly_settings_are_clamped() {
        let mut b = TokenBucket::new(0.0, 0.0);
        assert_eq!(b.take(0.0), 0.0);
        assert!((b.take(0.0) - 100.0).abs() < 1e-9);
        let mut b = TokenBucket::new(f64::NAN, f64::INFINITY);
        assert_eq!(b.take(0.0), 0.0);
    }
}
