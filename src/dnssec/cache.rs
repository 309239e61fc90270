//! The signature cache: one RRSIG per distinct signed RRset (key, labels, owner, type, TTL,
//! RDATA), read lock-free by the query path and rebuilt off it.
//!
//! Readers load the published map with one atomic load (`ArcSwap`). A miss signs inline
//! when the per-second signing budget allows (else the caller answers without signing, see
//! `dns/sign.rs`) and offers the new entry to a pending list with `try_lock`, so a reader
//! never waits: a contended offer is dropped and the RRset signed again next time.
//! `maintain` (a background task, every second) folds the pending entries in, re-signs
//! entries that are still used and within their refresh window, drops entries idle for an
//! hour, and keeps the most recently used `capacity` entries, then publishes the new map.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use rustc_hash::FxBuildHasher;

use super::key::SigningKey;
use super::rrsig::{self, SigFields};

/// Entries unused this long are dropped.
const IDLE_SECS: u32 = 3600;
/// An entry with less than this left before it expires is not served (signed afresh).
const MIN_LEFT_SECS: u32 = 3600;
/// Signatures start this long in the past (clock skew).
pub const INCEPTION_SKEW_SECS: u32 = 3600;

/// One cached signature.
pub struct Entry {
    /// The RRSIG RDATA.
    pub rrsig: Box<[u8]>,
    /// The signature's expiration, Unix seconds.
    pub expiration: u32,
    /// When `maintain` re-signs it.
    refresh_at: u32,
    last_used: AtomicU32,
    key: Arc<SigningKey>,
    rtype: u16,
    labels: u8,
    ttl: u32,
    signer: Box<[u8]>,
    validity: u32,
    refresh: u32,
}

/// What to sign: everything but the times, which the cache picks.
pub struct ToSign<'a> {
    /// The key.
    pub key: &'a Arc<SigningKey>,
    /// The zone apex in lowercase wire form.
    pub signer: &'a [u8],
    /// Type covered.
    pub rtype: u16,
    /// RRSIG labels field.
    pub labels: u8,
    /// Original TTL.
    pub ttl: u32,
    /// Signature validity in seconds.
    pub validity: u32,
    /// Re-sign when less than this many seconds remain.
    pub refresh: u32,
}

/// How a signature was found.
pub enum Found {
    /// From the published map.
    Cached(Arc<Entry>),
    /// Signed just now.
    Signed(Arc<Entry>),
    /// Not in the cache, and the signing budget of this second is spent.
    OverBudget,
}

type Map = HashMap<Box<[u8]>, Arc<Entry>, FxBuildHasher>;
type Pending = Vec<(Box<[u8]>, Arc<Entry>)>;

/// The shared signature cache (one per server, across reloads).
pub struct SigCache {
    map: ArcSwap<Map>,
    pending: Mutex<Pending>,
    capacity: usize,
    budget_per_sec: u32,
    /// (second << 32) | signatures made inline in that second.
    budget: AtomicU64,
    /// Bumped whenever the published map changes signatures that replies may hold.
    epoch: AtomicU64,
}

impl SigCache {
    /// A cache of at most `capacity` signatures, signing at most `budget_per_sec` RRsets per
    /// second on the query path (0: no limit).
    pub fn new(capacity: usize, budget_per_sec: u32) -> Self {
        Self {
            map: ArcSwap::from_pointee(Map::default()),
            pending: Mutex::new(Vec::new()),
            capacity,
            budget_per_sec,
            budget: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
        }
    }

    /// The cache key of an RRset: key id, labels field, then the RRset as signed.
    pub fn key(what: &ToSign<'_>, rrset: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(9 + rrset.len());
        k.extend_from_slice(&what.key.id);
        k.push(what.labels);
        k.extend_from_slice(rrset);
        k
    }

    /// The signature of the RRset `cache_key` (from `key`), signing it when it is missing.
    /// `over_budget_ok`: sign even past the budget (TCP, explain).
    pub fn get_or_sign(
        &self,
        what: &ToSign<'_>,
        cache_key: Vec<u8>,
        now: u32,
        over_budget_ok: bool,
    ) -> Found {
        if let Some(e) = self.map.load().get(cache_key.as_slice())
            && e.expiration > now.saturating_add(MIN_LEFT_SECS)
        {
            if e.last_used.load(Ordering::Relaxed) != now {
                e.last_used.store(now, Ordering::Relaxed);
            }
            return Found::Cached(Arc::clone(e));
        }
        if !self.take_budget(now) && !over_budget_ok {
            return Found::OverBudget;
        }
        let entry = Arc::new(sign_entry(what, &cache_key[9..], now));
        if let Ok(mut pending) = self.pending.try_lock()
            && pending.len() < self.capacity
        {
            pending.push((cache_key.into_boxed_slice(), Arc::clone(&entry)));
        }
        Found::Signed(entry)
    }

