//! The neighbour-aggregate builder task: rebuilds from the published latency table off the query path and hands the result to the latency writer.
//!
//! Every [`CHECK_EVERY`] it looks at the published table: when its estimates changed (or
//! the zones' datacenter coordinates did) and the last build finished at least
//! [`BUILD_SHARE`] times its own duration ago, or [`REFRESH_EVERY`] passed (recency weights move with time; GeoIP may have been
//! reloaded), it builds new aggregates on a blocking thread and sends them to the writer,
//! which publishes them with the table by swap.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::debug;

use crate::dns::Snapshots;
use crate::latency::{LatencyHandle, LatencyTable, unix_now};
use crate::zone::ZoneSet;

/// How often the builder looks for changes.
pub(crate) const CHECK_EVERY: Duration = Duration::from_secs(10);
/// Longest time between builds while the table holds anything.
pub(crate) const REFRESH_EVERY: Duration = Duration::from_mins(10);

/// What the last build was made from: table version, datacenter coordinates, when it
/// finished and how long it took.
type Built = (u64, Vec<Option<(f64, f64)>>, Instant, Duration);

/// After a build that took `t`, the next waits at least `BUILD_SHARE × t`, so the builder
/// uses at most about a third of one core however large the table.
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
        let mut last: Option<Built> = None;
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                _ = tick.tick() => {}
            }
            let table = snapshots.latency.table.load_full();
            let coords = dc_coords(&table, &snapshots.zones.load());
            let stale = match &last {
                None => table.networks() > 0,
                Some((version, c, at, took)) => {
                    let changed = *version != table.version() || *c != coords;
                    let rested = at.elapsed() >= *took * BUILD_SHARE;
                    (changed && rested) || at.elapsed() >= REFRESH_EVERY
                }
            };
            if !stale {
                continue;
            }
            let geo = snapshots.geo.clone();
            let (version, started) = (table.version(), Instant::now());
            let built_coords = coords.clone();
            let built = tokio::task::spawn_blocking(move || {
                crate::policy::latency_build::build(&table, geo.as_ref(), &built_coords, unix_now())
            })
            .await;
            let Ok(aggregates) = built else { break };
            debug!(
                groups = aggregates.len(),
                placed = aggregates.placed,
                took_ms = started.elapsed().as_millis() as u64,
                "latency neighbour aggregates built"
            );
            crate::metrics::latency_aggregates(aggregates.per_level(), aggregates.heap_bytes());
            if !handle.publish_aggregates(Arc::new(aggregates)).await {
                break;
            }
            last = Some((version, coords, Instant::now(), started.elapsed()));
        }
    });
}
