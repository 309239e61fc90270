//! Builds the neighbour aggregates from a latency table snapshot: each measured network's residual over its great-circle prediction, robustly pooled per group and datacenter.
//!
//! For every measured network (located by GeoIP, with coordinates) and datacenter (with
//! coordinates), the residual is `measured RTT − estimate_rtt_ms(great-circle km)`. Per
//! group ([`Level`]) and datacenter, the estimate is the **weighted median** of the
//! contributing residuals, each weighted by `min(samples, SAMPLE_CAP) × 2^(−age / HALF_LIFE)`.
//! A group qualifies for a datacenter only with at least `MIN_NETWORKS[level]` networks
//! and `MIN_SAMPLES[level]` samples. Pure: the time, the locator and the datacenter
//! coordinates are arguments. [`build`] makes them in one pass (offline `explain`, and the
//! reference the incremental `latency_index` is tested against) with transient memory of
//! about 24 bytes per measured network and level pass; [`place`], [`contribute`] and
//! [`pool`] are the steps both share.

use std::collections::HashMap;

use crate::geo::Locate;
use crate::latency::aggregate::{Aggregates, Estimate, Group, Level};
use crate::latency::{LatencyTable, NetKey, Prefixes};

use super::nearest::haversine_km;
use super::rtt::estimate_rtt_ms;

/// Fewest contributing networks per level (asn_country, prefix_narrow, prefix_wide, asn,
/// subdivision, country). One network of the same AS in the same country is the best
/// evidence there is (peering detours follow the AS), so it suffices with enough samples.
pub(crate) const MIN_NETWORKS: [u32; 6] = [1, 2, 3, 3, 3, 3];
/// Fewest contributing samples per level (same order).
pub(crate) const MIN_SAMPLES: [u32; 6] = [20, 10, 20, 20, 30, 30];
/// Samples beyond this do not add weight: one busy network does not outvote the rest.
pub(crate) const SAMPLE_CAP: u32 = 50;
/// Recency: a measurement this old weighs half as much as a fresh one.
pub(crate) const HALF_LIFE_SECS: f64 = 6.0 * 3600.0;

/// One measured network placed on the map.
pub(crate) struct Placed {
    pub(crate) key: NetKey,
    pub(crate) coords: (f64, f64),
    pub(crate) groups: [Option<Group>; 6],
}

/// Places network `key` on the map: `None` when GeoIP has no coordinates for it.
pub(crate) fn place(key: NetKey, prefixes: Prefixes, geo: &dyn Locate) -> Option<Placed> {
    let addr = prefixes.network(key).addr();
    let loc = geo.locate(addr)?;
    Some(Placed {
        key,
        coords: loc.coordinates?,
        groups: Group::all(addr, &loc),
    })
}

/// Appends the residuals of network `key` at `coords` to `out`: one per fresh estimate
/// for a datacenter with coordinates.
pub(crate) fn contribute(
    table: &LatencyTable,
    (key, coords): (NetKey, (f64, f64)),
    dc_coords: &[Option<(f64, f64)>],
    now: u64,
    out: &mut Vec<Contribution>,
) {
    for (dc, rtt) in table.cells_of(key, now) {
        let Some(Some(at)) = dc_coords.get(usize::from(dc)) else {
            continue;
        };
        let predicted = estimate_rtt_ms(haversine_km(coords, *at));
        let age = now.saturating_sub(rtt.updated) as f64;
        out.push(Contribution {
            dc,
            residual: rtt.rtt_ms - predicted,
            weight: f64::from(rtt.samples.min(SAMPLE_CAP)) * (-age / HALF_LIFE_SECS).exp2(),
            samples: rtt.samples,
            updated: u32::try_from(rtt.updated).unwrap_or(u32::MAX),
        });
    }
}

/// One residual contributing to a group.
#[derive(Clone, Copy)]
pub(crate) struct Contribution {
    dc: u16,
    residual: f64,
    weight: f64,
    samples: u32,
    updated: u32,
}

/// Builds the aggregates of `table` at `now`. `dc_coords[i]` are the coordinates of the
/// table's datacenter `i` (`None`: not in any zone, not aggregated).
pub(crate) fn build(
    table: &LatencyTable,
    geo: &dyn Locate,
    dc_coords: &[Option<(f64, f64)>],
    now: u64,
) -> Aggregates {
    let prefixes = table.prefixes();
    let placed: Vec<Placed> = table
        .keys()
        .filter_map(|key| place(key, prefixes, geo))
        .collect();
    let mut groups = HashMap::new();
    let mut members: Vec<(Group, u32)> = Vec::with_capacity(placed.len());
    let mut scratch: Vec<Contribution> = Vec::new();
    for level in Level::ALL {
        let i = level as usize;
        members.clear();
        members.extend(
            placed
                .iter()
                .enumerate()
                .filter_map(|(n, p)| Some((p.groups[i]?, u32::try_from(n).ok()?))),
        );
        members.sort_unstable();
        for run in members.chunk_by(|a, b| a.0 == b.0) {
            scratch.clear();
            for &(_, n) in run {
                let p = &placed[n as usize];
                contribute(table, (p.key, p.coords), dc_coords, now, &mut scratch);
            }
            let estimates = pool(&mut scratch, i);
            if !estimates.is_empty() {
                groups.insert(run[0].0, estimates.into_boxed_slice());
            }
        }
    }
    groups.shrink_to_fit();
    Aggregates::new(groups, placed.len())
}

/// Per datacenter: the weighted median residual of `c` when enough networks and samples
/// contributed at level `i`.
pub(crate) fn pool(c: &mut [Contribution], i: usize) -> Vec<Estimate> {
    c.sort_unstable_by(|a, b| a.dc.cmp(&b.dc).then(a.residual.total_cmp(&b.residual)));
    let mut out = Vec::new();
    for dc in c.chunk_by(|a, b| a.dc == b.dc) {
        let networks = u32::try_from(dc.len()).unwrap_or(u32::MAX);
        let samples = dc.iter().fold(0u32, |s, x| s.saturating_add(x.samples));
        if networks < MIN_NETWORKS[i] || samples < MIN_SAMPLES[i] {
            continue;
        }
        let total: f64 = dc.iter().map(|x| x.weight).sum();
        if total <= 0.0 {
            continue;
        }
        let updated = dc
            .iter()
            .map(|x| f64::from(x.updated) * x.weight)
            .sum::<f64>()
            / total;
        out.push(Estimate {
            dc: dc[0].dc,
            residual_ms: weighted_median(dc, total) as f32,
            networks,
            samples,
            updated: updated as u32,
        });
    }
    out
}

/// The weighted median of residuals sorted ascending: the first value where the
/// cumulative weight reaches half the total; the mean of the two middle values when the
/// halves balance exactly.
fn weighted_median(sorted: &[Contribution], total: f64) -> f64 {
    let half = total / 2.0;
    let mut acc = 0.0;
    for (i, x) in sorted.iter().enumerate() {
        acc += x.weight;
        if (acc - half).abs() <= total * 1e-9 {
            let next = sorted.get(i + 1).map_or(x.residual, |n| n.residual);
            return f64::midpoint(x.residual, next);
        }
        if acc > half {
            return x.residual;
        }
    }
    sorted.last().map_or(0.0, |x| x.residual)
}

#[cfg(test)]
#[path = "latency_build_tests.rs"]
pub(crate) mod tests;
