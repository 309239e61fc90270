//! The latency table: client network × datacenter → RTT estimate (EWMA), pure and copy-on-write.
//!
//! One writer owns a mutable table and publishes clones; a clone shares every shard
//! (`Arc`), and the writer's next change to a shard copies only that shard, so
//! publishing is cheap however large the table is. Everything is a function of its
//! arguments: times are Unix seconds passed in as `now` and `at`.
//!
//! - **EWMA.** A sample of weight `n` (the number of probes or RUM beacons it
//!   summarises) moves the estimate by `1 − (1 − α)^n` of the way to the sample, so `n`
//!   samples at once count like `n` single samples. The first sample sets the estimate.
//! - **Aging.** An estimate not updated for `max_age_secs` is ignored by lookups at once
//!   and removed by [`LatencyTable::expire`].
//! - **Cap.** At most `max_networks` networks: past it, the least useful 5 % are evicted:
//!   those whose newest estimate is oldest, fewest samples first among equals.
//! - **Changes.** Every network added, updated, expired or evicted is appended to a
//!   bounded change log ([`super::changes`]) the neighbour builder follows.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use super::aggregate::Aggregates;
use super::changes::ChangeLog;
use super::net::{NetKey, Prefixes};

/// Number of copy-on-write shards.
pub(crate) const SHARDS: usize = 1024;
/// Most distinct datacenter names a table holds.
pub(crate) const MAX_DATACENTERS: usize = 1024;
/// Largest RTT accepted, in milliseconds.
pub(crate) const MAX_RTT_MS: f64 = 60_000.0;
/// How far in the future a sample time may be (clock skew) before it is clamped to now.
pub(crate) const MAX_SKEW_SECS: u64 = 300;

/// How the table keys, ages, bounds and smooths.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TableConfig {
    pub(crate) prefixes: Prefixes,
    /// Most networks kept (memory: roughly 100 bytes per network and datacenter).
    pub(crate) max_networks: usize,
    /// Estimates older than this are ignored and expired.
    pub(crate) max_age_secs: u64,
    /// EWMA weight of one new sample, in (0, 1].
    pub(crate) alpha: f64,
}

impl Default for TableConfig {
    fn default() -> Self {
        Self {
            prefixes: Prefixes::default(),
            max_networks: 1_000_000,
            max_age_secs: 86_400,
            alpha: 0.3,
        }
    }
}

/// An RTT estimate for one network and datacenter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rtt {
    pub(crate) rtt_ms: f64,
    /// Samples folded into the estimate (saturating).
    pub(crate) samples: u32,
    /// Unix seconds of the newest sample.
    pub(crate) updated: u64,
}

impl Rtt {
    /// Seconds since the newest sample.
    pub(crate) fn age(&self, now: u64) -> u64 {
        now.saturating_sub(self.updated)
    }
}

/// Why a sample was not recorded.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SampleError {
    #[error("rtt_ms must be a number within 0..={MAX_RTT_MS}, found {0}")]
    /// The RTT is not a number within range.
    BadRtt(f64),
    #[error("samples must be at least 1")]
    /// Zero samples.
    NoSamples,
    #[error("sample is {0} s old, older than the maximum age")]
    /// Older than the maximum age (seconds old).
    Stale(u64),
    #[error("invalid datacenter name {0:?}: 1-63 letters, digits, '-', '_' or '.'")]
    /// Not a valid datacenter name.
    BadDatacenter(String),
    #[error("too many datacenters (at most {MAX_DATACENTERS})")]
    /// The table holds the most datacenters it can.
    TooManyDatacenters,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Cell {
    rtt_ms: f32,
    samples: u32,
    updated: u32,
    dc: u16,
}

type Shard = HashMap<NetKey, Vec<Cell>>;

/// Client network × datacenter → RTT. Cheap to clone (shards are shared).
#[derive(Clone, Debug)]
pub struct LatencyTable {
    config: TableConfig,
    shards: Vec<Arc<Shard>>,
    datacenters: Arc<Vec<Arc<str>>>,
    networks: [usize; 2],
    cells: usize,
    /// Estimates from measured neighbours, built from an earlier snapshot of this table.
    aggregates: Arc<Aggregates>,
    /// The networks whose estimates changed (not bumped by new aggregates); its end
    /// position tells the neighbour builder whether anything changed.
    changes: ChangeLog,
}

static EMPTY: LazyLock<LatencyTable> = LazyLock::new(|| LatencyTable::new(TableConfig::default()));

