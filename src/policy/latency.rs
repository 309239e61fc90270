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

use std::fmt;
use std::sync::Arc;

use ipnet::IpNet;
use rand::Rng;

use crate::geo::Locate;
use crate::latency::{LatencyTable, Rtt};

use super::eligibility::Pass;
use super::eval::Eval;
use super::explain::{Event, ScopeInput};
use super::model::{DatacenterId, PoolId};
use super::nearest::{Ranked, biased_km, haversine_km};
use super::rendezvous::{bytes_hash, mix};

/// Speed of light in fibre, km per millisecond (one way).
pub const FIBRE_KM_PER_MS: f64 = 200.0;
/// How much longer real paths are than the great circle.
pub const PATH_FACTOR: f64 = 1.5;
/// Fixed overhead added to every estimate (last mile, queueing), ms.
pub const BASE_MS: f64 = 5.0;

/// The RTT estimate used where nothing is measured:
/// `2 × distance_km / 200 km/ms × 1.5 + 5 ms` (about 1.5 ms per 100 km, plus 5 ms).
pub fn estimate_rtt_ms(distance_km: f64) -> f64 {
    2.0 * distance_km / FIBRE_KM_PER_MS * PATH_FACTOR + BASE_MS
}

/// How near-ties are ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Ties {
    /// By a hash of the client network and the datacenter: spread and sticky.
    #[default]
    Hash,
    /// By the order datacenters first appear in the listed pools.
    Order,
}

/// The `latency` policy's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct LatencyPolicy {
    pub pools: Vec<PoolId>,
    /// Absolute tolerance in ms (default 5).
    pub tolerance_ms: f64,
    /// Relative tolerance in percent of the best RTT (default 10).
    pub tolerance_percent: f64,
    pub ties: Ties,
    /// Measurements with fewer samples are not used (default 1).
    pub min_samples: u32,
}

impl LatencyPolicy {
    pub const DEFAULT_TOLERANCE_MS: f64 = 5.0;
    pub const DEFAULT_TOLERANCE_PERCENT: f64 = 10.0;

    pub fn new(pools: Vec<PoolId>) -> Self {
        Self {
            pools,
            tolerance_ms: Self::DEFAULT_TOLERANCE_MS,
            tolerance_percent: Self::DEFAULT_TOLERANCE_PERCENT,
            ties: Ties::Hash,
            min_samples: 1,
        }
    }
}

/// Where the RTT that chose the answering datacenter came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RttSource {
    Measured,
    Estimated,
}

impl RttSource {
    pub fn as_str(self) -> &'static str {
        match self {
            RttSource::Measured => "measured",
            RttSource::Estimated => "estimated",
        }
    }
}

/// The latency snapshot a query reads, with the time (Unix seconds) it is read at.
#[derive(Clone, Copy, Debug)]
pub struct LatencyView<'a> {
    pub table: &'a LatencyTable,
    pub now: u64,
}

impl LatencyView<'static> {
    /// No measurements: every `latency` service falls back to estimates.
    pub fn none() -> Self {
        Self {
            table: LatencyTable::empty(),
            now: 0,
        }
    }
}

/// What a candidate's RTT is based on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Basis {
    Measured { samples: u32, age_secs: u64 },
    Estimated { distance_km: f64, effective_km: f64 },
    Unknown,
}

/// Trace events of the `latency` policy.
#[derive(Clone, Debug, PartialEq)]
pub enum LatencyEvent {
    Network {
        network: IpNet,
        measured: usize,
    },
    Datacenter {
        name: Option<Arc<str>>,
        rtt_ms: Option<f64>,
        basis: Basis,
        tied: bool,
    },
    Tolerance {
        best_ms: f64,
        within_ms: f64,
        tied: usize,
        ties: Ties,
    },
    Steered(RttSource),
}

/// The ranking and, per ranked datacenter, where its RTT came from.
pub(super) struct Ranking {
    pub ranked: Vec<Ranked>,
    sources: Vec<Option<RttSource>>,
}

struct Candidate {
    dc: Option<DatacenterId>,
    rtt: Option<f64>,
    basis: Basis,
}

