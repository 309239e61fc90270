//! A reply's sections before encoding: zone RRsets by reference, decision addresses, the rare
//! record built for one answer, and the owned form (`Resolved`) explain and tests read.

use std::net::IpAddr;
use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA, CNAME};
use hickory_proto::rr::{Name, RData, Record};
use smallvec::SmallVec;

use crate::policy::{Outcome, PolicyKind, RttSource};
use crate::zone::key::text_name;
use crate::zone::{RRset, Zone};

/// Who owns the records of a zone RRset in a reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Owner {
    /// The question name, in the client's case (direct and wildcard answers).
    Question,
    /// The name the set has in the zone (glue, referrals, the SOA).
    Own,
    /// Another name: a CNAME target reached through a wildcard or a service.
    Name(Box<Name>),
}

/// Records of one section entry.
#[derive(Debug, Clone)]
pub(crate) enum Rr<'z> {
    /// A zone RRset under `owner`.
    Set { owner: Owner, set: &'z RRset },
    /// One address a decision chose, owned by the question name.
    Addr { ttl: u32, addr: IpAddr },
    /// A CNAME a decision chose, owned by the question name: the member's host name as
    /// the configuration compiler spells it (absolute, dotted).
    Cname { ttl: u32, target: Arc<str> },
    /// A record built for this answer (synthesized, or owned by a name met on the way).
    Record(Box<Record>),
}

/// A section: most hold one or two entries, kept inline.
pub(crate) type Section<'z> = SmallVec<[Rr<'z>; 2]>;

impl Rr<'_> {
    /// How many records the entry writes.
    pub(crate) fn count(&self) -> usize {
        match self {
            Rr::Set { set, .. } => set.records.len(),
            Rr::Addr { .. } | Rr::Cname { .. } | Rr::Record(_) => 1,
        }
    }

    /// The entry as records, the question being `qname`.
    pub(crate) fn records(&self, qname: &Name) -> Vec<Record> {
        match self {
            Rr::Set { owner, set } => set
                .records
                .iter()
                .map(|r| {
                    let mut r = r.clone();
                    match owner {
                        Owner::Question => r.name = qname.clone(),
                        Owner::Own => {}
                        Owner::Name(n) => r.name = (**n).clone(),
                    }
                    r
                })
                .collect(),
            Rr::Addr { ttl, addr } => vec![address(qname.clone(), *ttl, *addr)],
            Rr::Cname { ttl, target } => text_name(target)
                .map(|t| Record::from_rdata(qname.clone(), *ttl, RData::CNAME(CNAME(t))))
                .into_iter()
                .collect(),
            Rr::Record(r) => vec![(**r).clone()],
        }
    }
}

/// An A or AAAA record.
pub(crate) fn address(owner: Name, ttl: u32, addr: IpAddr) -> Record {
    let data = match addr {
        IpAddr::V4(a) => RData::A(A(a)),
        IpAddr::V6(a) => RData::AAAA(AAAA(a)),
    };
    Record::from_rdata(owner, ttl, data)
}

/// The sections and flags of a reply, borrowing from the zone snapshot.
#[derive(Debug, Clone)]
pub struct Answer<'z> {
    pub(crate) rcode: ResponseCode,
    pub(crate) authoritative: bool,
    pub(crate) answer: Section<'z>,
    pub(crate) authority: Section<'z>,
    pub(crate) additional: Section<'z>,
    /// ECS scope prefix the answer depends on (0 = the same for every client).
    pub(crate) ecs_scope: u8,
    /// The zone that answered.
    pub(crate) zone: Option<&'z Zone>,
    /// The service decision behind the answer, when a policy made one: service name,
    /// policy name, outcome.
    pub(crate) decision: Option<(&'z Arc<str>, PolicyKind, Outcome)>,
    /// `latency` services: whether the answer rests on a measured or estimated RTT.
    pub(crate) rtt_source: Option<RttSource>,
}

impl Answer<'_> {
    pub(crate) fn new(rcode: ResponseCode, authoritative: bool) -> Self {
        Self {
            rcode,
            authoritative,
            answer: Section::new(),
            authority: Section::new(),
            additional: Section::new(),
            ecs_scope: 0,
            zone: None,
            decision: None,
            rtt_source: None,
        }
    }

    /// A bare error answer (REFUSED, SERVFAIL, ...).
    pub(crate) fn error(rcode: ResponseCode) -> Self {
        Self::new(rcode, false)
    }

    /// Whether this answer is a referral to a delegated child.
    pub(crate) fn is_referral(&self) -> bool {
        !self.authoritative && self.rcode == ResponseCode::NoError && !self.authority.is_empty()
    }

    /// The owned form, the question being `qname`.
    pub fn resolved(&self, qname: &Name) -> Resolved {
        let records = |s: &Section<'_>| s.iter().flat_map(|rr| rr.records(qname)).collect();
        Resolved {
            rcode: self.rcode,
            authoritative: self.authoritative,
            answer: records(&self.answer),
            authority: records(&self.authority),
            additional: records(&self.additional),
            ecs_scope: self.ecs_scope,
            zone: self.zone.map(|z| z.name.clone()),
            decision: self.decision.map(|(s, p, o)| (s.clone(), p, o)),
            rtt_source: self.rtt_source,
        }
    }
}

/// An answer as plain records, for explain output and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The response code.
    pub rcode: ResponseCode,
    pub(crate) authoritative: bool,
    /// The answer section.
    pub answer: Vec<Record>,
    /// The authority section.
    pub authority: Vec<Record>,
    /// The additional section.
    pub additional: Vec<Record>,
    pub(crate) ecs_scope: u8,
    /// The origin of the zone that answered.
    pub(crate) zone: Option<Arc<str>>,
    pub(crate) decision: Option<(Arc<str>, PolicyKind, Outcome)>,
    pub(crate) rtt_source: Option<RttSource>,
}

impl Resolved {
    /// Whether this answer is a referral to a delegated child.
    #[cfg(test)]
    pub(crate) fn is_referral(&self) -> bool {
        !self.authoritative && self.rcode == ResponseCode::NoError && !self.authority.is_empty()
    }
}

/// Whether a section already holds `set`.
pub(crate) fn holds(section: &Section<'_>, set: &RRset) -> bool {
    section
        .iter()
        .any(|rr| matches!(rr, Rr::Set { set: s, .. } if std::ptr::eq(*s, set)))
}
