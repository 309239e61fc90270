//! The client-dependent half of a policy, computed once per query, then run per pass.

use rand::Rng;

use crate::geo::Locate;

use super::eligibility::{DcFilter, Group, Pass};
use super::eval::Eval;
use super::latency::Ranking;
use super::model::{PoolId, PoolWeight, WeightBy, WeightMode};
use super::nearest::RankedList;
use super::query::Outcome;
use super::service::Policy;
use super::{geo, latency, nearest, weighted};

/// What a policy resolved to for this client, before health is applied.
pub(super) enum Plan<'a> {
    /// Pools tried in order: `failover`, and `geo` after matching.
    Ordered(&'a [PoolId]),
    Weighted {
        by: WeightBy,
        mode: WeightMode,
        pools: &'a [PoolWeight],
    },
    Nearest {
        pools: &'a [PoolId],
        ranked: RankedList,
    },
    Latency {
        pools: &'a [PoolId],
        ranking: Ranking,
    },
}

impl<'a> Plan<'a> {
    /// Locates the client if (and only if) the policy needs it.
    pub(crate) fn new<R: Rng + ?Sized>(ev: &mut Eval<'a, '_, R>, locate: &dyn Locate) -> Self {
        let service = ev.service;
        match &service.policy {
            Policy::Failover { pools } => Plan::Ordered(pools),
            Policy::Weighted { by, mode, pools } => Plan::Weighted {
                by: *by,
                mode: *mode,
                pools,
            },
            Policy::Geo(map) => Plan::Ordered(geo::choose(map, ev, locate)),
            Policy::Nearest { pools } => Plan::Nearest {
                pools,
                ranked: nearest::rank(ev, pools, locate),
            },
            Policy::Latency(p) => Plan::Latency {
                pools: &p.pools,
                ranking: latency::rank(ev, p, locate),
            },
        }
    }

    /// Answers into `ev` under `pass`; `None` when no candidate is up.
    pub(crate) fn run<R: Rng + ?Sized>(
        &self,
        ev: &mut Eval<'a, '_, R>,
        pass: Pass,
    ) -> Option<Outcome> {
        match self {
            Plan::Ordered(pools) => {
                let service = ev.service;
                let groups = pools.iter().filter_map(|&p| {
                    Some(Group {
                        pool: service.pool(p)?,
                        dc: DcFilter::Any,
                    })
                });
                ev.first_up(groups, pass)
            }
            Plan::Weighted { by, mode, pools } => weighted::run(ev, *by, *mode, pools, pass),
            Plan::Nearest { pools, ranked } => nearest::run(ev, pools, ranked, pass),
            Plan::Latency { pools, ranking } => latency::run(ev, pools, ranking, pass),
        }
    }
}