/// Ranks candidate datacenters by RTT for the client, recording the scope it relies on.
pub(super) fn rank<R: Rng + ?Sized>(
    ev: &mut Eval<'_, '_, R>,
    p: &LatencyPolicy,
    geo: &dyn Locate,
) -> Ranking {
    let judge = ev.judge(Pass::IgnoreDrain);
    let mut cands: Vec<Candidate> = Vec::new();
    let members = p
        .pools
        .iter()
        .filter_map(|&id| ev.service.pool(id))
        .flat_map(|pool| pool.members.iter());
    for m in members.filter(|m| ev.want.accepts(&m.answer)) {
        let dc = judge.dc_of(m);
        if !cands.iter().any(|c| c.dc == dc) {
            let basis = Basis::Unknown;
            cands.push(Candidate {
                dc,
                rtt: None,
                basis,
            });
        }
    }
    if cands.len() < 2 {
        ev.note(|| Event::Note("at most one candidate datacenter: RTT not needed"));
        let ranked = cands.iter().map(|c| (c.dc, None)).collect();
        return Ranking {
            ranked,
            sources: vec![None; cands.len()],
        };
    }
    measure(ev, p, &mut cands);
    if cands.iter().any(|c| c.dc.is_some() && c.rtt.is_none()) {
        estimate(ev, geo, &mut cands);
    }
    order(ev, p, cands)
}

