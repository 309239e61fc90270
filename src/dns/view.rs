//! The published snapshots the query path reads, and a thread's cached view of them:
//! reading them costs one atomic load each while they are unchanged, and a swap is seen at
//! the next read.

use std::sync::Arc;

use arc_swap::ArcSwap;
use arc_swap::cache::Cache;

use crate::geo::Locate;
use crate::health::HealthSnapshot;
use crate::latency::LatencyTable;
use crate::load::LoadSnapshot;
use crate::zone::ZoneSet;

/// The published snapshots the query path reads; each has one writer elsewhere.
pub struct Snapshots {
    /// The compiled zones (one writer: load and reload).
    pub zones: ArcSwap<ZoneSet>,
    /// Shared with the health tracker, its only writer.
    pub health: Arc<ArcSwap<HealthSnapshot>>,
    /// Client location.
    pub geo: Arc<dyn Locate>,
    /// The latency table (one writer: the latency ingest task) and the busiest-network
    /// tracker the query path feeds.
    pub latency: Arc<crate::latency::Live>,
    /// Published load (one writer: the load feed).
    pub load: Arc<ArcSwap<LoadSnapshot>>,
}

impl Snapshots {
    /// Snapshots nothing else writes: `zones` with every target unprobed, no latency data,
    /// and busiest-network tracking of `busiest` networks (tools and tests; `serve` wires
    /// the health tracker and latency ingest in).
    pub fn fixed(zones: ZoneSet, geo: Arc<dyn Locate>, busiest: usize) -> Arc<Self> {
        Arc::new(Self {
            zones: ArcSwap::from_pointee(zones),
            health: Arc::new(ArcSwap::from_pointee(HealthSnapshot::empty())),
            geo,
            latency: Arc::new(crate::latency::Live::new(
                crate::latency::TableConfig::default(),
                busiest,
            )),
            load: Arc::new(ArcSwap::from_pointee(LoadSnapshot::default())),
        })
    }
}

type Cached<'h, T> = Cache<&'h ArcSwap<T>, Arc<T>>;

/// Owned by one thread (a UDP socket loop); holds the snapshots it last read, so an old
/// snapshot is freed at that thread's next read after a swap.
pub struct View<'h> {
    zones: Cached<'h, ZoneSet>,
    health: Cached<'h, HealthSnapshot>,
    latency: Cached<'h, LatencyTable>,
    load: Cached<'h, LoadSnapshot>,
    /// The address of the zones last loaded, and how many different ones were loaded.
    zones_at: usize,
    generation: u64,
}

/// The snapshots one batch of queries is answered from.
#[derive(Clone, Copy)]
pub struct Loaded<'v> {
    pub(crate) zones: &'v ZoneSet,
    pub(crate) health: &'v HealthSnapshot,
    pub(crate) latency: &'v LatencyTable,
    pub(crate) load: &'v LoadSnapshot,
    /// Counts the zone snapshots this view has loaded (from 1): it changes exactly when
    /// `zones` does, for what is remembered per snapshot (`memo`).
    pub generation: u64,
}

impl<'h> View<'h> {
    /// A view with nothing loaded yet.
    pub fn new(snapshots: &'h Snapshots) -> Self {
        Self {
            zones: Cache::new(&snapshots.zones),
            health: Cache::new(&*snapshots.health),
            latency: Cache::new(&snapshots.latency.table),
            load: Cache::new(&*snapshots.load),
            zones_at: 0,
            generation: 0,
        }
    }

    /// The current snapshots (reloading those that were swapped since the last call).
    pub fn load(&mut self) -> Loaded<'_> {
        let zones = self.zones.load();
        // A new snapshot is allocated while this view still holds the one it replaces, so
        // its address differs from the held one's: a different address is a new snapshot.
        let at = Arc::as_ptr(zones) as usize;
        if at != self.zones_at {
            self.zones_at = at;
            self.generation += 1;
        }
        Loaded {
            zones,
            health: self.health.load(),
            latency: self.latency.load(),
            load: self.load.load(),
            generation: self.generation,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::Nowhere;

    #[test]
    fn a_swap_is_seen_at_the_next_load_and_the_old_snapshot_let_go() {
        let snapshots = Snapshots::fixed(ZoneSet::new([]), Arc::new(Nowhere), 16);
        let mut view = View::new(&snapshots);
        let first = snapshots.zones.load_full();
        assert!(std::ptr::eq(view.load().zones, &raw const *first));
        assert_eq!(view.load().generation, 1);
        snapshots.health.store(Arc::new(HealthSnapshot::empty()));
        assert_eq!(
            view.load().generation,
            1,
            "only a zone swap is a new generation"
        );

        snapshots.zones.store(Arc::new(ZoneSet::new([])));
        snapshots.health.store(Arc::new(HealthSnapshot::empty()));
        // The view still holds the old zones until its next load.
        assert!(Arc::strong_count(&first) > 1);
        let loaded = view.load();
        assert_eq!(loaded.generation, 2);
        assert!(std::ptr::eq(
            loaded.zones,
            &raw const **snapshots.zones.load()
        ));
        assert!(std::ptr::eq(
            loaded.health,
            &raw const **snapshots.health.load()
        ));
        assert_eq!(Arc::strong_count(&first), 1, "the old zones are freed");
    }
}
