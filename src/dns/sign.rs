//! Signing a reply for a DO=1 query to a signed zone: RRSIGs from the signature cache, compact
//! denial (RFC 9824) for NXDOMAIN and NODATA, the NSEC proving no DS at an unsigned
//! delegation, and the NSEC a validator needs beside a wildcard expansion.

use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::NULL;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::answer::{Answer, Rr, Section};
use super::qname::QName;
use super::service::is_cname_service;
use crate::dnssec::cache::{Found, ToSign};
use crate::dnssec::rrsig::{
    self, NSEC, NXNAME, RRSIG, canonical_rdata, label_count, name_wire, predecessor,
    sibling_successor, successor,
};
use crate::dnssec::{SigCache, Signing};
use crate::metrics::{self, SigLookup};
use crate::zone::{Lookup, Zone};

/// The signing budget of this second is spent and the reply needs a new signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OverBudget;

/// How one RRset of a reply was signed (explain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetSignature {
    /// Owner and type, as text.
    pub rrset: String,
    /// The key tag of the signing key.
    pub key_tag: u16,
    /// Whether the signature came from the cache.
    pub cached: bool,
}

/// What signing needs besides the answer.
pub(crate) struct SignInput<'a> {
    pub(crate) qname: &'a QName<'a>,
    pub(crate) qtype: RecordType,
    /// The client set the CO flag: keep NXDOMAIN (RFC 9824 section 3.3).
    pub(crate) compact_ok: bool,
    pub(crate) cache: &'a SigCache,
    pub(crate) now: u32,
    /// Sign past the budget (TCP, explain).
    pub(crate) over_budget_ok: bool,
}

/// The zone's signing when `answer` comes from a zone that signs.
pub(crate) fn signing<'z>(answer: &Answer<'z>) -> Option<(&'z Zone, &'z Arc<Signing>)> {
    let zone = answer.zone?;
    let signing = zone.signing.as_ref().filter(|s| s.signs())?;
    Some((zone, signing))
}

/// `answer` with its RRsets signed and denial added; `report` (explain) gets one entry per
/// RRset signed.
pub(crate) fn sign_answer<'z>(
    answer: &Answer<'z>,
    input: &SignInput<'_>,
    report: Option<&mut Vec<SetSignature>>,
) -> Result<Answer<'z>, OverBudget> {
    let Some((zone, signing)) = signing(answer) else {
        return Ok(answer.clone());
    };
    let qname = input.qname.to_name();
    let records =
        |s: &Section<'_>| -> Vec<Record> { s.iter().flat_map(|rr| rr.records(&qname)).collect() };
    let (answers, authority, additional) = (
        records(&answer.answer),
        records(&answer.authority),
        records(&answer.additional),
    );
    let mut out = Answer {
        answer: Section::new(),
        authority: Section::new(),
        additional: Section::new(),
        ..answer.clone()
    };
    let mut s = Signer {
        zone,
        signing,
        input,
        report,
    };
    let negative =
        answer.authoritative && authority.iter().any(|r| r.record_type() == RecordType::SOA);
    let referral = answer.is_referral();
    let mut wildcard_proof = None;
    for set in rrsets(&answers) {
        if let Some(closer) = s.push_signed(set, &mut out.answer)? {
            wildcard_proof.get_or_insert(closer);
        }
    }
    if referral {
        s.referral(&authority, &mut out.authority)?;
    } else {
        for set in rrsets(&authority) {
            s.push_signed(set, &mut out.authority)?;
        }
    }
    if negative {
        let denied = match answers.last().map(|r| &r.data) {
            Some(RData::CNAME(target)) => target.0.clone(),
            _ => qname.clone(),
        };
        let nx = answer.rcode == ResponseCode::NXDomain;
        s.denial(&denied, nx, &mut out.authority)?;
        if nx && !input.compact_ok {
            out.rcode = ResponseCode::NoError;
        }
    } else if let Some(closer) = wildcard_proof {
        let (owner, next) = (predecessor(&closer), sibling_successor(&closer));
        let nsec = nsec_record(&owner, &next, &[RRSIG, NSEC], negative_ttl(zone));
        s.push_signed(std::slice::from_ref(&nsec), &mut out.authority)?;
    }
    for set in rrsets(&additional) {
        if answer.authoritative {
            s.push_signed(set, &mut out.additional)?;
        } else {
            push_plain(set, &mut out.additional);
        }
    }
    Ok(out)
}

struct Signer<'a, 'z> {
    zone: &'z Zone,
    signing: &'z Signing,
    input: &'a SignInput<'a>,
    report: Option<&'a mut Vec<SetSignature>>,
}