/// Fills in fresh table estimates for the client's network.
fn measure<R: Rng + ?Sized>(ev: &mut Eval<'_, '_, R>, p: &LatencyPolicy, cands: &mut [Candidate]) {
    let view = ev.latency;
    let prefixes = view.table.prefixes();
    let key = prefixes.key(ev.client.addr);
    let mut measured = 0;
    for c in cands.iter_mut() {
        let Some(dc) = ev.service.datacenter(c.dc) else {
            continue;
        };
        let rtt: Option<Rtt> = view
            .table
            .dc_index(&dc.name)
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

/// Estimates unmeasured datacenters from the great-circle distance to the client.
fn estimate<R: Rng + ?Sized>(ev: &mut Eval<'_, '_, R>, geo: &dyn Locate, cands: &mut [Candidate]) {
    let location = geo.locate(ev.client.addr);
    if ev.tracing() {
        let shown = location.clone();
        ev.note(|| Event::Located(shown));
    }
    match &location {
        Some(loc) => ev.need(ScopeInput::GeoDatabase, loc.prefix_len),
        None => {
            let width = ev.width();
            ev.need(ScopeInput::Unlocated, width);
        }
    }
    let Some(client) = location.and_then(|l| l.coordinates) else {
        ev.note(|| Event::Note("no client coordinates: unmeasured datacenters have no RTT"));
        return;
    };
    for c in cands.iter_mut().filter(|c| c.rtt.is_none()) {
        if let Some(dc) = ev.service.datacenter(c.dc) {
            let km = haversine_km(client, dc.coordinates);
            let effective = biased_km(km, dc.bias);
            c.rtt = Some(estimate_rtt_ms(effective));
            c.basis = Basis::Estimated {
                distance_km: km,
                effective_km: effective,
            };
        }
    }
}

/// Sorts candidates: ties with the best first (by hash or order), then by RTT, unknown
/// RTTs, and members without a datacenter last.
fn order<R: Rng + ?Sized>(
    ev: &mut Eval<'_, '_, R>,
    p: &LatencyPolicy,
    cands: Vec<Candidate>,
) -> Ranking {
    let best = cands.iter().filter_map(|c| c.rtt).min_by(f64::total_cmp);
    let within = best.map_or(0.0, |b| p.tolerance_ms.max(b * p.tolerance_percent / 100.0));
    let is_tied = |c: &Candidate| matches!((c.rtt, best), (Some(r), Some(b)) if r <= b + within);
    let key = ev.latency.table.prefixes().key(ev.client.addr);
    let names: Vec<Option<Arc<str>>> = cands
        .iter()
        .map(|c| ev.service.datacenter(c.dc).map(|d| d.name.clone()))
        .collect();
    let score = |i: usize| {
        let name = names[i].as_deref().unwrap_or("");
        mix(key.raw() ^ bytes_hash(name.as_bytes()))
    };
    let tied_count = cands.iter().filter(|c| is_tied(c)).count();
    let mut idx: Vec<usize> = (0..cands.len()).collect();
    idx.sort_by(|&a, &b| {
        let (ca, cb) = (&cands[a], &cands[b]);
        let class = |c: &Candidate| match (c.dc, is_tied(c), c.rtt) {
            (None, ..) => 3,
            (_, true, _) => 0,
            (_, false, Some(_)) => 1,
            (_, false, None) => 2,
        };
        class(ca).cmp(&class(cb)).then_with(|| match class(ca) {
            0 if p.ties == Ties::Hash => score(b).cmp(&score(a)),
            1 => ca.rtt.unwrap_or(0.0).total_cmp(&cb.rtt.unwrap_or(0.0)),
            _ => a.cmp(&b),
        })
    });
    if let Some(best_ms) = best {
        if tied_count > 1 && p.ties == Ties::Hash {
            let bits = ev.latency.table.prefixes().of(ev.client.addr);
            ev.need(ScopeInput::LatencyNetwork, bits);
        }
        let ties = p.ties;
        ev.note(|| {
            Event::Latency(LatencyEvent::Tolerance {
                best_ms,
                within_ms: within,
                tied: tied_count,
                ties,
            })
        });
    }
    if ev.tracing() {
        for &i in &idx {
            let c = &cands[i];
            let event = LatencyEvent::Datacenter {
                name: names[i].clone(),
                rtt_ms: c.rtt,
                basis: c.basis,
                tied: tied_count > 1 && is_tied(c) && c.dc.is_some(),
            };
            ev.note(|| Event::Latency(event));
        }
    }
    let source = |c: &Candidate| match c.basis {
        Basis::Measured { .. } => Some(RttSource::Measured),
        Basis::Estimated { .. } | Basis::Unknown => Some(RttSource::Estimated),
    };
    Ranking {
        ranked: idx.iter().map(|&i| (cands[i].dc, None)).collect(),
        sources: idx.iter().map(|&i| source(&cands[i])).collect(),
    }
}

/// Tries (datacenter, pool) pairs in rank order; on an answer, records the RTT source of
/// the datacenter that answered and notes it.
pub(super) fn run<'a, R: Rng + ?Sized>(
    ev: &mut Eval<'a, '_, R>,
    pools: &'a [PoolId],
    ranking: &Ranking,
    pass: Pass,
) -> Option<super::Outcome> {
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

impl fmt::Display for LatencyEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LatencyEvent::Network { network, measured } => write!(
                f,
                "latency: client network {network}, {measured} datacenter(s) measured"
            ),
            LatencyEvent::Tolerance {
                best_ms,
                within_ms,
                tied,
                ties,
            } => {
                let by = match ties {
                    Ties::Hash => "a hash of the client network",
                    Ties::Order => "configuration order",
                };
                write!(
                    f,
                    "best RTT {best_ms:.1} ms, tolerance {within_ms:.1} ms: {tied} datacenter(s) tie for best"
                )?;
                if *tied > 1 {
                    write!(f, ", ordered by {by}")?;
                }
                Ok(())
            }
            LatencyEvent::Datacenter {
                name,
                rtt_ms,
                basis,
                tied,
            } => {
                let name = name.as_deref().unwrap_or("(no datacenter)");
                let tie = if *tied { " [tie]" } else { "" };
                match (rtt_ms, basis) {
                    (Some(ms), Basis::Measured { samples, age_secs }) => write!(
                        f,
                        "datacenter {name}: {ms:.1} ms measured ({samples} samples, age {age_secs} s){tie}"
                    ),
                    (
                        Some(ms),
                        Basis::Estimated {
                            distance_km,
                            effective_km,
                        },
                    ) => write!(
                        f,
                        "datacenter {name}: {ms:.1} ms estimated from {distance_km:.0} km (biased {effective_km:.0} km){tie}"
                    ),
                    _ => write!(f, "datacenter {name}: RTT unknown"),
                }
            }
            LatencyEvent::Steered(RttSource::Measured) => {
                write!(f, "steered by measured RTT")
            }
            LatencyEvent::Steered(RttSource::Estimated) => write!(
                f,
                "steered by estimated RTT (no measurement for this network and datacenter; \
                 fallback 2 x km / {FIBRE_KM_PER_MS} km/ms x {PATH_FACTOR} + {BASE_MS} ms)"
            ),
        }
    }
}

#[cfg(test)]
#[path = "tables_latency.rs"]
mod tests;
