//! Answering from one node of a zone: what a step of the answer knows (`Context`, `At`),
//! a node's records or NODATA, the negative SOA and the additional section.

use hickory_proto::rr::rdata::HINFO;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use rand::Rng;

use super::answer::{Answer, Owner, Rr, Section, holds};
use super::qname::QName;
use crate::geo::Locate;
use crate::health::HealthSnapshot;
use crate::latency::LatencyTable;
use crate::load::LoadSnapshot;
use crate::policy::{Client, Trace};
use crate::zone::{Node, RRset, Zone};

/// What a policy needs besides the zones: who asks, and the published snapshots.
pub struct Context<'a, R: Rng + ?Sized> {
    /// Who is asking.
    pub client: Client,
    /// Client location.
    pub geo: &'a dyn Locate,
    /// Target health.
    pub health: &'a HealthSnapshot,
    /// The latency table (`LatencyView::none()`: no data) and the time it is read at.
    pub latency: &'a LatencyTable,
    /// Unix seconds the latency table is read at.
    pub now: u64,
    /// Published load (`LoadSnapshot::none()`: none).
    pub load: &'a LoadSnapshot,
    /// The random source of weighted draws.
    pub rng: &'a mut R,
    /// Where explain records the decision, if it asks.
    pub trace: Option<&'a mut Trace>,
}

/// The name one step of the chain answers for: the question, or an in-zone CNAME target.
#[derive(Clone)]
pub(crate) struct At<'a> {
    /// How records found here are owned in the reply.
    pub(crate) owner: Owner,
    /// The CNAME target (`None`: the question).
    pub(crate) target: Option<&'a Name>,
    pub(crate) qname: &'a QName<'a>,
}

impl At<'_> {
    /// The name as a `Name`, for records built for this answer.
    pub(crate) fn name(&self) -> Name {
        self.target.cloned().unwrap_or_else(|| self.qname.to_name())
    }
}

/// Fill the answer from `node` for `qtype`, or make it NODATA.
pub(crate) fn answer_node<'z>(
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
pub(crate) fn negative_soa(zone: &Zone) -> Rr<'_> {
    Rr::Set {
        owner: Owner::Own,
        set: &zone.negative,
    }
}

/// A and AAAA records for in-zone NS, MX and SRV targets (glue included).
pub(super) fn additional_for<'z>(zone: &'z Zone, set: &RRset, out: &mut Section<'z>) {
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
