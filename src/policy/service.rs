//! A compiled service: its steering policy, pools, datacenters, TTL and `all_down` action.

use std::num::NonZeroU16;
use std::sync::Arc;

use super::geo_map::GeoMap;
use super::model::{
    AllDown, Datacenter, DatacenterId, Pool, PoolId, PoolWeight, Selection, WeightBy, WeightMode,
};
use super::query::Want;
use super::rtt::LatencyPolicy;
use crate::closed_set::closed_set;

/// A service's steering policy (closed set: an enum, not trait objects).
#[derive(Clone, Debug)]
pub enum Policy {
    /// Ordered pools: the first one that is up wins (ECS scope 0 unless it hashes).
    Failover {
        /// The pools in order.
        pools: Vec<PoolId>,
    },
    /// Weighted draw of members or pools.
    Weighted {
        /// Whether members or whole pools are drawn.
        by: WeightBy,
        /// Fresh random draws or a hash of the client subnet.
        mode: WeightMode,
        /// The pools, with their weights.
        pools: Vec<PoolWeight>,
    },
    /// Client location → ordered pool list, most specific match first.
    Geo(GeoMap),
    /// Datacenters ranked by biased great-circle distance from the client.
    Nearest {
        /// The pools to rank.
        pools: Vec<PoolId>,
    },
    /// Datacenters ranked by measured RTT from the client's network (estimated from
    /// distance where unmeasured).
    Latency(LatencyPolicy),
}

impl Policy {
    /// Which of the policies this is.
    pub(crate) fn kind(&self) -> PolicyKind {
        match self {
            Policy::Failover { .. } => PolicyKind::Failover,
            Policy::Weighted { .. } => PolicyKind::Weighted,
            Policy::Geo(_) => PolicyKind::Geo,
            Policy::Nearest { .. } => PolicyKind::Nearest,
            Policy::Latency(_) => PolicyKind::Latency,
        }
    }
}

closed_set! {
    /// The steering policies without their settings: what zone files (`policy = "geo"`),
    /// metrics, the admin API and explain name.
    pub enum PolicyKind {
        /// [`Policy::Failover`].
        Failover => "failover",
        /// [`Policy::Weighted`].
        Weighted => "weighted",
        /// [`Policy::Geo`].
        Geo => "geo",
        /// [`Policy::Nearest`].
        Nearest => "nearest",
        /// [`Policy::Latency`].
        Latency => "latency",
    }
}

/// A dynamic name in a zone, compiled.
#[derive(Clone, Debug)]
pub struct Service {
    /// Owner name (FQDN), for traces and logs.
    pub(crate) name: Arc<str>,
    pub(crate) policy: Policy,
    /// Every pool the policy may reference; [`PoolId`]s index this.
    pub(crate) pools: Vec<Arc<Pool>>,
    /// The datacenters members refer to (usually shared by all services of a zone).
    pub(crate) datacenters: Arc<[Datacenter]>,
    /// Answer TTL in seconds (default [`DEFAULT_TTL`]).
    pub(crate) ttl: u32,
    /// Cap on answers; `None` = the chosen pool selection's default (`all`: every usable
    /// member; `weighted`/`hash` and `weighted` policies by member: 1). Host-name
    /// (CNAME) answers are always capped at 1.
    pub(crate) max_answers: Option<NonZeroU16>,
    pub(crate) all_down: AllDown,
}

impl Service {
    /// The pool behind `id`, if the id is valid.
    pub(crate) fn pool(&self, id: PoolId) -> Option<&Pool> {
        self.pools.get(id).map(|p| &**p)
    }

    /// The datacenter a member refers to, if the id is valid.
    pub(crate) fn datacenter(&self, id: Option<DatacenterId>) -> Option<&Datacenter> {
        id.and_then(|i| self.datacenters.get(i))
    }

    /// The answer cap for a draw from a pool with `selection`: `max_answers`, else the
    /// selection's default; always 1 for host names (a CNAME RRset holds one record).
    pub(crate) fn cap(&self, selection: Selection, want: Want) -> usize {
        if want == Want::Name {
            return 1;
        }
        self.max_answers
            .map_or(selection.default_max_answers(), |n| usize::from(n.get()))
    }
}
