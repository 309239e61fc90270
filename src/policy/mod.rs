//! Traffic steering policies: pure functions from a service, a client and snapshots to a decision.
//!
//! Worked examples. Pool `eu` = 192.0.2.10 and 192.0.2.11 in Frankfurt, pool `us` =
//! 198.51.100.10 in Ashburn. Every decision carries the service TTL and the ECS scope it
//! relied on (never more than the query's source prefix; /0 when the client did not matter).
//!
//! - **failover** `[eu, us]`: `eu` up → its members (outcome `Primary`, scope /0). Both `eu`
//!   members down (fewer usable than `min_healthy`) → `us` (`Failover`, /0). All down →
//!   `all_down`; the default `fail_open` answers as if all were up, i.e. `eu` (`FailOpen`).
//! - **weighted** by member, random, weights .10 = 5, .11 = 3, 198.51.100.10 = 2: one answer
//!   per query, chosen for 50 % / 30 % / 20 % of queries (scope /0). With `mode = hash` the
//!   client's /24 (IPv6: /56) decides, with the same shares over many subnets, always the
//!   same member for one subnet, and scope /24; draining .11 (weight 0, or down) moves only
//!   the subnets .11 had. By pool: a pool is drawn by pool weight, then its selection runs.
//! - **geo** `{cidr 203.0.113.0/24: [internal], AS64500: [us], subdivision US-CA: [us],
//!   country DE: [eu], continent NA: [us, eu], default: [us]}`, most specific first (CIDR >
//!   ASN > subdivision > country > continent > default): ECS 203.0.113.0/24 → `internal`
//!   (scope /24); a German client in a GeoIP /20 → `eu` (scope /20); a Canadian → `us`, or
//!   `eu` while `us` is down (`Failover`); an address the database lacks → `us` with scope =
//!   its source prefix. Were 203.0.113.128/25 also mapped, a client sending 203.0.113.7/32
//!   would get scope /25: wide enough to cache, narrow enough to exclude the /25.
//! - **nearest** `[eu, us]`: a client in Paris gets `eu` (≈480 km against ≈6200 km), one in
//!   Chicago `us`; with Ashburn's bias at +90 (effective distance × 0.1, ≈620 km from Paris)
//!   Paris still gets `eu`. If Frankfurt's members are down, Paris fails over to `us`.
//!   Scope: the client's GeoIP network prefix.
//! - **latency** `[eu, us]`: datacenters ranked by the RTT measured from the client's
//!   network (a /24) to each datacenter, estimated from distance where unmeasured (see
//!   [`latency`]). A Paris /24 measured at 80 ms to Frankfurt and 20 ms to Ashburn gets
//!   `us` (scope /24); with 20 and 23 ms (within the 5 ms tolerance) a hash of the /24
//!   decides, the same way every time; an unmeasured /24 gets `eu` as with `nearest`.
//!
//! Within the chosen pool, `selection` decides: `all` (every usable member, shuffled),
//! `weighted` (weighted sample without replacement) or `hash` (sticky per client subnet);
//! `max_answers` caps the set. AAAA for a service with only IPv4 members: empty answers,
//! outcome `NoData`, scope /0. Empty answers always come with `NoData` or `ServFail`.

use rand::Rng;

use crate::geo::Locate;
use crate::health::HealthSnapshot;

mod addr_bits;
pub(crate) mod cidr;
pub(crate) mod cidr_file;
mod eligibility;
mod eval;
pub(crate) mod explain;
pub(crate) mod geo;
mod geo_map;
pub(crate) mod latency;
pub(crate) mod latency_build;
pub(crate) mod latency_index;
mod latency_trace;
pub(crate) mod load;
mod load_view;
pub(crate) mod model;
pub(crate) mod nearest;
mod plan;
mod query;
pub(crate) mod rendezvous;
mod rtt;
mod select;
mod service;
mod weighted;

#[cfg(test)]
mod evaluate_tests;
#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod invariants_tests;
#[cfg(test)]
mod load_fixtures;
#[cfg(test)]
mod load_tests;

pub use cidr::CidrMap;
pub(crate) use cidr::PoolList;
pub use eligibility::Pass;
pub use explain::Trace;
pub use geo_map::GeoMap;
pub(crate) use geo_map::Subdivision;
pub use model::{
    AllDown, Answer, Answers, Datacenter, DatacenterId, Member, Pool, PoolId, Selection, WeightBy,
};
pub(crate) use model::{PoolWeight, WeightMode};
pub use rtt::{LatencyPolicy, LatencyView};
pub(crate) use rtt::{RttSource, Ties};
pub(crate) use service::Service;
pub use service::{Policy, PolicyKind};

use eval::Eval;
use explain::{Event, PickReason};
use plan::Plan;
pub use query::{Client, Outcome, Want};

