//! Response rate limiting per client network (in the spirit of BIND's RRL), lock-free.
//!
//! Each client network (/24 IPv4, /56 IPv6 by default) hashes to one of a fixed number of
//! token buckets, each a single `AtomicU64` (milliseconds of the last refill, tokens in
//! thousandths) updated by compare-and-swap: bounded memory whatever the traffic, no lock.
//! Networks that collide share a bucket, which only ever limits more, never less. Over the
//! limit, a response is dropped, except every `slip`-th one, which is sent truncated (TC=1)
//! so a real resolver behind a spoofed or busy network retries over TCP.

use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::client_subnet::truncate;
use crate::config::ServerConfig;

/// Settings from the server configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RrlConfig {
    /// Responses per second per client network; 0 turns limiting off.
    pub(crate) responses_per_second: u32,
    /// Responses a quiet network may send at once.
    pub(crate) burst: u32,
    /// Every `slip`-th limited response is sent with TC=1 instead of dropped; 0 = never.
    pub(crate) slip: u32,
    pub(crate) ipv4_prefix: u8,
    pub(crate) ipv6_prefix: u8,
    /// Number of buckets (rounded up to a power of two).
    pub(crate) table_size: usize,
}

impl RrlConfig {
    /// The response rate limiter's settings in a server configuration.
    pub(crate) fn from_server(config: &ServerConfig) -> Self {
        Self {
            responses_per_second: config.rrl_responses_per_second,
            burst: match config.rrl_burst {
                0 => config.rrl_responses_per_second,
                b => b,
            },
            slip: config.rrl_slip,
            ipv4_prefix: config.rrl_ipv4_prefix,
            ipv6_prefix: config.rrl_ipv6_prefix,
            table_size: config.rrl_table_size,
        }
    }
}

/// What to do with one UDP response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Send,
    /// Send an empty TC=1 reply instead.
    Slip,
    Drop,
}

pub struct Rrl {
    config: RrlConfig,
    buckets: Box<[AtomicU64]>,
    slips: Box<[AtomicU64]>,
    epoch: Instant,
}

impl Rrl {
    /// `None` when limiting is off.
    pub(crate) fn new(config: RrlConfig) -> Option<Self> {
        if config.responses_per_second == 0 {
            return None;
        }
        let size = config.table_size.clamp(1, 1 << 24).next_power_of_two();
        Some(Self {
            config,
            buckets: (0..size).map(|_| AtomicU64::new(0)).collect(),
            slips: (0..size).map(|_| AtomicU64::new(0)).collect(),
            epoch: Instant::now(),
        })
    }

    /// Charge one response to `client`'s network.
    pub(crate) fn check(&self, client: IpAddr) -> Verdict {
        let now = self.epoch.elapsed().as_millis() as u64;
        self.check_at(client, now)
    }

    /// `check` at a given time in milliseconds since the limiter started (pure for tests).
    pub(crate) fn check_at(&self, client: IpAddr, now_ms: u64) -> Verdict {
        let slot = self.slot(client);
        if self.take(&self.buckets[slot], now_ms) {
            return Verdict::Send;
        }
        let slip = u64::from(self.config.slip);
        if slip > 0
            && self.slips[slot]
                .fetch_add(1, Ordering::Relaxed)
                .is_multiple_of(slip)
        {
            Verdict::Slip
        } else {
            Verdict::Drop
        }
    }

    fn slot(&self, client: IpAddr) -> usize {
        let prefix = match client {
            IpAddr::V4(_) => self.config.ipv4_prefix,
            IpAddr::V6(_) => self.config.ipv6_prefix,
        };
        let mut h = rustc_hash::FxBuildHasher.build_hasher();
        match truncate(client, prefix) {
            IpAddr::V4(a) => h.write_u32(u32::from(a)),
            IpAddr::V6(a) => h.write_u128(u128::from(a)),
        }
        (h.finish() as usize) & (self.buckets.len() - 1)
    }

    /// Refill by elapsed time and take one token; false when none is left.
    fn take(&self, bucket: &AtomicU64, now_ms: u64) -> bool {
        // Offset by one so a stored zero always means "never used".
        let now_ms = now_ms + 1;
        let rate = u64::from(self.config.responses_per_second);
        let cap = u64::from(self.config.burst.max(1)) * 1000;
        let mut current = bucket.load(Ordering::Relaxed);
        for _ in 0..4 {
            let (last, tokens) = (current >> 32, current & 0xffff_ffff);
            let (last, tokens) = if current == 0 {
                (now_ms, cap)
            } else {
                (last, tokens)
            };
            let elapsed = now_ms.saturating_sub(last);
            let refilled = (tokens + elapsed.saturating_mul(rate)).min(cap);
            let (left, ok) = match refilled.checked_sub(1000) {
                Some(left) => (left, true),
                None => (refilled, false),
            };
            let next = ((now_ms & 0xffff_ffff) << 32) | left.min(0xffff_ffff);
            match bucket.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return ok,
                Err(seen) => current = seen,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rrl(rate: u32, burst: u32, slip: u32) -> Rrl {
        Rrl::new(RrlConfig {
            responses_per_second: rate,
            burst,
            slip,
            ipv4_prefix: 24,
            ipv6_prefix: 56,
            table_size: 1024,
        })
        .unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn off_when_rate_is_zero() {
        let mut c = rrl(1, 1, 0).config;
        c.responses_per_second = 0;
        assert!(Rrl::new(c).is_none());
    }

    #[test]
    fn burst_then_limited_then_refilled() {
        let r = rrl(10, 5, 0);
        let sent = (0..20).filter(|_| r.check_at(ip("192.0.2.1"), 1000) == Verdict::Send);
        assert_eq!(sent.count(), 5);
        // The same /24 shares the bucket; another network does not.
        assert_eq!(r.check_at(ip("192.0.2.200"), 1000), Verdict::Drop);
        assert_eq!(r.check_at(ip("198.51.100.1"), 1000), Verdict::Send);
        // 10/s: after 300 ms three more responses.
        let later = (0..10).filter(|_| r.check_at(ip("192.0.2.1"), 1300) == Verdict::Send);
        assert_eq!(later.count(), 3);
    }

    #[test]
    fn every_slip_th_limited_response_is_truncated() {
        let r = rrl(1, 1, 2);
        assert_eq!(r.check_at(ip("2001:db8::1"), 5), Verdict::Send);
        let verdicts: Vec<Verdict> = (0..4).map(|_| r.check_at(ip("2001:db8::2"), 5)).collect();
        assert_eq!(
            verdicts,
            [Verdict::Slip, Verdict::Drop, Verdict::Slip, Verdict::Drop]
        );
    }
}
