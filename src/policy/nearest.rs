//! The `nearest` policy: datacenters ranked by biased great-circle distance from the client.

use std::sync::Arc;

use rand::Rng;

use crate::geo::Locate;

use super::eligibility::{DcFilter, Group, Pass};
use super::eval::Eval;
use super::explain::Event;
use super::model::{DatacenterId, PoolId};
use super::query::Outcome;

/// Mean Earth radius in kilometres.
pub(crate) const EARTH_RADIUS_KM: f64 = 6371.0088;

/// Great-circle distance between two (latitude, longitude) points in degrees.
pub(crate) fn haversine_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lon1) = (a.0.to_radians(), a.1.to_radians());
    let (lat2, lon2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// Effective distance = distance × (1 − bias/100), bias clamped to −99..=99.
pub(crate) fn biased_km(distance_km: f64, bias: i8) -> f64 {
    distance_km * (1.0 - f64::from(bias.clamp(-99, 99)) / 100.0)
}

/// A ranked datacenter: id (`None`: no datacenter) and raw/biased distance when known.
pub(super) type Ranked = (Option<DatacenterId>, Option<(f64, f64)>);

/// Datacenters in rank order: inline up to eight, so ranking allocates nothing per query.
pub(super) type RankedList = smallvec::SmallVec<[Ranked; 8]>;

/// Ranks candidate datacenters for the client, recording the scope the ranking relies on.
///
/// Pools map to datacenters through their members: the candidates are (datacenter, pool)
/// pairs, "the members of pool P located in datacenter D". Datacenters hosting a member
/// of the queried family in a listed pool are ranked by effective distance (ties and
/// unknown client coordinates keep first-appearance order; members without a datacenter
/// rank last). [`run`] then tries, for each datacenter in rank order, the listed pools in
/// order; the first pair with `min_healthy` usable members answers through the pool's
/// selection. With at most one candidate datacenter the client is not located (scope 0).
pub(super) fn rank<R: Rng + ?Sized>(
    ev: &mut Eval<'_, '_, R>,
    pools: &[PoolId],
    geo: &dyn Locate,
) -> RankedList {
    let judge = ev.judge(Pass::IgnoreDrain);
    let mut ranked = RankedList::new();
    let members = pools
        .iter()
        .filter_map(|&p| ev.service.pool(p))
        .flat_map(|p| p.members.iter());
    for m in members.filter(|m| ev.want.accepts(&m.answer)) {
        let dc = judge.dc_of(m);
        if !ranked.iter().any(|r| r.0 == dc) {
            ranked.push((dc, None));
        }
    }
    if ranked.len() < 2 {
        ev.note(|| Event::Note("at most one candidate datacenter: location not needed"));
        return ranked;
    }
    let location = ev.locate(geo);
    if let Some(client) = location.and_then(|l| l.coordinates) {
        for r in &mut ranked {
            r.1 = ev.service.datacenter(r.0).map(|d| {
                let km = haversine_km(client, d.coordinates);
                (km, biased_km(km, d.bias))
            });
        }
    } else {
        ev.note(|| Event::Note("no client coordinates: datacenters in configuration order"));
    }
    let key = |r: &Ranked| match r {
        (None, _) => f64::INFINITY,
        (Some(_), d) => d.map_or(0.0, |d| d.1),
    };
    ranked.sort_by(|a, b| key(a).total_cmp(&key(b)));
    if ev.tracing() {
        for &(dc, d) in &ranked {
            let name = ev.service.datacenter(dc).map(|d| Arc::clone(&d.name));
            ev.note(|| Event::Ranked {
                datacenter: name,
                distance_km: d.map(|d| d.0),
                effective_km: d.map(|d| d.1),
            });
        }
    }
    ranked
}

/// Tries (datacenter, pool) pairs in rank order for one pass.
pub(super) fn run<'a, R: Rng + ?Sized>(
    ev: &mut Eval<'a, '_, R>,
    pools: &'a [PoolId],
    ranked: &[Ranked],
    pass: Pass,
) -> Option<Outcome> {
    let service = ev.service;
    let judge = ev.judge(pass);
    // Only pairs where the pool has a member of the queried family in that datacenter.
    let groups = ranked.iter().flat_map(move |&(dc, _)| {
        pools.iter().filter_map(move |&p| {
            let g = Group {
                pool: service.pool(p)?,
                dc: DcFilter::At(dc),
            };
            let present = judge.members(g).any(|m| judge.want.accepts(&m.answer));
            present.then_some(g)
        })
    });
    ev.first_up(groups, pass)
}

#[cfg(test)]
#[path = "nearest_tests.rs"]
mod tests;
