//! Lock-free caches of metric handles keyed by configured names (zone origins, services).
//!
//! The query path looks a name up in an immutable map behind an `ArcSwap` (no lock, no
//! allocation, no `Arc` clone) and finds a fixed array of lazily registered handles indexed
//! by the positions of the other labels in their fixed lists. A miss copies the map once
//! (names come from configuration, so misses stop after warm-up). The number of names is
//! capped; names past the cap share the `other` entry, so a caller passing unbounded
//! strings by mistake cannot grow memory or series without bound.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwap;
use metrics::Counter;

use super::labels::{OTHER, QTYPES, RCODES, TRANSPORTS};
use crate::policy::PolicyKind;

/// Most distinct names one cache holds before sending new ones to `other`.
pub(crate) const MAX_NAMES: usize = 1024;

/// Handles for one name, created on first use of that name.
pub(crate) struct Named<T> {
    map: ArcSwap<HashMap<Box<str>, Arc<T>>>,
}

impl<T> Default for Named<T> {
    fn default() -> Self {
        Self {
            map: ArcSwap::from_pointee(HashMap::new()),
        }
    }
}

impl<T> Named<T> {
    /// The handles of `name` (shared), creating them with `make(name)` on first use.
    pub(crate) fn get(&self, name: &str, make: impl Fn(&str) -> T) -> Arc<T> {
        let map = self.map.load();
        if let Some(found) = map.get(name) {
            return found.clone();
        }
        let name = if map.len() >= MAX_NAMES { OTHER } else { name };
        if let Some(found) = map.get(name) {
            return found.clone();
        }
        drop(map);
        self.map.rcu(|old| {
            let mut new = HashMap::clone(old);
            new.entry(name.into())
                .or_insert_with(|| Arc::new(make(name)));
            new
        });
        match self.map.load().get(name) {
            Some(found) => found.clone(),
            None => Arc::new(make(name)),
        }
    }

    /// How many names have handles.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.load().len()
    }
}

/// Cells of the query counter per zone: qtype × rcode × transport, each with `other`.
pub(crate) const QUERY_CELLS: usize =
    (QTYPES.len() + 1) * (RCODES.len() + 1) * (TRANSPORTS.len() + 1);

/// Cells of the decision counter per service: policy × outcome.
pub(crate) const DECISION_CELLS: usize = PolicyKind::ALL.len() * super::Outcome::ALL.len();

/// Position of a (qtype, rcode, transport) index triple in a zone's query cells.
pub(crate) fn query_cell(qtype: usize, rcode: usize, transport: usize) -> usize {
    (qtype * (RCODES.len() + 1) + rcode) * (TRANSPORTS.len() + 1) + transport
}

/// Position of a (policy, outcome) pair in a service's decision cells.
pub(crate) fn decision_cell(policy: PolicyKind, outcome: super::Outcome) -> usize {
    policy as usize * super::Outcome::ALL.len() + outcome as usize
}

/// Lazily registered counters, one per cell.
pub(crate) struct Cells<const N: usize>([OnceLock<Counter>; N]);

impl<const N: usize> Default for Cells<N> {
    fn default() -> Self {
        Self(std::array::from_fn(|_| OnceLock::new()))
    }
}

impl<const N: usize> Cells<N> {
    /// Register the counter at `cell` with `make`, unless it already is.
    pub(crate) fn register(&self, cell: usize, make: impl FnOnce() -> Counter) {
        if let Some(slot) = self.0.get(cell) {
            slot.get_or_init(make);
        }
    }

    /// Add `n` to the counter at `cell`, if it is registered.
    pub(crate) fn add(&self, cell: usize, n: u64) {
        if let Some(counter) = self.0.get(cell).and_then(OnceLock::get) {
            counter.increment(n);
        }
    }
}

/// Handles whose counters take counts by cell (a thread's tally adds them).
pub(crate) trait Counted {
    fn add(&self, cell: usize, n: u64);
}

/// A zone's handles: its origin, query counters and per-service decision counters.
pub(crate) struct ZoneHandles {
    pub(crate) zone: Arc<str>,
    pub(crate) queries: Cells<QUERY_CELLS>,
    pub(crate) services: Named<ServiceHandles>,
}

impl Counted for ZoneHandles {
    fn add(&self, cell: usize, n: u64) {
        self.queries.add(cell, n);
    }
}

impl ZoneHandles {
    pub(crate) fn new(zone: &str) -> Self {
        Self {
            zone: zone.into(),
            queries: Cells::default(),
            services: Named::default(),
        }
    }
}

/// A service's handles: its name and decision counters.
pub(crate) struct ServiceHandles {
    pub(crate) service: Arc<str>,
    pub(crate) decisions: Cells<DECISION_CELLS>,
}

impl Counted for ServiceHandles {
    fn add(&self, cell: usize, n: u64) {
        self.decisions.add(cell, n);
    }
}

impl ServiceHandles {
    pub(crate) fn new(service: &str) -> Self {
        Self {
            service: service.into(),
            decisions: Cells::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_distinct_and_in_range() {
        let mut seen = std::collections::HashSet::new();
        for q in 0..=QTYPES.len() {
            for r in 0..=RCODES.len() {
                for t in 0..=TRANSPORTS.len() {
                    let c = query_cell(q, r, t);
                    assert!(c < QUERY_CELLS);
                    assert!(seen.insert(c));
                }
            }
        }
        let mut decisions = std::collections::HashSet::new();
        for p in PolicyKind::ALL {
            for o in super::super::Outcome::ALL {
                let c = decision_cell(p, o);
                assert!(c < DECISION_CELLS);
                assert!(decisions.insert(c));
            }
        }
        assert_eq!(decisions.len(), DECISION_CELLS);
    }

    #[test]
    fn names_are_capped_into_other() {
        let named: Named<String> = Named::default();
        for i in 0..MAX_NAMES + 10 {
            let got = (*named.get(&format!("z{i}."), str::to_string)).clone();
            if i < MAX_NAMES {
                assert_eq!(got, format!("z{i}."));
            } else {
                assert_eq!(got, OTHER);
            }
        }
        assert_eq!(named.len(), MAX_NAMES + 1);
        assert_eq!(*named.get("z0.", |_| String::new()), "z0.");
    }
}
