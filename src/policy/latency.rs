//! The `latency` policy: datacenters ranked by measured RTT from the client's network, estimated from distance where unmeasured.
//!
//! For each candidate datacenter (one hosting a member of the queried family in a listed
//! pool) the RTT is the latency table's fresh estimate for the client's network (IPv4 /24,
//! IPv6 /48 by default) with at least `min_samples` samples; without one it is estimated
//! from the great-circle distance between the client's GeoIP location and the datacenter
//! (see [`estimate_rtt_ms`]; the datacenter's `bias` scales the distance as for
//! `nearest`). Datacenters within the tolerance of the best, `max(tolerance_ms, best ×
//! tolerance_percent / 100)`, are ties: ordered by a hash of the client network and the
//! datacenter name (`ties = "hash"`: tied networks spread across the tied datacenters, each
//! network always to the same one) or by configuration order (`ties = "order"`). The
//! others follow by RTT, then datacenters with no RTT, then members without a datacenter.
//! Each (datacenter, pool) pair is then tried in that order exactly as `nearest` does, so
//! down members are skipped and failover follows the RTT order.
//!
//! ECS scope: the table's network prefix when the table holds networks of the client's
//! family or a hash decided a tie (the answer may differ for the next network), the GeoIP
//! network when an estimate was needed (the client's whole source prefix when it is not in
//! the database); never more than the source prefix.

use std::net::IpAddr;
use std::sync::Arc;

use rand::Rng;
use smallvec::SmallVec;

use crate::geo::{Locate, Location};
use crate::latency::Rtt;
use crate::latency::aggregate::{Aggregates, Estimate, Group, Level};

use super::eligibility::Pass;
use super::eval::Eval;
use super::explain::{Event, ScopeInput};
pub(crate) use super::latency_trace::{Basis, GroupName, LatencyEvent, Neighbours};
use super::model::{Datacenter, DatacenterId, PoolId};
use super::nearest::{RankedList, biased_km, haversine_km};
use super::query::Outcome;
pub(crate) use super::rtt::{LatencyPolicy, RttSource, Ties, estimate_rtt_ms};
use crate::hash::{bytes_hash, mix};

/// The ranking and, per ranked datacenter, where its RTT came from.
pub(super) struct Ranking {
    pub(crate) ranked: RankedList,
    sources: SmallVec<[Option<RttSource>; 8]>,
}

/// Smallest RTT a neighbour estimate gives (a residual may be negative), ms.
pub(crate) const MIN_ESTIMATE_MS: f64 = 1.0;

/// Candidate datacenters, inline up to eight (no allocation per query).
type Candidates = SmallVec<[Candidate; 8]>;

struct Candidate {
    dc: Option<DatacenterId>,
    name: Option<Arc<str>>,
    rtt: Option<f64>,
    basis: Basis,
    tied: bool,
    /// Tie-break hash of the client network and the datacenter name.
    score: u64,
}

/// Ranks candidate datacenters by RTT for the client, recording the scope it relies on.
pub(super) fn rank<R: Rng + ?Sized>(
    ev: &mut Eval<'_, '_, R>,
    p: &LatencyPolicy,
    geo: &dyn Locate,
) -> Ranking {
    let judge = ev.judge(Pass::IgnoreDrain);
    let mut cands = Candidates::new();
    let members = p
        .pools
        .iter()
        .filter_map(|&id| ev.service.pool(id))
        .flat_map(|pool| pool.members.iter());
    for m in members.filter(|m| ev.want.accepts(&m.answer)) {
        let dc = judge.dc_of(m);
        if !cands.iter().any(|c| c.dc == dc) {
            cands.push(Candidate {
                dc,
                name: ev.service.datacenter(dc).map(|d| d.name.clone()),
                rtt: None,
                basis: Basis::Unknown,
                tied: false,
                score: 0,
            });
        }
    }
    if cands.len() < 2 {
        ev.note(|| Event::Note("at most one candidate datacenter: RTT not needed"));
        let ranked = cands.iter().map(|c| (c.dc, None)).collect();
        return Ranking {
            ranked,
            sources: smallvec::smallvec![None; cands.len()],
        };
    }
    measure(ev, p, &mut cands);
    let mut subdivision = None;
    if cands.iter().any(|c| c.dc.is_some() && c.rtt.is_none()) {
        subdivision = estimate(ev, geo, &mut cands);
    }
    order(ev, p, cands, subdivision.as_ref())
}

