//! The synchronous answer to one question: zone lookup, CNAME chains, referrals, negatives.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::HINFO;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use rand::Rng;

use super::service::{Step, answer_service};
use crate::geo::Locate;
use crate::health::HealthSnapshot;
use crate::policy::{Client, LatencyView, Outcome, RttSource, Trace};
use crate::zone::key::WireKey;
use crate::zone::{Lookup, Node, Zone, ZoneSet};

/// Longest in-zone CNAME chain followed before answering with what was found.
pub const MAX_CNAME_CHAIN: usize = 8;

/// The sections and flags of a reply, before encoding.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub rcode: ResponseCode,
    pub authoritative: bool,
    pub answer: Vec<Record>,
    pub authority: Vec<Record>,
    pub additional: Vec<Record>,
    /// ECS scope prefix the answer depends on (0 = the same for every client).
    pub ecs_scope: u8,
    /// The zone that answered (its origin), for metrics and explain.
    pub zone: Option<std::sync::Arc<str>>,
    /// The service decision behind the answer, when a policy made one.
    pub decision: Option<(std::sync::Arc<str>, &'static str, Outcome)>,
    /// `latency` services: whether the answer rests on a measured or estimated RTT.
    pub rtt_source: Option<RttSource>,
}

/// What a policy needs besides the zones: who asks, and the published snapshots.
pub struct Context<'a, R: Rng + ?Sized> {
    pub client: Client,
    pub geo: &'a dyn Locate,
    pub health: &'a HealthSnapshot,
    /// The latency table and the time it is read at (`LatencyView::none()`: no data).
    pub latency: LatencyView<'a>,
    pub rng: &'a mut R,
    pub trace: Option<&'a mut Trace>,
}

impl Answer {
    fn new(rcode: ResponseCode, authoritative: bool) -> Self {
        Self {
            rcode,
            authoritative,
            answer: Vec::new(),
            authority: Vec::new(),
            additional: Vec::new(),
            ecs_scope: 0,
            zone: None,
            decision: None,
            rtt_source: None,
        }
    }

    /// A bare error answer (REFUSED, SERVFAIL, ...).
    pub fn error(rcode: ResponseCode) -> Self {
        Self::new(rcode, false)
    }

    /// Whether this answer is a referral to a delegated child.
    pub fn is_referral(&self) -> bool {
        !self.authoritative && self.rcode == ResponseCode::NoError && !self.authority.is_empty()
    }
}

/// Answer `qname`/`qtype` from `zones`.
pub fn resolve<R: Rng + ?Sized>(
    zones: &ZoneSet,
    qname: &Name,
    qtype: RecordType,
    cx: &mut Context<'_, R>,
) -> Answer {
    let qkey = WireKey::new(qname);
    let Some(zone) = zones.find_key(&qkey) else {
        return Answer::error(ResponseCode::Refused);
    };
    if matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
        return Answer::error(ResponseCode::Refused);
    }
    let mut out = Answer::new(ResponseCode::NoError, true);
    out.zone = Some(zone.name.clone());
    let mut owner = qname.clone();
    for hop in 0..=MAX_CNAME_CHAIN {
        let ds = qtype == RecordType::DS;
        let found = if hop == 0 {
            zone.lookup_key(&qkey, ds)
        } else {
            zone.lookup(&owner, ds)
        };
        let node = match found {
            Lookup::Found { node, .. } => node,
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
        if let Some(service) = &node.service {
            match answer_service(zone, service, node, &owner, qtype, cx, &mut out) {
                Step::Done => return out,
                Step::Follow(target) => {
                    owner = target;
                    continue;
                }
            }
        }
        match node.rrset(RecordType::CNAME) {
            Some(cname) if qtype != RecordType::CNAME && qtype != RecordType::ANY => {
                push_owned(&mut out.answer, &cname.records, &owner);
                let Some(RData::CNAME(target)) = cname.records.first().map(|r| &r.data) else {
                    return out;
                };
                if !zone.origin.zone_of(&target.0) {
                    return out;
                }
                owner = target.0.clone();
            }
            _ => {
                answer_node(zone, node, &owner, qtype, &mut out);
                return out;
            }
        }
    }
    out
}

/// Fill the answer from `node` for `qtype`, or make it NODATA.
pub(super) fn answer_node(
    zone: &Zone,
    node: &Node,
    owner: &Name,
    qtype: RecordType,
    out: &mut Answer,
) {
    let set = if qtype == RecordType::ANY {
        node.rrsets.first()
    } else {
        node.rrset(qtype)
    };
    match set {
        Some(set) => {
            push_owned(&mut out.answer, &set.records, owner);
            additional_for(zone, &set.records, &mut out.additional);
        }
        None if qtype == RecordType::ANY && out.answer.is_empty() && !node.is_empty() => {
            out.answer.push(rfc8482_hinfo(owner));
        }
        None => out.authority.push(negative_soa(zone)),
    }
}

/// RFC 8482 section 4.2: a synthesized HINFO instead of every RRset.
fn rfc8482_hinfo(owner: &Name) -> Record {
    let data = HINFO::new("RFC8482".to_string(), String::new());
    Record::from_rdata(owner.clone(), 3600, RData::HINFO(data))
}

/// Copy `records` with `owner` as their name (wildcard synthesis, question case).
pub(super) fn push_owned(out: &mut Vec<Record>, records: &[Record], owner: &Name) {
    out.extend(records.iter().map(|r| {
        let mut r = r.clone();
        r.name = owner.clone();
        r
    }));
}

/// The SOA for a negative answer, with TTL = min(SOA TTL, SOA minimum) (RFC 2308).
pub(super) fn negative_soa(zone: &Zone) -> Record {
    let mut soa = zone.soa.clone();
    soa.ttl = zone.negative_ttl;
    soa
}

fn referral(zone: &Zone, node: &Node) -> Answer {
    let mut out = Answer::new(ResponseCode::NoError, false);
    if let Some(ns) = node.rrset(RecordType::NS) {
        out.authority.extend(ns.records.iter().cloned());
        additional_for(zone, &ns.records, &mut out.additional);
    }
    out
}

/// A and AAAA records for in-zone NS, MX and SRV targets (glue included).
fn additional_for(zone: &Zone, records: &[Record], out: &mut Vec<Record>) {
    for record in records {
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
            let Some(set) = node.rrset(rtype) else {
                continue;
            };
            if !out
                .iter()
                .any(|r| r.name == *target && r.record_type() == rtype)
            {
                out.extend(set.records.iter().cloned());
            }
        }
    }
}

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;
