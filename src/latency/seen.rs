//! Client networks seen in queries: lock-free rings the query path writes and a task drains.
//!
//! Recording is three relaxed atomic loads and stores (no read-modify-write) on a ring
//! owned (mostly) by the calling thread: a per-thread shard index picks one of [`SHARDS`]
//! rings, each with its own cursor on its own cache line, so threads rarely share a line. A
//! ring that fills before it is drained overwrites its oldest slots, and two threads sharing
//! a ring may now and then overwrite each other's slot; the drained stream is then a
//! sample of the traffic, which is all a busiest-networks summary needs. Slots hold
//! [`NetKey`] values (never 0), so 0 marks an empty slot.

use std::cell::Cell;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::net::{NetKey, Prefixes};

/// Rings (one is picked per thread).
pub(crate) const SHARDS: usize = 16;

#[repr(align(64))]
struct Ring {
    cursor: AtomicUsize,
    slots: Box<[AtomicU64]>,
}

/// The rings of network keys awaiting the drain.
pub(crate) struct Seen {
    prefixes: Prefixes,
    rings: Box<[Ring]>,
    mask: usize,
}

static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static THREAD_SHARD: Cell<usize> = Cell::new(NEXT_THREAD.fetch_add(1, Ordering::Relaxed));
}

impl Seen {
    /// Rings of `slots` entries each (rounded up to a power of two; 0 disables recording).
    pub(crate) fn new(prefixes: Prefixes, slots: usize) -> Self {
        let (per_ring, mask) = if slots == 0 {
            (0, 0)
        } else {
            let n = slots.next_power_of_two();
            (n, n - 1)
        };
        let rings = (0..if slots == 0 { 0 } else { SHARDS })
            .map(|_| Ring {
                cursor: AtomicUsize::new(0),
                slots: (0..per_ring).map(|_| AtomicU64::new(0)).collect(),
            })
            .collect();
        Self {
            prefixes,
            rings,
            mask,
        }
    }

    pub(crate) fn prefixes(&self) -> Prefixes {
        self.prefixes
    }

    /// Whether recording does anything.
    #[cfg(test)]
    pub(crate) fn enabled(&self) -> bool {
        !self.rings.is_empty()
    }

    /// Notes the network of `addr` (lock-free; never blocks or allocates).
    pub(crate) fn record(&self, addr: IpAddr) {
        if self.rings.is_empty() {
            return;
        }
        let key = self.prefixes.key(addr).raw();
        let shard = THREAD_SHARD.with(Cell::get) % self.rings.len();
        let ring = &self.rings[shard];
        // A load and a store, not a read-modify-write: two threads sharing a ring may now
        // and then write the same slot, which only thins the sample.
        let i = ring.cursor.load(Ordering::Relaxed);
        ring.cursor.store(i.wrapping_add(1), Ordering::Relaxed);
        ring.slots[i & self.mask].store(key, Ordering::Relaxed);
    }

    /// Notes the networks of one query: the resolver (packet source) and, when the query
    /// carries ECS at least as long as the table prefix, the client network.
    pub(crate) fn record_query(&self, source: IpAddr, ecs: Option<(IpAddr, u8)>) {
        self.record(source);
        if let Some((addr, prefix)) = ecs
            && prefix >= self.prefixes.of(addr)
            && self.prefixes.key(addr) != self.prefixes.key(source)
        {
            self.record(addr);
        }
    }

    /// Takes every recorded key out of the rings into `out`.
    pub(crate) fn drain(&self, out: &mut Vec<NetKey>) {
        for ring in &self.rings {
            for slot in &ring.slots {
                // Read first: empty slots are not written, so their lines stay shared.
                if slot.load(Ordering::Relaxed) == 0 {
                    continue;
                }
                if let Some(key) = NetKey::from_raw(slot.swap(0, Ordering::Relaxed)) {
                    out.push(key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn addr(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn records_resolver_and_ecs_networks_then_drains_empty() {
        let seen = Seen::new(Prefixes::default(), 64);
        seen.record_query(addr("192.0.2.53"), Some((addr("198.51.100.0"), 24)));
        seen.record_query(addr("192.0.2.53"), Some((addr("203.0.113.0"), 20)));
        seen.record_query(addr("192.0.2.53"), Some((addr("192.0.2.0"), 24)));
        let mut out = Vec::new();
        seen.drain(&mut out);
        let p = Prefixes::default();
        let mut nets: Vec<String> = out.iter().map(|k| p.network(*k).to_string()).collect();
        nets.sort();
        assert_eq!(
            nets,
            [
                "192.0.2.0/24",
                "192.0.2.0/24",
                "192.0.2.0/24",
                "198.51.100.0/24"
            ]
        );
        out.clear();
        seen.drain(&mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn a_full_ring_keeps_the_latest_and_disabled_records_nothing() {
        let seen = Seen::new(Prefixes::default(), 4);
        for i in 0..10u8 {
            seen.record(IpAddr::from([10, 0, i, 1]));
        }
        let mut out = Vec::new();
        seen.drain(&mut out);
        assert_eq!(out.len(), 4);
        let off = Seen::new(Prefixes::default(), 0);
        off.record(addr("10.0.0.1"));
        assert!(!off.enabled());
        off.drain(&mut out);
        assert_eq!(out.len(), 4);
    }

    #[test]
    fn many_threads_record_without_losing_the_ring_bound() {
        let seen = Arc::new(Seen::new(Prefixes::default(), 1024));
        let threads: Vec<_> = (0..4u8)
            .map(|t| {
                let seen = seen.clone();
                std::thread::spawn(move || {
                    for i in 0..500u16 {
                        seen.record(IpAddr::from([10, t, (i % 200) as u8, 1]));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let mut out = Vec::new();
        seen.drain(&mut out);
        assert_eq!(out.len(), 2000);
        assert!(out.iter().all(|k| k.is_v4()));
    }
}
