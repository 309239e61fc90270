//! Measured RTT from client networks to datacenters: the table, its single writer, and the busiest networks.
//!
//! - [`table`]: client network × datacenter → RTT estimate (EWMA), pure, copy-on-write;
//!   [`changes`]: its log of changed networks.
//! - [`topn`]: Space-Saving summary of the busiest networks; [`seen`]: the lock-free rings
//!   the query path writes the networks it sees into.
//! - [`targets`]: the networks agents are given and the address to probe for each.
//! - [`import`]: measurement rows from CSV/JSON (RUM imports, the state file, the API).
//! - [`ingest`]: the writer task: applies batches from agents, the API and the import
//!   file, expires, persists, and publishes `Arc<LatencyTable>` snapshots by swap.
//!
//! The query path only loads [`Live::table`] (one atomic load) and calls
//! [`Live::record_query`] (two relaxed atomics); it never locks.

pub(crate) mod aggregate;
pub(crate) mod changes;
pub(crate) mod import;
pub(crate) mod ingest;
pub(crate) mod net;
pub(crate) mod seen;
pub(crate) mod table;
pub(crate) mod targets;
pub(crate) mod topn;

use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;

pub use aggregate::Aggregates;
pub(crate) use import::Applied;
pub use import::Row;
pub(crate) use ingest::IngestConfig;
pub use ingest::{IngestError, LatencyHandle, Source};
pub(crate) use net::NetKey;
pub use net::{Prefixes, first_usable, parse_network};
pub(crate) use table::LatencyTable;
pub use table::{Rtt, SampleError, TableConfig};
pub(crate) use targets::Target;
pub use targets::{ProbeAddr, Representatives};
pub(crate) use topn::Counter;

use seen::Seen;
use topn::SpaceSaving;

/// Slots per ring of networks seen (16 rings).
pub(crate) const SEEN_SLOTS: usize = 4096;

/// The busiest client networks: rings fed by the query path, folded into a top-N summary.
pub(crate) struct Busiest {
    seen: Seen,
    top: Mutex<SpaceSaving<NetKey>>,
}

impl Busiest {
    /// Tracks up to `capacity` networks (0: tracking off, recording costs nothing).
    pub(crate) fn new(prefixes: Prefixes, capacity: usize) -> Self {
        let slots = if capacity == 0 { 0 } else { SEEN_SLOTS };
        Self {
            seen: Seen::new(prefixes, slots),
            top: Mutex::new(SpaceSaving::new(capacity)),
        }
    }

    pub(crate) fn prefixes(&self) -> Prefixes {
        self.seen.prefixes()
    }

    /// Query path: note the resolver's network and the ECS network (lock-free).
    pub(crate) fn record_query(&self, source: IpAddr, ecs: Option<(IpAddr, u8)>) {
        self.seen.record_query(source, ecs);
    }

    /// Moves what the rings hold into the summary; returns how many keys were folded.
    pub(crate) fn fold(&self) -> usize {
        let mut keys = Vec::new();
        self.seen.drain(&mut keys);
        if let Ok(mut top) = self.top.lock() {
            for k in &keys {
                top.observe(*k, 1);
            }
        }
        keys.len()
    }

    /// Halves every count so the summary follows recent traffic.
    pub(crate) fn decay(&self) {
        if let Ok(mut top) = self.top.lock() {
            top.decay();
        }
    }

    /// The `n` busiest networks, busiest first.
    pub(crate) fn top(&self, n: usize) -> Vec<Counter<NetKey>> {
        self.top.lock().map(|t| t.top(n)).unwrap_or_default()
    }

    /// Networks in the summary.
    pub(crate) fn tracked(&self) -> usize {
        self.top.lock().map_or(0, |t| t.len())
    }
}

/// What the query path shares with the latency writer: the published table, the
/// busiest-network tracker, and a coarse clock.
pub struct Live {
    pub(crate) table: ArcSwap<LatencyTable>,
    pub(crate) busiest: Busiest,
    /// Unix seconds, advanced by the writer several times a second, so queries read the
    /// time with one relaxed load instead of a clock call.
    clock: AtomicU64,
}

impl Live {
    /// An empty table with `config`, tracking up to `top_capacity` busiest networks.
    pub fn new(config: TableConfig, top_capacity: usize) -> Self {
        Self {
            busiest: Busiest::new(config.prefixes, top_capacity),
            table: ArcSwap::from_pointee(LatencyTable::new(config)),
            clock: AtomicU64::new(unix_now()),
        }
    }

    /// The coarse time (Unix seconds) for the query path.
    pub(crate) fn now(&self) -> u64 {
        self.clock.load(Ordering::Relaxed)
    }

    /// Advances the coarse clock (the writer calls this on its timer).
    pub(crate) fn tick(&self) {
        self.clock.store(unix_now(), Ordering::Relaxed);
    }

    /// Query path: note the networks of one query.
    pub(crate) fn record_query(&self, source: IpAddr, ecs: Option<(IpAddr, u8)>) {
        self.busiest.record_query(source, ecs);
    }
}

impl Default for Live {
    /// An empty default table and no tracking.
    fn default() -> Self {
        Self::new(TableConfig::default(), 0)
    }
}

/// Unix seconds now (0 before 1970).
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busiest_networks_come_from_recorded_queries() {
        let b = Busiest::new(Prefixes::default(), 8);
        for _ in 0..5 {
            b.record_query(
                "192.0.2.53".parse().unwrap(),
                Some(("198.51.100.0".parse().unwrap(), 24)),
            );
        }
        b.record_query("203.0.113.9".parse().unwrap(), None);
        assert_eq!(b.fold(), 11);
        let top = b.top(2);
        let p = b.prefixes();
        let nets: Vec<String> = top.iter().map(|c| p.network(c.key).to_string()).collect();
        assert_eq!(top[0].count, 5);
        assert!(nets.contains(&"198.51.100.0/24".to_string()));
        assert!(nets.contains(&"192.0.2.0/24".to_string()));
        assert_eq!(b.tracked(), 3);
        b.decay();
        b.decay();
        b.decay();
        assert_eq!(b.tracked(), 0);
        let off = Busiest::new(Prefixes::default(), 0);
        off.record_query("192.0.2.1".parse().unwrap(), None);
        assert_eq!(off.fold(), 0);
    }
}