/// Fills in fresh table estimates for the client's network.
fn measure<R: Rng + ?Sized>(ev: &mut Eval<'_, '_, R>, p: &LatencyPolicy, cands: &mut [Candidate]) {
    let view = ev.latency;
    let prefixes = view.table.prefixes();
    let key = prefixes.key(ev.client.addr);
    let mut measured = 0;
    for c in cands.iter_mut() {
        let Some(name) = &c.name else {
            continue;
        };
        let rtt: Option<Rtt> = view
            .table
            .dc_index(name)
            .and_then(|i| view.table.rtt(key, i, view.now))
            .filter(|r| r.samples >= p.min_samples);
        if let Some(r) = rtt {
            measured += 1;
            c.rtt = Some(r.rtt_ms);
            c.basis = Basis::Measured {
                samples: r.samples,
                age_secs: r.age(view.now),
            };
        }
    }
    let network = prefixes.network(key);
    ev.note(|| Event::Latency(LatencyEvent::Network { network, measured }));
    if view.table.has_family(ev.client.addr.is_ipv4()) {
        ev.need(ScopeInput::LatencyNetwork, network.prefix_len());
    }
}

/// Estimates unmeasured datacenters: from the most specific neighbour group holding an
/// estimate for the datacenter (its residual added to this network's own great-circle
/// prediction), else from the great-circle distance alone (biased like `nearest`).
/// Returns the client's subdivision, which names a subdivision group in the trace.
fn estimate<R: Rng + ?Sized>(
    ev: &mut Eval<'_, '_, R>,
    geo: &dyn Locate,
    cands: &mut [Candidate],
) -> Option<Arc<str>> {
    let location = ev.locate(geo);
    let Some(client) = location.as_ref().and_then(|l| l.coordinates) else {
        ev.note(|| Event::Note("no client coordinates: unmeasured datacenters have no RTT"));
        return None;
    };
    let table = ev.latency.table;
    let found = location
        .as_ref()
        .map(|loc| neighbour_groups(table.aggregates(), ev.client.addr, loc))
        .unwrap_or_default();
    let now = ev.latency.now;
    for c in cands.iter_mut().filter(|c| c.rtt.is_none()) {
        let Some(dc) = ev.service.datacenter(c.dc) else {
            continue;
        };
        let (rtt, basis) = unmeasured_rtt(&found, client, dc, table.dc_index(&dc.name), now);
        c.rtt = Some(rtt);
        c.basis = basis;
    }
    location.and_then(|l| l.subdivision)
}

/// The client's neighbour groups (in [`Level`] order) that hold estimates.
pub(crate) type Found<'a> = [Option<(Group, &'a [Estimate])>; 6];

/// The groups of a client at `addr` located at `loc` that hold estimates (no allocation).
pub(crate) fn neighbour_groups<'a>(
    aggregates: &'a Aggregates,
    addr: IpAddr,
    loc: &Location,
) -> Found<'a> {
    let mut found: Found<'a> = [None; 6];
    if !aggregates.is_empty() {
        for (slot, group) in found.iter_mut().zip(Group::all(addr, loc)) {
            *slot = group.and_then(|g| Some((g, aggregates.get(&g)?)));
        }
    }
    found
}

/// The RTT to `dc` (table index `index`) of a client at `client` without its own
/// measurement: from the most specific group in `found` with an estimate for it (the
/// residual added to the client's own great-circle prediction), else from the
/// great-circle distance alone (biased like `nearest`).
pub(crate) fn unmeasured_rtt(
    found: &Found<'_>,
    client: (f64, f64),
    dc: &Datacenter,
    index: Option<u16>,
    now: u64,
) -> (f64, Basis) {
    let km = haversine_km(client, dc.coordinates);
    let neighbour = index.and_then(|i| {
        Level::ALL.into_iter().zip(found).find_map(|(level, f)| {
            let (group, cells) = (*f)?;
            let e = cells.iter().find(|e| e.dc == i)?;
            Some((level, group, *e))
        })
    });
    if let Some((level, group, e)) = neighbour {
        let residual = f64::from(e.residual_ms);
        let basis = Basis::Neighbours(Neighbours {
            level,
            group,
            networks: e.networks,
            samples: e.samples,
            age_secs: now.saturating_sub(u64::from(e.updated)),
            residual_ms: residual,
            distance_km: km,
        });
        ((estimate_rtt_ms(km) + residual).max(MIN_ESTIMATE_MS), basis)
    } else {
        let effective = biased_km(km, dc.bias);
        let basis = Basis::Estimated {
            distance_km: km,
            effective_km: effective,
        };
        (estimate_rtt_ms(effective), basis)
    }
}

