//! The synchronous answer to one question: zone lookup, CNAME chains, referrals, negatives.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, RecordType};

use rand::Rng;

pub use super::answer::{Answer, Owner};
pub(crate) use super::answer::{Resolved, Rr, Section};
pub use super::node::Context;
use super::node::{At, additional_for, answer_node, negative_soa};
use super::qname::QName;
use super::service::{Step, answer_service};
use crate::zone::{Lookup, Node, Zone, ZoneSet};

/// Longest in-zone CNAME chain followed before answering with what was found.
pub(crate) const MAX_CNAME_CHAIN: usize = 8;

/// Answer `qname`/`qtype` from `zones`.
pub fn resolve<'z, R: Rng + ?Sized>(
    zones: &'z ZoneSet,
    qname: &QName<'_>,
    qtype: RecordType,
    cx: &mut Context<'_, R>,
) -> Answer<'z> {
    let qkey = qname.key();
    let Some(zone) = zones.find_key(qkey) else {
        return Answer::error(ResponseCode::Refused);
    };
    if matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
        return Answer::error(ResponseCode::Refused);
    }
    let mut out = Answer::new(ResponseCode::NoError, true);
    out.zone = Some(zone);
    let ds = qtype == RecordType::DS;
    let mut target: Option<Name> = None;
    for _ in 0..=MAX_CNAME_CHAIN {
        let found = match &target {
            None => zone.lookup_key(qkey, ds),
            Some(t) => zone.lookup(t, ds),
        };
        let (node, wildcard) = match found {
            Lookup::Found { node, wildcard } => (node, wildcard),
            Lookup::Referral { node, .. } if out.answer.is_empty() => {
                return Answer {
                    zone: out.zone,
                    ..referral(zone, node)
                };
            }
            Lookup::Referral { .. } => return out,
            Lookup::NxDomain => {
                out.rcode = ResponseCode::NXDomain;
                out.authority.push(negative_soa(zone));
                return out;
            }
        };
        let at = At {
            owner: match (&target, wildcard) {
                (None, _) => Owner::Question,
                (Some(_), false) => Owner::Own,
                (Some(t), true) => Owner::Name(Box::new(t.clone())),
            },
            target: target.as_ref(),
            qname,
        };
        if let Some(service) = &node.service {
            match answer_service(zone, service, node, &at, qtype, cx, &mut out) {
                Step::Done => return out,
                Step::Follow(next) => {
                    target = Some(next);
                    continue;
                }
            }
        }
        match node.rrset(RecordType::CNAME) {
            Some(cname) if qtype != RecordType::CNAME && qtype != RecordType::ANY => {
                out.answer.push(Rr::Set {
                    owner: at.owner,
                    set: cname,
                });
                let Some(RData::CNAME(next)) = cname.records.first().map(|r| &r.data) else {
                    return out;
                };
                if !zone.origin.zone_of(&next.0) {
                    return out;
                }
                target = Some(next.0.clone());
            }
            _ => {
                answer_node(zone, node, at, qtype, &mut out);
                return out;
            }
        }
    }
    out
}

fn referral<'z>(zone: &'z Zone, node: &'z Node) -> Answer<'z> {
    let mut out = Answer::new(ResponseCode::NoError, false);
    if let Some(ns) = node.rrset(RecordType::NS) {
        out.authority.push(Rr::Set {
            owner: Owner::Own,
            set: ns,
        });
        additional_for(zone, ns, &mut out.additional);
    }
    out
}

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;
