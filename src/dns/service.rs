//! Answering a service name: choose the member kind, run the policy, turn its decision into records.

use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA, CNAME};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use rand::Rng;

use super::resolve::{Answer, Context, answer_node, negative_soa};
use crate::policy::{self, Outcome, Policy, Service, Want};
use crate::zone::{Node, Zone};

/// What the resolver does after a service answered.
pub enum Step {
    Done,
    /// A CNAME service pointed inside the zone: continue the chain there.
    Follow(Name),
}

/// The policy name as configs, metrics and traces spell it.
pub fn policy_name(service: &Service) -> &'static str {
    match service.policy {
        Policy::Failover { .. } => "failover",
        Policy::Weighted { .. } => "weighted",
        Policy::Geo(_) => "geo",
        Policy::Nearest { .. } => "nearest",
        Policy::Latency(_) => "latency",
    }
}

/// Whether the service answers with host names (a CNAME service).
pub fn is_cname_service(service: &Service) -> bool {
    service
        .pools
        .iter()
        .flat_map(|p| p.members.first())
        .any(|m| matches!(m.answer, policy::Answer::Name(_)))
}

pub fn answer_service<R: Rng + ?Sized>(
    zone: &Zone,
    service: &Arc<Service>,
    node: &Node,
    owner: &Name,
    qtype: RecordType,
    cx: &mut Context<'_, R>,
    out: &mut Answer,
) -> Step {
    let cname = is_cname_service(service);
    let want = match qtype {
        _ if cname => Want::Name,
        RecordType::A | RecordType::ANY => Want::V4,
        RecordType::AAAA => Want::V6,
        _ => {
            answer_node(zone, node, owner, qtype, out);
            return Step::Done;
        }
    };
    let inputs = policy::Inputs {
        geo: cx.geo,
        health: cx.health,
        latency: cx.latency,
    };
    let decision = policy::evaluate_with(
        service,
        want,
        &cx.client,
        &inputs,
        cx.rng,
        cx.trace.as_deref_mut(),
    );
    out.ecs_scope = out.ecs_scope.max(decision.ecs_scope);
    out.rtt_source = out.rtt_source.or(decision.rtt_source);
    out.decision = Some((service.name.clone(), policy_name(service), decision.outcome));
    match decision.outcome {
        Outcome::ServFail => {
            *out = Answer {
                decision: out.decision.take(),
                zone: out.zone.take(),
                rtt_source: out.rtt_source,
                ecs_scope: out.ecs_scope,
                ..Answer::error(ResponseCode::ServFail)
            };
            return Step::Done;
        }
        _ if decision.answers.is_empty() => {
            out.authority.push(negative_soa(zone));
            return Step::Done;
        }
        _ => {}
    }
    let records: Vec<Record> = decision
        .answers
        .iter()
        .filter_map(|a| record(owner, decision.ttl, a))
        .collect();
    let target = match records.first().map(|r| &r.data) {
        Some(RData::CNAME(c)) if qtype != RecordType::CNAME => Some(c.0.clone()),
        _ => None,
    };
    out.answer.extend(records);
    match target {
        Some(t) if zone.origin.zone_of(&t) => Step::Follow(t),
        _ => Step::Done,
    }
}

fn record(owner: &Name, ttl: u32, answer: &policy::Answer) -> Option<Record> {
    let data = match answer {
        policy::Answer::Addr(std::net::IpAddr::V4(a)) => RData::A(A(*a)),
        policy::Answer::Addr(std::net::IpAddr::V6(a)) => RData::AAAA(AAAA(*a)),
        policy::Answer::Name(n) => RData::CNAME(CNAME(Name::from_ascii(n.as_ref()).ok()?)),
    };
    Some(Record::from_rdata(owner.clone(), ttl, data))
}