impl Signer<'_, '_> {
    /// Push `set` and its RRSIG. For a set expanded from a wildcard, returns the next
    /// closer name (wire) that the wildcard proof must cover.
    fn push_signed(
        &mut self,
        set: &[Record],
        out: &mut Section<'_>,
    ) -> Result<Option<Vec<u8>>, OverBudget> {
        let first = &set[0];
        push_plain(set, out);
        let rtype = first.record_type();
        let Some(key) = self.signing.key_for(rtype) else {
            return Ok(None);
        };
        let owner = name_wire(&first.name);
        // Denial records are built at their own names, never expanded from a wildcard.
        let expanded = (rtype != RecordType::NSEC)
            .then(|| self.expansion(&first.name))
            .flatten();
        let (signed_owner, closer) = match expanded {
            Some((star, closer)) => (star, Some(closer)),
            None => (owner, None),
        };
        let mut rdatas: Vec<Vec<u8>> = set
            .iter()
            .filter_map(|r| canonical_rdata(&r.data))
            .collect();
        let bytes = rrsig::rrset_bytes(&signed_owner, u16::from(rtype), first.ttl, &mut rdatas);
        let what = ToSign {
            key,
            signer: &self.signing.signer,
            rtype: u16::from(rtype),
            labels: label_count(&signed_owner),
            ttl: first.ttl,
            validity: self.signing.settings.validity,
            refresh: self.signing.settings.refresh,
        };
        let cache_key = SigCache::key(&what, &bytes);
        let input = self.input;
        let (entry, cached) =
            match input
                .cache
                .get_or_sign(&what, cache_key, input.now, input.over_budget_ok)
            {
                Found::Cached(e) => (e, true),
                Found::Signed(e) => (e, false),
                Found::OverBudget => {
                    metrics::dnssec_lookup(SigLookup::OverBudget);
                    return Err(OverBudget);
                }
            };
        metrics::dnssec_lookup(if cached {
            SigLookup::Hit
        } else {
            SigLookup::Miss
        });
        if let Some(report) = self.report.as_deref_mut() {
            report.push(SetSignature {
                rrset: format!("{} {rtype}", first.name),
                key_tag: key.tag,
                cached,
            });
        }
        let data = RData::Unknown {
            code: RecordType::RRSIG,
            rdata: NULL::with(entry.rrsig.to_vec()),
        };
        out.push(Rr::Record(Box::new(Record::from_rdata(
            first.name.clone(),
            first.ttl,
            data,
        ))));
        Ok(closer)
    }

    /// For an owner that exists only through a wildcard: the wildcard owner (wire) and the
    /// next closer name (wire).
    fn expansion(&self, owner: &Name) -> Option<(Vec<u8>, Vec<u8>)> {
        if !self.zone.origin.zone_of(owner) || self.zone.node(owner).is_some() {
            return None;
        }
        let mut closer = owner.clone();
        let mut encloser = owner.base_name();
        while self.zone.node(&encloser).is_none()
            && encloser.num_labels() > self.zone.origin.num_labels()
        {
            closer = encloser.clone();
            encloser = encloser.base_name();
        }
        let star = encloser.prepend_label("*").ok()?;
        self.zone.node(&star)?;
        Some((name_wire(&star), name_wire(&closer)))
    }

    /// NS (unsigned), then the DS set signed or an NSEC proving there is none.
    fn referral(&mut self, authority: &[Record], out: &mut Section<'_>) -> Result<(), OverBudget> {
        for set in rrsets(authority) {
            push_plain(set, out);
            if set[0].record_type() != RecordType::NS {
                continue;
            }
            let cut = &set[0].name;
            let ds = self.zone.node(cut).and_then(|n| n.rrset(RecordType::DS));
            match ds {
                Some(ds) => {
                    self.push_signed(&ds.records, out)?;
                }
                None => {
                    let wire = name_wire(cut);
                    let nsec = nsec_record(
                        &wire,
                        &successor(&wire),
                        &[2, RRSIG, NSEC],
                        negative_ttl(self.zone),
                    );
                    self.push_signed(std::slice::from_ref(&nsec), out)?;
                }
            }
        }
        Ok(())
    }

    /// The compact-denial NSEC at `denied`: NXNAME for a name that does not exist, else the
    /// types that exist there (never the one asked, nor CNAME).
    fn denial(&mut self, denied: &Name, nx: bool, out: &mut Section<'_>) -> Result<(), OverBudget> {
        let mut types = vec![RRSIG, NSEC];
        if nx {
            types.push(NXNAME);
        } else if let Lookup::Found { node, .. } = self.zone.lookup(denied, false) {
            types.extend(node.rrsets.iter().map(|s| u16::from(s.rtype)));
            if let Some(service) = &node.service {
                if is_cname_service(service) {
                    types.push(u16::from(RecordType::CNAME));
                } else {
                    types.extend([u16::from(RecordType::A), u16::from(RecordType::AAAA)]);
                }
            }
            let asked = u16::from(self.input.qtype);
            types.retain(|t| *t != asked && *t != u16::from(RecordType::CNAME));
        }
        let wire = name_wire(denied);
        let nsec = nsec_record(&wire, &successor(&wire), &types, negative_ttl(self.zone));
        self.push_signed(std::slice::from_ref(&nsec), out)?;
        Ok(())
    }
}

/// The TTL of denial records: the negative TTL (min of SOA TTL and minimum).
fn negative_ttl(zone: &Zone) -> u32 {
    zone.negative.records.first().map_or(0, |r| r.ttl)
}

fn nsec_record(owner: &[u8], next: &[u8], types: &[u16], ttl: u32) -> Record {
    let name = Name::from_labels(rrsig::wire_labels(owner)).unwrap_or_else(|_| Name::root());
    let data = RData::Unknown {
        code: RecordType::NSEC,
        rdata: NULL::with(rrsig::nsec_rdata(next, types)),
    };
    Record::from_rdata(name, ttl, data)
}

fn push_plain(set: &[Record], out: &mut Section<'_>) {
    out.extend(set.iter().map(|r| Rr::Record(Box::new(r.clone()))));
}

/// Consecutive records of one owner (case-insensitive) and type.
fn rrsets(records: &[Record]) -> impl Iterator<Item = &[Record]> {
    records.chunk_by(|a, b| a.record_type() == b.record_type() && a.name == b.name)
}
