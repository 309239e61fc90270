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

/// The identity of an answer's records (`Answer::identity`), inline for a few entries.
pub(crate) type AnswerId = SmallVec<[u8; 64]>;

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

    /// The identity of what the sections hold, into `out` (cleared first; never empty): per
    /// entry its kind, then the address and TTL, the CNAME target and TTL, or the address
    /// of the zone RRset (stable while its snapshot is) and its owner kind. Two answers
    /// from one snapshot to one question with the same identity are written (and signed)
    /// alike. False when an entry has no such identity (a record built for this answer).
    pub(crate) fn identity(&self, out: &mut AnswerId) -> bool {
        out.clear();
        out.push(b'!');
        [&self.answer, &self.authority, &self.additional]
            .into_iter()
            .all(|section| section_identity(section, out))
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

fn section_identity(section: &Section<'_>, out: &mut AnswerId) -> bool {
    out.push(b'|');
    for rr in section {
        match rr {
            Rr::Addr { ttl, addr } => {
                out.push(if addr.is_ipv4() { b'4' } else { b'6' });
                out.extend_from_slice(&ttl.to_be_bytes());
                match addr {
                    IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
                    IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
                }
            }
            Rr::Cname { ttl, target } => {
                let Ok(len) = u8::try_from(target.len()) else {
                    return false;
                };
                out.push(b'c');
                out.extend_from_slice(&ttl.to_be_bytes());
                out.push(len);
                out.extend_from_slice(target.as_bytes());
            }
            Rr::Set { owner, set } => {
                out.push(match owner {
                    Owner::Question => b'q',
                    Owner::Own => b'o',
                    Owner::Name(_) => return false,
                });
                out.extend_from_slice(&(std::ptr::from_ref(*set) as usize).to_ne_bytes());
            }
            Rr::Record(_) => return false,
        }
    }
    true
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

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> Answer<'static> {
        let mut answer = Answer::new(ResponseCode::NoError, true);
        for a in list {
            answer.answer.push(Rr::Addr {
                ttl: 60,
                addr: a.parse().unwrap(),
            });
        }
        answer
    }

    #[test]
    fn identities_tell_chosen_records_apart_and_built_records_have_none() {
        let (mut a, mut b) = (AnswerId::new(), AnswerId::new());
        assert!(addrs(&["192.0.2.1"]).identity(&mut a));
        assert!(addrs(&["192.0.2.1"]).identity(&mut b));
        assert_eq!(a, b);
        assert!(addrs(&["192.0.2.2"]).identity(&mut b));
        assert_ne!(a, b);
        // v4 and v6 entries never read alike; nor do sections.
        assert!(addrs(&["192.0.2.1", "192.0.2.1", "192.0.2.1"]).identity(&mut a));
        assert!(addrs(&["2001:db8::1"]).identity(&mut b));
        assert_ne!(a, b);
        let mut moved = addrs(&[]);
        moved.authority.push(Rr::Addr {
            ttl: 60,
            addr: "192.0.2.1".parse().unwrap(),
        });
        assert!(addrs(&["192.0.2.1"]).identity(&mut a) && moved.identity(&mut b));
        assert_ne!(a, b);
        let mut built = addrs(&["192.0.2.1"]);
        built.answer.push(Rr::Record(Box::new(address(
            Name::from_ascii("x.example.test.").unwrap(),
            60,
            "192.0.2.9".parse().unwrap(),
        ))));
        assert!(!built.identity(&mut a));
    }
}
