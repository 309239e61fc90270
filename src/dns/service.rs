//! Answering a service name: choose the member kind, run the policy, turn its decision into records.

use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use rand::Rng;

use super::answer::{Answer, Rr, address};
use super::node::{At, Context, answer_node, negative_soa};
use crate::policy::{self, Outcome, Service, Want};
use crate::zone::key::{text_key, text_name};
use crate::zone::{Node, Zone};

/// What the resolver does after a service answered.
pub(crate) enum Step {
    Done,
    /// A CNAME service pointed inside the zone: continue the chain there.
    Follow(Name),
}

/// Whether the service answers with host names (a CNAME service).
pub(crate) fn is_cname_service(service: &Service) -> bool {
    service
        .pools
        .iter()
        .filter_map(|p| p.members.first())
        .any(|m| matches!(m.answer, policy::Answer::Name(_)))
}

pub(crate) fn answer_service<'z, R: Rng + ?Sized>(
    zone: &'z Zone,
    service: &'z Arc<Service>,
    node: &'z Node,
    at: &At<'_>,
    qtype: RecordType,
    cx: &mut Context<'_, R>,
    out: &mut Answer<'z>,
) -> Step {
    let cname = is_cname_service(service);
    let want = match qtype {
        _ if cname => Want::Name,
        RecordType::A | RecordType::ANY => Want::V4,
        RecordType::AAAA => Want::V6,
        _ => {
            answer_node(zone, node, at.clone(), qtype, out);
            return Step::Done;
        }
    };
    let inputs = policy::Inputs {
        geo: cx.geo,
        health: cx.health,
        latency: policy::LatencyView {
            table: cx.latency,
            now: cx.now,
        },
        load: cx.load,
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
    out.decision = Some((&service.name, service.policy.kind(), decision.outcome));
    match decision.outcome {
        Outcome::ServFail => {
            *out = Answer {
                decision: out.decision,
                zone: out.zone,
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
    // A chain continues from the first answer when it is a CNAME.
    let (mut follow, mut first) = (None, true);
    for answer in &decision.answers {
        match answer {
            policy::Answer::Addr(addr) => out.answer.push(match at.target {
                None => Rr::Addr {
                    ttl: decision.ttl,
                    addr: *addr,
                },
                Some(t) => Rr::Record(Box::new(address(t.clone(), decision.ttl, *addr))),
            }),
            policy::Answer::Name(n) => {
                if first && qtype != RecordType::CNAME {
                    follow = target_inside(zone, at, n);
                }
                match at.target {
                    None => out.answer.push(Rr::Cname {
                        ttl: decision.ttl,
                        target: Arc::clone(n),
                    }),
                    Some(owner) => {
                        let Some(target) = text_name(n) else {
                            continue;
                        };
                        let data = RData::CNAME(CNAME(target));
                        out.answer.push(Rr::Record(Box::new(Record::from_rdata(
                            owner.clone(),
                            decision.ttl,
                            data,
                        ))));
                    }
                }
            }
        }
        first = false;
    }
    follow.map_or(Step::Done, Step::Follow)
}

/// A CNAME service's target as a name to follow, when it lies inside the zone. The usual
/// target, outside the zone, is told apart without building a `Name`: the question is in
/// the zone, so its last `origin_labels` labels are the origin's.
fn target_inside(zone: &Zone, at: &At<'_>, text: &str) -> Option<Name> {
    let mut wire = [0u8; 256];
    let n = zone.origin_labels;
    let outside = text_key(text, &mut wire)
        .is_some_and(|key| key.labels() < n || key.suffix(n) != at.qname.key().suffix(n));
    if outside {
        return None;
    }
    let name = text_name(text)?;
    zone.origin.zone_of(&name).then_some(name)
}
