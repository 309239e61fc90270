//! The `weighted` policy: members or pools drawn by weight, at random or by client-subnet hash.

use rand::Rng;
use smallvec::SmallVec;

use super::eligibility::{DcFilter, Group, Pass};
use super::eval::Eval;
use super::explain::{Event, PickReason, ScopeInput};
use super::model::{PoolWeight, Selection, WeightBy, WeightMode};
use super::query::Outcome;
use super::rendezvous::{ClientKey, score};
use super::select::below;
use crate::hash::bytes_hash;

/// Runs `weighted` for one pass. `Failover` when a listed pool of the family was down.
pub(super) fn run<'a, R: Rng + ?Sized>(
    ev: &mut Eval<'a, '_, R>,
    by: WeightBy,
    mode: WeightMode,
    pools: &'a [PoolWeight],
    pass: Pass,
) -> Option<Outcome> {
    let judge = ev.judge(pass);
    let service = ev.service;
    let groups = move || {
        pools.iter().filter_map(move |pw| {
            let pool = service.pool(pw.pool)?;
            Some((
                pw.weight,
                Group {
                    pool,
                    dc: DcFilter::Any,
                },
            ))
        })
    };
    // Each pool is judged once: the census walks every member's health.
    let mut up: SmallVec<[(u32, Group<'a>); 4]> = SmallVec::new();
    let mut any_down = false;
    for (w, g) in groups() {
        let census = judge.census(g);
        ev.note_pool(g, census, pass);
        if census.up() {
            up.push((w, g));
        }
        any_down |= !census.up() && census.total > 0;
    }
    if up.is_empty() {
        return None;
    }
    match by {
        WeightBy::Member => {
            let cands = up.iter().flat_map(move |&(_, g)| judge.candidates(g));
            match mode {
                WeightMode::Random => {
                    ev.draw_weighted(cands, ev.service.cap(Selection::Weighted, ev.want));
                }
                WeightMode::Hash => ev.take_hashed(cands, ev.service.cap(Selection::Hash, ev.want)),
            }
        }
        WeightBy::Pool => {
            let g = draw_pool(ev, up.iter().copied(), mode, pass)?;
            ev.select(g, judge);
        }
    }
    Some(if any_down {
        Outcome::Failover
    } else {
        Outcome::Primary
    })
}

/// Draws one up pool by pool weight (drained pools count 1 in the last fail-open pass).
fn draw_pool<'a, R: Rng + ?Sized>(
    ev: &mut Eval<'a, '_, R>,
    up: impl Iterator<Item = (u32, Group<'a>)> + Clone,
    mode: WeightMode,
    pass: Pass,
) -> Option<Group<'a>> {
    let weight = move |w: u32| {
        if pass == Pass::IgnoreDrain {
            w.max(1)
        } else {
            w
        }
    };
    let weighted = up.filter_map(move |(w, g)| (weight(w) > 0).then_some((weight(w), g)));
    let (g, reason) = match mode {
        WeightMode::Random => {
            let total: u64 = weighted.clone().map(|(w, _)| u64::from(w)).sum();
            if total == 0 {
                return None;
            }
            let mut r = below(ev.rng, total);
            let (w, g) = weighted.clone().find(|(w, _)| {
                let hit = r < u64::from(*w);
                r = r.saturating_sub(u64::from(*w));
                hit
            })?;
            (g, PickReason::Weighted { weight: w, total })
        }
        WeightMode::Hash => {
            let key = ClientKey::new(ev.client.addr, ev.client.source_prefix);
            if weighted.clone().nth(1).is_some() {
                ev.need(ScopeInput::HashedSubnet, key.prefix);
            }
            let ranked = weighted
                .map(|(w, g)| (w, g, score(key.hash, bytes_hash(g.pool.name.as_bytes()), w)));
            let (w, g, _) = ranked.fold(None, |best: Option<(u32, Group, f64)>, c| match best {
                Some(b) if b.2 >= c.2 => Some(b),
                _ => Some(c),
            })?;
            let reason = PickReason::Hash {
                subnet: key.addr,
                prefix: key.prefix,
                weight: w,
            };
            (g, reason)
        }
    };
    ev.note(|| Event::DrawnPool {
        pool: g.pool.name.clone(),
        reason,
    });
    Some(g)
}

#[cfg(test)]
#[path = "weighted_tests.rs"]
mod tests;
