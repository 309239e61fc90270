//! Which members may answer: family, weight, health per evaluation pass, and pool up-ness.

use crate::health::HealthSnapshot;

use super::load_view::LoadView;
use super::model::{DatacenterId, Member, Pool};
use super::query::Want;
use super::service::Service;

/// How strictly members are judged. The policy runs `Healthy` first; fail-open reruns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pass {
    /// Health, load and `min_healthy` honoured.
    Healthy,
    /// Load left no candidate: health and `min_healthy` honoured, load ignored.
    IgnoreLoad,
    /// Fail-open: every member counts as up, `min_healthy` as 1; drained (weight 0) stay out.
    IgnoreHealth,
    /// Last fail-open resort: drained members count with weight 1.
    IgnoreDrain,
}

/// The members of a pool a candidate stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DcFilter {
    /// Every member of the pool.
    Any,
    /// Only members in this datacenter (`None`: members without a valid datacenter).
    At(Option<DatacenterId>),
}

/// A candidate: a pool, possibly restricted to one datacenter (`nearest`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Group<'a> {
    pub(crate) pool: &'a Pool,
    pub(crate) dc: DcFilter,
}

/// Judges members for one query and pass; `Copy`, so iterators can own it.
#[derive(Clone, Copy)]
pub(crate) struct Judge<'a> {
    pub(crate) service: &'a Service,
    pub(crate) health: &'a HealthSnapshot,
    pub(crate) want: Want,
    pub(crate) pass: Pass,
    /// Load shedding for this query; `None` when nothing sheds.
    pub(crate) load: Option<LoadView<'a>>,
}

/// Up/total counts of a group under a pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Census {
    /// Members of the wanted family that may answer in this pass.
    pub(crate) usable: u32,
    /// Members of the wanted family (any weight, any health).
    pub(crate) total: u32,
    /// Usable members needed for the group to be up.
    pub(crate) required: u32,
}

impl Census {
    pub(crate) fn up(self) -> bool {
        self.usable >= self.required
    }
}

impl<'a> Judge<'a> {
    /// The weight `m` answers with in this pass; 0 when it may not answer.
    pub(crate) fn weight(&self, m: &Member) -> u32 {
        if !self.want.accepts(&m.answer) {
            return 0;
        }
        match self.pass {
            Pass::IgnoreDrain => m.weight.max(1),
            Pass::IgnoreHealth => m.weight,
            Pass::Healthy | Pass::IgnoreLoad => {
                let up = m
                    .target
                    .as_deref()
                    .is_none_or(|t| self.health.status(t).usable());
                match self.load {
                    _ if !up => 0,
                    Some(load) if self.pass == Pass::Healthy => {
                        let dc = self.service.datacenter(self.dc_of(m)).map(|d| &*d.name);
                        load.weight(m, dc, m.weight)
                    }
                    _ => m.weight,
                }
            }
        }
    }

    /// The datacenter key used by `nearest`: invalid ids count as none.
    pub(crate) fn dc_of(&self, m: &Member) -> Option<DatacenterId> {
        m.datacenter.filter(|&d| d < self.service.datacenters.len())
    }

    /// The group's members (all families).
    pub(crate) fn members(
        &self,
        g: Group<'a>,
    ) -> impl Iterator<Item = &'a Member> + Clone + use<'a> {
        let judge = *self;
        g.pool.members.iter().filter(move |m| match g.dc {
            DcFilter::Any => true,
            DcFilter::At(dc) => judge.dc_of(m) == dc,
        })
    }

    /// The group's usable members with their weights.
    pub(crate) fn candidates(
        &self,
        g: Group<'a>,
    ) -> impl Iterator<Item = (&'a Member, u32)> + Clone + use<'a> {
        let judge = *self;
        self.members(g).filter_map(move |m| {
            let w = judge.weight(m);
            (w > 0).then_some((m, w))
        })
    }

    pub(crate) fn census(&self, g: Group<'a>) -> Census {
        let (mut usable, mut total) = (0, 0);
        for m in self.members(g) {
            if self.want.accepts(&m.answer) {
                total += 1;
                usable += u32::from(self.weight(m) > 0);
            }
        }
        let required = match self.pass {
            Pass::Healthy | Pass::IgnoreLoad => g.pool.min_healthy.max(1),
            Pass::IgnoreHealth | Pass::IgnoreDrain => 1,
        };
        Census {
            usable,
            total,
            required,
        }
    }
}