/// A policy's output for one query.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Decision {
    /// Distinct answers of the wanted family, in answer order (at most `max_answers`).
    pub(crate) answers: Answers,
    pub(crate) ttl: u32,
    /// ECS scope prefix length for the response: `min(needed, source_prefix)`.
    pub(crate) ecs_scope: u8,
    pub(crate) outcome: Outcome,
    /// `latency` services: whether the answering datacenter's RTT was measured or
    /// estimated; `None` for other policies and when no RTT ranking was needed.
    pub(crate) rtt_source: Option<RttSource>,
}

/// The published snapshots a policy may read.
#[derive(Clone, Copy)]
pub(crate) struct Inputs<'a> {
    pub(crate) geo: &'a dyn Locate,
    pub(crate) health: &'a HealthSnapshot,
    pub(crate) latency: LatencyView<'a>,
    /// Published load (`LoadSnapshot::none()`: no load anywhere).
    pub(crate) load: &'a crate::load::LoadSnapshot,
}

/// Evaluates `service` for one query. Pure: the same inputs and RNG state give the same
/// decision. `inputs.geo` is consulted only by policies that need the client's location,
/// `inputs.latency` only by `latency`; `trace`, when given, records every step for
/// `meridian explain` (the query path passes `None`).
pub(crate) fn evaluate_with<R: Rng + ?Sized>(
    service: &Service,
    want: Want,
    client: &Client,
    inputs: &Inputs<'_>,
    rng: &mut R,
    trace: Option<&mut Trace>,
) -> Decision {
    let client = &client.normalized();
    let geo = inputs.geo;
    let mut ev = Eval::new(
        service,
        want,
        client,
        inputs.health,
        inputs.latency,
        rng,
        trace,
    );
    ev.note(|| Event::Query {
        service: service.name.clone(),
        policy: service.policy.kind(),
        want,
        client: *client,
    });
    let outcome = if has_family(service, want) {
        ev.load = load::prepare(&mut ev, inputs.load);
        let plan = Plan::new(&mut ev, geo);
        match plan.run(&mut ev, Pass::Healthy) {
            Some(outcome) => outcome,
            None => without_load(&mut ev, &plan).unwrap_or_else(|| all_down(&mut ev, &plan)),
        }
    } else {
        ev.note(|| Event::Note("the service has no member of the queried family"));
        Outcome::NoData
    };
    ev.drop_superseded_scope_inputs();
    let ecs_scope = ev.scope();
    let (needed, source_prefix) = (ev.needed, client.source_prefix);
    ev.note(|| Event::Scope {
        needed,
        source_prefix,
        scope: ecs_scope,
    });
    let answers = ev.answers.len();
    ev.note(|| Event::Decided {
        outcome,
        answers,
        ttl: service.ttl,
    });
    Decision {
        answers: ev.answers,
        ttl: service.ttl,
        ecs_scope,
        outcome,
        rtt_source: ev.rtt_source,
    }
}

fn has_family(service: &Service, want: Want) -> bool {
    service
        .pools
        .iter()
        .any(|p| p.members.iter().any(|m| want.accepts(&m.answer)))
}

/// When load left no candidate, the policy again without load (load never empties an answer).
fn without_load<'a, R: Rng + ?Sized>(ev: &mut Eval<'a, '_, R>, plan: &Plan<'a>) -> Option<Outcome> {
    ev.load?;
    ev.note(|| Event::Note("load sheds every candidate: the policy again without load"));
    plan.run(ev, Pass::IgnoreLoad)
}

/// Applies the service's `all_down` action after the healthy pass found nothing.
fn all_down<'a, R: Rng + ?Sized>(ev: &mut Eval<'a, '_, R>, plan: &Plan<'a>) -> Outcome {
    let service = ev.service;
    match &service.all_down {
        AllDown::FailOpen => {
            ev.note(|| Event::AllDown {
                action: "fail_open",
            });
            for pass in [Pass::IgnoreHealth, Pass::IgnoreDrain] {
                if plan.run(ev, pass).is_some() {
                    return Outcome::FailOpen;
                }
            }
            Outcome::NoData
        }
        AllDown::NoData => {
            ev.note(|| Event::AllDown { action: "nodata" });
            Outcome::NoData
        }
        AllDown::ServFail => {
            ev.note(|| Event::AllDown { action: "servfail" });
            Outcome::ServFail
        }
        AllDown::Fallback(set) => {
            ev.note(|| Event::AllDown { action: "fallback" });
            let want = ev.want;
            let cap = service.cap(Selection::All, want);
            for answer in set.iter().filter(|a| want.accepts(a)) {
                if ev.answers.len() < cap && !ev.answers.contains(answer) {
                    ev.note(|| Event::Picked {
                        answer: answer.clone(),
                        reason: PickReason::Fallback,
                    });
                    ev.answers.push(answer.clone());
                }
            }
            if ev.answers.is_empty() {
                Outcome::NoData
            } else {
                Outcome::Fallback
            }
        }
    }
}
