//! The neighbour-aggregate builder task: keeps an index of the measured networks, updates it from the latency table's change log off the query path, and hands the aggregates to the latency writer.
//!
//! Every [`CHECK_EVERY`] it looks at the published table. When estimates changed, it
//! updates its [`NeighbourIndex`] on a blocking thread: only the groups of the networks
//! changed since the last look are pooled again, and only the aggregate shards holding
//! them are copied. A full build replaces the index first, every [`REFRESH_EVERY`] (the
//! backstop), and when the zones' datacenter coordinates or the GeoIP database changed
//! or the table's change log overflowed, those at most once per [`BUILD_SHARE`] times the
//! last full build's duration. The writer publishes the aggregates with the table by swap.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::debug;

use crate::dns::Snapshots;
use crate::geo::Locate;
use crate::latency::{LatencyHandle, LatencyTable, unix_now};
use crate::policy::latency_index::NeighbourIndex;
use crate::zone::ZoneSet;

/// How often the builder looks for changes.
pub(crate) const CHECK_EVERY: Duration = Duration::from_secs(10);
/// Longest time between builds while the table holds anything.
pub(crate) const REFRESH_EVERY: Duration = Duration::from_mins(10);

/// After a full build that took `t`, the next (unless due for [`REFRESH_EVERY`]) waits at
/// least `BUILD_SHARE × t`, so full builds use at most about a third of one core.
pub(crate) const BUILD_SHARE: u32 = 3;

/// Coordinates of the table's datacenters, by table index, from the zones (first wins).
pub(crate) fn dc_coords(table: &LatencyTable, zones: &ZoneSet) -> Vec<Option<(f64, f64)>> {
    let mut known: Vec<(Arc<str>, (f64, f64))> = Vec::new();
    for service in zones
        .iter()
        .flat_map(|z| z.nodes().filter_map(|n| n.service.clone()))
    {
        for d in service.datacenters.iter() {
            if !known.iter().any(|(n, _)| *n == d.name) {
                known.push((d.name.clone(), d.coordinates));
            }
        }
    }
    table
        .datacenters()
        .iter()
        .map(|name| known.iter().find(|(n, _)| n == name).map(|(_, c)| *c))
        .collect()
}

/// Builds the aggregates of `table` now (blocking; also used by offline `explain`).
pub(crate) fn build(
    table: &LatencyTable,
    snapshots_geo: &dyn crate::geo::Locate,
    zones: &ZoneSet,
) -> LatencyTable {
    let coords = dc_coords(table, zones);
    let aggregates = crate::policy::latency_build::build(table, snapshots_geo, &coords, unix_now());
    let mut out = table.clone();
    out.set_aggregates(Arc::new(aggregates));
    out
}

/// Applies CSV or JSON measurement rows to the published latency table of `snapshots`
/// and publishes it with aggregates built from it, as the writer and the builder would
/// (for tests that drive a handler without the writer task); returns the rows applied
/// and the neighbour groups published.
#[doc(hidden)]
pub fn publish_rows(snapshots: &Snapshots, rows: &str) -> (usize, usize) {
    let (rows, _) = crate::latency::import::parse(rows);
    let mut table = LatencyTable::clone(&snapshots.latency.table.load());
    let applied = crate::latency::import::apply(&mut table, &rows, unix_now(), &|_| Ok(()));
    let table = build(&table, snapshots.geo.as_ref(), &snapshots.zones.load());
    let groups = table.aggregates().len();
    snapshots.latency.table.store(Arc::new(table));
    (applied.accepted, groups)
}

/// What the builder keeps between builds: the index and its last full build.
struct State {
    index: NeighbourIndex,
    full_at: Instant,
    full_took: Duration,
}

/// What a tick does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Job {
    Full,
    Update,
}

/// A full build first, every [`REFRESH_EVERY`], and (rested) when the datacenter
/// coordinates or the GeoIP database changed or the change log no longer reaches back to
/// the index; else an update when the table changed.
fn plan(
    state: Option<&State>,
    table: &LatencyTable,
    coords: &[Option<(f64, f64)>],
    generation: u64,
) -> Option<Job> {
    let Some(s) = state else {
        return (table.networks() > 0).then_some(Job::Full);
    };
    let since = s.full_at.elapsed();
    if since >= REFRESH_EVERY {
        return Some(Job::Full);
    }
    if !s.index.built_for(coords, generation) || !s.index.can_follow(table) {
        return (since >= s.full_took * BUILD_SHARE).then_some(Job::Full);
    }
    s.index.behind(table).then_some(Job::Update)
}