/// Sorts candidates: ties with the best first (by hash or order), then by RTT, unknown
/// RTTs, and members without a datacenter last; notes the ranking and its scope.
fn order<R: Rng + ?Sized>(
    ev: &mut Eval<'_, '_, R>,
    p: &LatencyPolicy,
    mut cands: Candidates,
    subdivision: Option<&Arc<str>>,
) -> Ranking {
    let best = cands.iter().filter_map(|c| c.rtt).min_by(f64::total_cmp);
    let within = best.map_or(0.0, |b| p.tolerance_ms.max(b * p.tolerance_percent / 100.0));
    let key = ev.latency.table.prefixes().key(ev.client.addr);
    for c in &mut cands {
        c.tied = c.dc.is_some() && matches!((c.rtt, best), (Some(r), Some(b)) if r <= b + within);
        let name = c.name.as_deref().unwrap_or("");
        c.score = mix(key.raw() ^ bytes_hash(name.as_bytes()));
    }
    let tied = cands.iter().filter(|c| c.tied).count();
    sort(&mut cands, p.ties);
    if let Some(best_ms) = best {
        if tied > 1 && p.ties == Ties::Hash {
            let bits = ev.latency.table.prefixes().of(ev.client.addr);
            ev.need(ScopeInput::LatencyNetwork, bits);
        }
        let ties = p.ties;
        ev.note(|| {
            Event::Latency(LatencyEvent::Tolerance {
                best_ms,
                within_ms: within,
                tied,
                ties,
            })
        });
    }
    if ev.tracing() {
        for c in &cands {
            let event = LatencyEvent::Datacenter {
                name: c.name.clone(),
                rtt_ms: c.rtt,
                basis: c.basis,
                tied: tied > 1 && c.tied,
                subdivision: subdivision.cloned(),
            };
            ev.note(|| Event::Latency(event));
        }
    }
    let source = |c: &Candidate| match c.basis {
        Basis::Measured { .. } => RttSource::Measured,
        Basis::Neighbours(n) => RttSource::from(n.level),
        Basis::Estimated { .. } | Basis::Unknown => RttSource::Estimated,
    };
    Ranking {
        ranked: cands.iter().map(|c| (c.dc, None)).collect(),
        sources: cands.iter().map(|c| Some(source(c))).collect(),
    }
}

/// Stable sort into rank order; equal keys keep configuration order.
fn sort(cands: &mut [Candidate], ties: Ties) {
    let class = |c: &Candidate| match (c.dc, c.tied, c.rtt) {
        (None, ..) => 3,
        (_, true, _) => 0,
        (_, false, Some(_)) => 1,
        (_, false, None) => 2,
    };
    cands.sort_by(|a, b| {
        class(a).cmp(&class(b)).then_with(|| match class(a) {
            0 if ties == Ties::Hash => b.score.cmp(&a.score),
            1 => a.rtt.unwrap_or(0.0).total_cmp(&b.rtt.unwrap_or(0.0)),
            _ => std::cmp::Ordering::Equal,
        })
    });
}

/// Tries (datacenter, pool) pairs in rank order; on an answer, records the RTT source of
/// the datacenter that answered and notes it.
pub(super) fn run<'a, R: Rng + ?Sized>(
    ev: &mut Eval<'a, '_, R>,
    pools: &'a [PoolId],
    ranking: &Ranking,
    pass: Pass,
) -> Option<Outcome> {
    let outcome = super::nearest::run(ev, pools, &ranking.ranked, pass)?;
    let judge = ev.judge(pass);
    let service = ev.service;
    let answered = ranking.ranked.iter().position(|&(dc, _)| {
        pools
            .iter()
            .filter_map(|&id| service.pool(id))
            .flat_map(|pool| pool.members.iter())
            .any(|m| judge.dc_of(m) == dc && ev.answers.contains(&m.answer))
    });
    let source = answered.and_then(|i| ranking.sources[i]);
    ev.rtt_source = source;
    if let Some(source) = source {
        ev.note(|| Event::Latency(LatencyEvent::Steered(source)));
    }
    Some(outcome)
}

#[cfg(test)]
#[path = "latency_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "latency_neighbour_tests.rs"]
mod neighbour_tests;
