//! The `geo` policy map: CIDR > ASN > subdivision > country > continent > default, and its scope.

use std::sync::Arc;

use ipnet::IpNet;
use rand::Rng;

use crate::geo::Locate;

use super::addr_bits::{from_bits, mask, to_bits};
use super::eval::Eval;
use super::explain::{Event, ScopeInput};
pub(crate) use super::geo_map::{GeoKey, GeoMap};
use super::model::PoolId;

/// Picks the client's pool list, recording the scope the match relies on.
pub(super) fn choose<'a, R: Rng + ?Sized>(
    map: &'a GeoMap,
    ev: &mut Eval<'a, '_, R>,
    geo: &dyn Locate,
) -> &'a [PoolId] {
    let addr = ev.client.addr;
    if let Some(cidr) = map.cidr.as_deref() {
        let hit = cidr.lookup(addr);
        if let Some((len, pools)) = hit.matched {
            ev.need(ScopeInput::CidrEntry, hit.scope);
            note_match(
                ev,
                || {
                    let (bits, width) = to_bits(addr);
                    let net = IpNet::new(from_bits(mask(bits, width, len), width), len);
                    GeoKey::Cidr(net.unwrap_or_else(|_| IpNet::from(addr)))
                },
                pools,
            );
            return pools;
        }
        if hit.scope > 0 {
            ev.need(ScopeInput::CidrNeighbours, hit.scope);
        }
    }
    if !map.uses_location() {
        note_match(ev, || GeoKey::Default, &map.default);
        return &map.default;
    }
    let Some(loc) = ev.locate(geo) else {
        note_match(ev, || GeoKey::Default, &map.default);
        return &map.default;
    };
    let (key, pools) = map.match_location(&loc);
    note_match(ev, || key, pools);
    pools
}

fn note_match<R: Rng + ?Sized>(
    ev: &mut Eval<'_, '_, R>,
    key: impl FnOnce() -> GeoKey,
    pools: &[PoolId],
) {
    let service = ev.service;
    ev.note(|| Event::Matched {
        key: key(),
        pools: pools
            .iter()
            .map(|&p| {
                service
                    .pool(p)
                    .map_or_else(|| Arc::from("(invalid pool)"), |p| p.name.clone())
            })
            .collect(),
    });
}

#[cfg(test)]
#[path = "geo_tests.rs"]
mod tests;