    /// Count one inline signature against this second's budget; false when it is spent.
    fn take_budget(&self, now: u32) -> bool {
        if self.budget_per_sec == 0 {
            return true;
        }
        let mut cur = self.budget.load(Ordering::Relaxed);
        loop {
            let (sec, used) = ((cur >> 32) as u32, cur as u32);
            let next = if sec == now {
                if used >= self.budget_per_sec {
                    return false;
                }
                cur + 1
            } else {
                (u64::from(now) << 32) | 1
            };
            match self
                .budget
                .compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(seen) => cur = seen,
            }
        }
    }

    /// Signatures in the published map.
    pub fn len(&self) -> usize {
        self.map.load().len()
    }

    /// Whether the published map is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Changes whenever published signatures are replaced (a reply remembered with the old
    /// ones must not outlive them).
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Relaxed)
    }

    /// Fold pending entries in, re-sign entries due for refresh, drop idle ones, bound the
    /// size, publish. Returns how many signatures it made.
    pub fn maintain(&self, now: u32) -> usize {
        let pending = std::mem::take(
            &mut *self
                .pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        let old = self.map.load_full();
        let due = |e: &Entry| {
            now >= e.refresh_at
                || now.saturating_sub(e.last_used.load(Ordering::Relaxed)) > IDLE_SECS
        };
        if pending.is_empty() && !old.values().any(|e| due(e)) {
            return 0;
        }
        let mut signed = 0;
        let mut map = Map::with_capacity_and_hasher(old.len() + pending.len(), FxBuildHasher);
        for (k, e) in old.iter() {
            let last = e.last_used.load(Ordering::Relaxed);
            if now.saturating_sub(last) > IDLE_SECS {
                continue;
            }
            let e = if now >= e.refresh_at {
                signed += 1;
                let what = ToSign {
                    key: &e.key,
                    signer: &e.signer,
                    rtype: e.rtype,
                    labels: e.labels,
                    ttl: e.ttl,
                    validity: e.validity,
                    refresh: e.refresh,
                };
                let fresh = sign_entry(&what, &k[9..], now);
                fresh.last_used.store(last, Ordering::Relaxed);
                Arc::new(fresh)
            } else {
                Arc::clone(e)
            };
            map.insert(k.clone(), e);
        }
        for (k, e) in pending {
            map.entry(k).or_insert(e);
        }
        if map.len() > self.capacity {
            let mut by_use: Vec<(u32, Box<[u8]>)> = map
                .iter()
                .map(|(k, e)| (e.last_used.load(Ordering::Relaxed), k.clone()))
                .collect();
            by_use.sort_unstable_by_key(|b| std::cmp::Reverse(b.0));
            for (_, k) in by_use.drain(self.capacity..) {
                map.remove(&k);
            }
        }
        self.map.store(Arc::new(map));
        if signed > 0 {
            self.epoch.fetch_add(1, Ordering::Relaxed);
        }
        signed
    }
}

fn sign_entry(what: &ToSign<'_>, rrset: &[u8], now: u32) -> Entry {
    let expiration = now.saturating_add(what.validity);
    let fields = SigFields {
        rtype: what.rtype,
        labels: what.labels,
        ttl: what.ttl,
        inception: now.saturating_sub(INCEPTION_SKEW_SECS),
        expiration,
        signer: what.signer,
    };
    Entry {
        rrsig: rrsig::sign(what.key, &fields, rrset).into_boxed_slice(),
        expiration,
        refresh_at: expiration.saturating_sub(what.refresh),
        last_used: AtomicU32::new(now),
        key: Arc::clone(what.key),
        rtype: what.rtype,
        labels: what.labels,
        ttl: what.ttl,
        signer: what.signer.into(),
        validity: what.validity,
        refresh: what.refresh,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dnssec::{Algorithm, KeyRole};

    fn key() -> Arc<SigningKey> {
        let pem = SigningKey::generate_pem(Algorithm::Ed25519);
        Arc::new(SigningKey::from_pem(&pem, Algorithm::Ed25519, KeyRole::Csk).unwrap())
    }

    #[test]
    fn misses_sign_within_the_budget_and_maintain_publishes_and_refreshes() {
        let key = key();
        let cache = SigCache::new(2, 2);
        let what = ToSign {
            key: &key,
            signer: b"\x04test\x00",
            rtype: 1,
            labels: 2,
            ttl: 60,
            validity: 14 * 86400,
            refresh: 7 * 86400,
        };
        let now = 1_000_000;
        let set =
            |n: u8| rrsig::rrset_bytes(b"\x01a\x04test\x00", 1, 60, &mut vec![vec![192, 0, 2, n]]);
        let k = |n| SigCache::key(&what, &set(n));
        assert!(matches!(
            cache.get_or_sign(&what, k(1), now, false),
            Found::Signed(_)
        ));
        assert!(matches!(
            cache.get_or_sign(&what, k(2), now, false),
            Found::Signed(_)
        ));
        assert!(matches!(
            cache.get_or_sign(&what, k(3), now, false),
            Found::OverBudget
        ));
        assert!(matches!(
            cache.get_or_sign(&what, k(3), now, true),
            Found::Signed(_)
        ));
        assert_eq!(cache.maintain(now), 0);
        assert_eq!(cache.len(), 2, "bounded by capacity");
        assert!(matches!(
            cache.get_or_sign(&what, k(1), now, false),
            Found::Cached(_)
        ));
        let epoch = cache.epoch();
        let later = now + 8 * 86400;
        assert!(matches!(
            cache.get_or_sign(&what, k(1), later - 1, false),
            Found::Cached(_)
        ));
        assert_eq!(
            cache.maintain(later),
            1,
            "the used entry is re-signed, the idle one dropped"
        );
        assert_eq!(cache.len(), 1);
        assert_ne!(cache.epoch(), epoch);
        let Found::Cached(e) = cache.get_or_sign(&what, k(1), later, false) else {
            panic!("cached");
        };
        assert_eq!(e.expiration, later + 14 * 86400);
    }
}
