//! The synchronous answer to one question: zone lookup, CNAME chains, referrals, negatives.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::HINFO;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use rand::Rng;

use super::answer::holds;
pub use super::answer::{Answer, Owner, Resolved, Rr, Section};
use super::qname::QName;
use super::service::{Step, answer_service};
use crate::geo::Locate;
use crate::health::HealthSnapshot;
use crate::latency::LatencyTable;
use crate::policy::{Client, Trace};
use crate::zone::{Lookup, Node, RRset, Zone, ZoneSet};

/// Longest in-zone CNAME chain followed before answering with what was found.
pub const MAX_CNAME_CHAIN: usize = 8;

/// What a policy needs besides the zones: who asks, and the published snapshots.
pub struct Context<'a, R: Rng + ?Sized> {
    pub client: Client,
    pub geo: &'a dyn Locate,
    pub health: &'a HealthSnapshot,
    /// The latency table (`LatencyView::none()`: no data) and the time it is read at.
    pub latency: &'a LatencyTable,
    pub now: u64,
    pub rng: &'a mut R,
    pub trace: Option<&'a mut Trace>,
}

/// The name one step of the chain answers for: the question, or an in-zone CNAME target.
#[derive(Clone)]
pub struct At<'a> {
    /// How records found here are owned in the reply.
    pub owner: Owner,
    /// The CNAME target (`None`: the question).
    pub target: Option<&'a Name>,
    pub qname: &'a QName<'a>,
}

impl At<'_> {
    /// The name as a `Name`, for records built for this answer.
    pub fn name(&self) -> Name {
        self.target.cloned().unwrap_or_else(|| self.qname.to_name())
    }
}

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

/// Fill the answer from `node` for `qtype`, or make it NODATA.
pub(super) fn answer_node<'z>(
    zone: &'z Zone,
    node: &'z Node,
    at: At<'_>,
    qtype: RecordType,
    out: &mut Answer<'z>,
) {
    let set = if qtype == RecordType::ANY {
        node.rrsets.first()
    } else {
        node.rrset(qtype)
    };
    match set {
        Some(set) => {
            out.answer.push(Rr::Set {
                owner: at.owner,
                set,
            });
            additional_for(zone, set, &mut out.additional);
        }
        None if qtype == RecordType::ANY && out.answer.is_empty() && !node.is_empty() => {
            out.answer
                .push(Rr::Record(Box::new(rfc8482_hinfo(at.name()))));
        }
        None => out.authority.push(negative_soa(zone)),
    }
}

/// RFC 8482 section 4.2: a synthesized HINFO instead of every RRset.
fn rfc8482_hinfo(owner: Name) -> Record {
    let data = HINFO::new("RFC8482".to_string(), String::new());
    Record::from_rdata(owner, 3600, RData::HINFO(data))
}

/// The SOA for a negative answer, with TTL = min(SOA TTL, SOA minimum) (RFC 2308).
pub(super) fn negative_soa(zone: &Zone) -> Rr<'_> {
    Rr::Set {
        owner: Owner::Own,
        set: &zone.negative,
    }
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

/// A and AAAA records for in-zone NS, MX and SRV targets (glue included).
fn additional_for<'z>(zone: &'z Zone, set: &RRset, out: &mut Section<'z>) {
    for record in &set.records {
        let target = match &record.data {
            RData::NS(ns) => &ns.0,
            RData::MX(mx) => &mx.exchange,
            RData::SRV(srv) => &srv.target,
            _ => continue,
        };
        let Some(node) = zone.node(target) else {
            continue;
        };
        for rtype in [RecordType::A, RecordType::AAAA] {
            if let Some(glue) = node.rrset(rtype)
                && !holds(out, glue)
            {
                out.push(Rr::Set {
                    owner: Owner::Own,
                    set: glue,
                });
            }
        }
    }
}

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;