/// Whether a datacenter name is acceptable in samples, files and the API.
pub(crate) fn valid_datacenter(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn shard_of(key: NetKey) -> usize {
    (crate::hash::mix(key.raw()) % SHARDS as u64) as usize
}

fn secs32(t: u64) -> u32 {
    u32::try_from(t).unwrap_or(u32::MAX)
}

impl LatencyTable {
    pub(crate) fn new(config: TableConfig) -> Self {
        Self {
            config,
            shards: (0..SHARDS).map(|_| Arc::new(Shard::new())).collect(),
            datacenters: Arc::new(Vec::new()),
            networks: [0, 0],
            cells: 0,
            aggregates: Aggregates::empty(),
            changes: ChangeLog::default(),
        }
    }

    /// A shared empty table with the default configuration.
    pub(crate) fn empty() -> &'static LatencyTable {
        &EMPTY
    }

    pub(crate) fn config(&self) -> &TableConfig {
        &self.config
    }

    pub(crate) fn prefixes(&self) -> Prefixes {
        self.config.prefixes
    }

    /// Networks held (both families).
    pub(crate) fn networks(&self) -> usize {
        self.networks[0] + self.networks[1]
    }

    /// Network × datacenter estimates held.
    pub(crate) fn cells(&self) -> usize {
        self.cells
    }

    /// Whether any network of the family is held (IPv4 when `v4`).
    pub(crate) fn has_family(&self, v4: bool) -> bool {
        self.networks[usize::from(!v4)] > 0
    }

    /// The datacenter names seen, in the order first seen.
    pub(crate) fn datacenters(&self) -> &[Arc<str>] {
        &self.datacenters
    }

    /// Index of a datacenter name, for [`LatencyTable::rtt`].
    pub(crate) fn dc_index(&self, name: &str) -> Option<u16> {
        let i = self.datacenters.iter().position(|d| &**d == name)?;
        u16::try_from(i).ok()
    }

    fn fresh(&self, cell: &Cell, now: u64) -> bool {
        now.saturating_sub(u64::from(cell.updated)) <= self.config.max_age_secs
    }

    fn rtt_of(cell: &Cell) -> Rtt {
        Rtt {
            rtt_ms: f64::from(cell.rtt_ms),
            samples: cell.samples,
            updated: u64::from(cell.updated),
        }
    }

    /// The fresh estimate for network `key` and datacenter index `dc`.
    pub(crate) fn rtt(&self, key: NetKey, dc: u16, now: u64) -> Option<Rtt> {
        let cells = self.shards[shard_of(key)].get(&key)?;
        let cell = cells.iter().find(|c| c.dc == dc)?;
        self.fresh(cell, now).then(|| Self::rtt_of(cell))
    }

    /// Every fresh estimate for a network, by datacenter name.
    pub(crate) fn measured(&self, key: NetKey, now: u64) -> Vec<(Arc<str>, Rtt)> {
        let Some(cells) = self.shards[shard_of(key)].get(&key) else {
            return Vec::new();
        };
        cells
            .iter()
            .filter(|c| self.fresh(c, now))
            .filter_map(|c| {
                let name = self.datacenters.get(usize::from(c.dc))?;
                Some((name.clone(), Self::rtt_of(c)))
            })
            .collect()
    }

    /// The neighbour aggregates published with this table.
    pub(crate) fn aggregates(&self) -> &Aggregates {
        &self.aggregates
    }

    /// Position in the change log after the newest change.
    pub(crate) fn change_end(&self) -> u64 {
        self.changes.end()
    }

    /// The networks changed (added, updated or removed) since change-log position `from`,
    /// repeats possible; `None` when the log no longer reaches back that far.
    pub(crate) fn changed_since(&self, from: u64) -> Option<impl Iterator<Item = NetKey> + '_> {
        self.changes.since(from)
    }

    /// Whether the table holds network `key` (fresh or not).
    pub(crate) fn contains(&self, key: NetKey) -> bool {
        self.shards[shard_of(key)].contains_key(&key)
    }

    /// Replaces the neighbour aggregates (the writer, before publishing).
    pub(crate) fn set_aggregates(&mut self, aggregates: Arc<Aggregates>) {
        self.aggregates = aggregates;
    }

    /// Every network held.
    pub(crate) fn keys(&self) -> impl Iterator<Item = NetKey> + '_ {
        self.shards.iter().flat_map(|s| s.keys().copied())
    }

    /// Every fresh estimate of a network, by datacenter index.
    pub(crate) fn cells_of(&self, key: NetKey, now: u64) -> impl Iterator<Item = (u16, Rtt)> + '_ {
        let cells = self.shards[shard_of(key)].get(&key).map_or(&[][..], |c| c);
        cells
            .iter()
            .filter(move |c| self.fresh(c, now))
            .map(|c| (c.dc, Self::rtt_of(c)))
    }

    /// Every estimate (fresh or not), for persistence and listings.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (NetKey, &str, Rtt)> + '_ {
        self.shards.iter().flat_map(move |s| {
            s.iter().flat_map(move |(k, cells)| {
                cells.iter().filter_map(move |c| {
                    let name = self.datacenters.get(usize::from(c.dc))?;
                    Some((*k, &**name, Self::rtt_of(c)))
                })
            })
        })
    }

    fn dc_or_insert(&mut self, name: &str) -> Result<u16, SampleError> {
        if let Some(i) = self.dc_index(name) {
            return Ok(i);
        }
        if !valid_datacenter(name) {
            return Err(SampleError::BadDatacenter(name.to_string()));
        }
        if self.datacenters.len() >= MAX_DATACENTERS {
            return Err(SampleError::TooManyDatacenters);
        }
        Arc::make_mut(&mut self.datacenters).push(Arc::from(name));
        u16::try_from(self.datacenters.len() - 1).map_err(|_| SampleError::TooManyDatacenters)
    }

    /// Folds a sample of `weight` probes taken at `at` into the estimate for `key` and
    /// `datacenter`. Evicts past the cap; returns how many networks were evicted.
    pub(crate) fn record(
        &mut self,
        key: NetKey,
        datacenter: &str,
        rtt_ms: f64,
        weight: u32,
        at: u64,
        now: u64,
    ) -> Result<usize, SampleError> {
        if !rtt_ms.is_finite() || !(0.0..=MAX_RTT_MS).contains(&rtt_ms) {
            return Err(SampleError::BadRtt(rtt_ms));
        }
        if weight == 0 {
            return Err(SampleError::NoSamples);
        }
        let at = if at > now.saturating_add(MAX_SKEW_SECS) {
            now
        } else {
            at
        };
        let age = now.saturating_sub(at);
        if age > self.config.max_age_secs {
            return Err(SampleError::Stale(age));
        }
        let dc = self.dc_or_insert(datacenter)?;
        let alpha = self.config.alpha.clamp(f64::MIN_POSITIVE, 1.0);
        let shard = Arc::make_mut(&mut self.shards[shard_of(key)]);
        let cells = shard.entry(key).or_default();
        self.changes.push(key);
        if cells.is_empty() {
            self.networks[usize::from(!key.is_v4())] += 1;
        }
        match cells.iter_mut().find(|c| c.dc == dc) {
            Some(c) => {
                let factor = 1.0 - (1.0 - alpha).powf(f64::from(weight));
                let old = f64::from(c.rtt_ms);
                c.rtt_ms = (old + factor * (rtt_ms - old)) as f32;
                c.samples = c.samples.saturating_add(weight);
                c.updated = c.updated.max(secs32(at));
            }
            None => {
                cells.push(Cell {
                    rtt_ms: rtt_ms as f32,
                    samples: weight,
                    updated: secs32(at),
                    dc,
                });
                self.cells += 1;
            }
        }
        Ok(if self.networks() > self.config.max_networks {
            self.evict()
        } else {
            0
        })
    }

    /// Evicts the least useful networks down to 95 % of the cap; returns how many.
    pub(crate) fn evict(&mut self) -> usize {
        let cap = self.config.max_networks;
        let target = cap - cap / 20;
        let excess = self.networks().saturating_sub(target);
        if excess == 0 {
            return 0;
        }
        // Usefulness: newest update, then total samples; the smallest go first.
        let mut all: Vec<(u32, u64, NetKey)> = self
            .shards
            .iter()
            .flat_map(|s| s.iter())
            .map(|(k, cells)| {
                let newest = cells.iter().map(|c| c.updated).max().unwrap_or(0);
                let samples = cells.iter().map(|c| u64::from(c.samples)).sum();
                (newest, samples, *k)
            })
            .collect();
        if excess < all.len() {
            all.select_nth_unstable(excess);
        }
        all.truncate(excess);
        for (_, _, key) in &all {
            self.remove(*key);
        }
        all.len()
    }

    fn remove(&mut self, key: NetKey) {
        let shard = Arc::make_mut(&mut self.shards[shard_of(key)]);
        if let Some(cells) = shard.remove(&key) {
            self.changes.push(key);
            self.cells -= cells.len();
            self.networks[usize::from(!key.is_v4())] -= 1;
        }
    }

    /// Removes estimates older than the maximum age (and networks left without any);
    /// returns how many estimates were removed. Shards with nothing to remove are not
    /// copied.
    pub(crate) fn expire(&mut self, now: u64) -> usize {
        let max_age = self.config.max_age_secs;
        let stale = |c: &Cell| now.saturating_sub(u64::from(c.updated)) > max_age;
        let mut removed = 0;
        for i in 0..SHARDS {
            if !self.shards[i].values().flatten().any(&stale) {
                continue;
            }
            let shard = Arc::make_mut(&mut self.shards[i]);
            let changes = &mut self.changes;
            shard.retain(|key, cells| {
                let before = cells.len();
                cells.retain(|c| !stale(c));
                removed += before - cells.len();
                if cells.len() < before {
                    changes.push(*key);
                }
                if cells.is_empty() {
                    self.networks[usize::from(!key.is_v4())] -= 1;
                }
                !cells.is_empty()
            });
        }
        self.cells -= removed;
        removed
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
