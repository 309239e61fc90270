//! DNSSEC signing metrics: cache lookups and inline signatures tallied per thread (added at
//! `flush`), the cache size and background refreshes recorded directly.

use std::cell::Cell;
use std::sync::OnceLock;

use metrics::{Counter, counter, gauge};

use super::names::{
    DNSSEC_BUDGET_EXCEEDED, DNSSEC_CACHE_ENTRIES, DNSSEC_LOOKUPS, DNSSEC_SIGNATURES,
};

/// What one signature lookup of a reply found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SigLookup {
    /// In the cache.
    Hit,
    /// Signed inline.
    Miss,
    /// Not signed: the budget was spent.
    OverBudget,
}

thread_local!(static TALLY: Cell<[u64; 3]> = const { Cell::new([0; 3]) });

/// Count one lookup (added to the counters at the next `flush`).
pub(crate) fn dnssec_lookup(what: SigLookup) {
    TALLY.with(|t| {
        let mut v = t.get();
        v[what as usize] += 1;
        t.set(v);
    });
}

fn handles() -> &'static [Counter; 4] {
    static HANDLES: OnceLock<[Counter; 4]> = OnceLock::new();
    HANDLES.get_or_init(|| {
        [
            counter!(DNSSEC_LOOKUPS, "result" => "hit"),
            counter!(DNSSEC_LOOKUPS, "result" => "miss"),
            counter!(DNSSEC_BUDGET_EXCEEDED),
            counter!(DNSSEC_SIGNATURES, "path" => "query"),
        ]
    })
}

/// Add this thread's tally to the counters.
pub(super) fn flush() {
    let v = TALLY.with(Cell::take);
    if v == [0; 3] {
        return;
    }
    let h = handles();
    h[0].increment(v[0]);
    h[1].increment(v[1]);
    h[2].increment(v[2]);
    h[3].increment(v[1]);
}

/// The cache's size after a maintenance round.
pub(crate) fn dnssec_cache(entries: usize) {
    gauge!(DNSSEC_CACHE_ENTRIES).set(entries as f64);
}

/// Signatures re-made by the background refresh.
pub(crate) fn dnssec_refreshed(n: usize) {
    counter!(DNSSEC_SIGNATURES, "path" => "refresh").increment(n as u64);
}

pub(super) fn zeroes() {
    for h in handles() {
        h.increment(0);
    }
    counter!(DNSSEC_SIGNATURES, "path" => "refresh").increment(0);
    gauge!(DNSSEC_CACHE_ENTRIES).set(0.0);
}