/// Runs `job` (blocking): updates the index in `state`, or drops it and builds anew.
fn run(
    job: Job,
    state: Option<State>,
    table: &LatencyTable,
    geo: &dyn Locate,
    coords: &[Option<(f64, f64)>],
) -> State {
    let started = Instant::now();
    let now = unix_now();
    if let (Job::Update, Some(mut s)) = (job, state)
        && let Some(done) = s.index.update(table, geo, now)
    {
        debug!(
            networks = done.networks,
            groups = done.groups,
            members = done.members,
            took_us = started.elapsed().as_micros() as u64,
            "latency neighbour aggregates updated"
        );
        return s;
    }
    // The previous index (if any) is gone before the new one grows.
    let index = NeighbourIndex::build(table, geo, coords, now);
    let full_took = started.elapsed();
    debug!(
        placed = index.aggregates().placed,
        groups = index.aggregates().len(),
        index_bytes = index.heap_bytes(),
        took_ms = full_took.as_millis() as u64,
        "latency neighbour aggregates built"
    );
    State {
        index,
        full_at: Instant::now(),
        full_took,
    }
}

/// Starts the builder task.
pub(crate) fn spawn(
    snapshots: Arc<Snapshots>,
    handle: LatencyHandle,
    cancel: &CancellationToken,
    tracker: &TaskTracker,
) {
    let cancel = cancel.child_token();
    tracker.spawn(async move {
        let mut tick = tokio::time::interval(CHECK_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut state: Option<State> = None;
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                _ = tick.tick() => {}
            }
            let table = snapshots.latency.table.load_full();
            let coords = dc_coords(&table, &snapshots.zones.load());
            let geo = snapshots.geo.clone();
            let Some(job) = plan(state.as_ref(), &table, &coords, geo.generation()) else {
                continue;
            };
            let previous = state.take();
            let built = tokio::task::spawn_blocking(move || {
                run(job, previous, &table, geo.as_ref(), &coords)
            })
            .await;
            let Ok(built) = built else { break };
            let aggregates = built.index.aggregates();
            crate::metrics::latency_aggregates(aggregates.per_level(), aggregates.heap_bytes());
            if !handle.publish_aggregates(Arc::new(aggregates)).await {
                break;
            }
            state = Some(built);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::Nowhere;
    use crate::latency::TableConfig;

    fn record(t: &mut LatencyTable, net: &str) {
        let key = t.prefixes().key(net.parse().unwrap());
        let now = unix_now();
        t.record(key, "a", 20.0, 5, now, now).unwrap();
    }

    #[test]
    fn the_builder_updates_after_changes_and_rebuilds_when_its_inputs_change() {
        let coords = [Some((50.0, 8.0))];
        let mut t = LatencyTable::new(TableConfig::default());
        assert_eq!(plan(None, &t, &coords, 0), None, "nothing to build");
        record(&mut t, "192.0.2.0");
        assert_eq!(plan(None, &t, &coords, 0), Some(Job::Full));
        let mut s = run(Job::Full, None, &t, &Nowhere, &coords);
        assert_eq!(plan(Some(&s), &t, &coords, 0), None, "unchanged");
        record(&mut t, "198.51.100.0");
        assert_eq!(plan(Some(&s), &t, &coords, 0), Some(Job::Update));
        s = run(Job::Update, Some(s), &t, &Nowhere, &coords);
        assert_eq!(plan(Some(&s), &t, &coords, 0), None);
        // As if the last full build took no time: the rebuilds are not held back.
        s.full_took = Duration::ZERO;
        assert_eq!(
            plan(Some(&s), &t, &[None], 0),
            Some(Job::Full),
            "coordinates"
        );
        assert_eq!(
            plan(Some(&s), &t, &coords, 1),
            Some(Job::Full),
            "GeoIP reload"
        );
        s.full_took = Duration::from_hours(1);
        assert_eq!(plan(Some(&s), &t, &coords, 1), None, "resting");
        if let Some(earlier) = s.full_at.checked_sub(REFRESH_EVERY) {
            s.full_at = earlier;
            assert_eq!(plan(Some(&s), &t, &coords, 0), Some(Job::Full), "refresh");
        }
    }
}
