//! RRsets pre-encoded at load: each record's type, class, TTL and RDATA as reply bytes, with
//! names under the zone origin ending in a pointer that is filled in per reply.
//!
//! Every name a zone answers for ends with its origin, and the origin is a suffix of the
//! question name a reply starts with, so a pointer to "the origin inside the question" is
//! valid in every reply from the zone. Its offset depends only on the question's length; the
//! writer passes it in. Owners are the question itself (`0xC00C`) or the set's own owner,
//! written as its labels above the origin and that pointer.

use hickory_proto::rr::{Name, RData, Record};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};

/// One RRset ready to be copied into replies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct WireSet {
    /// Each record without its owner: type, class, TTL, RDLENGTH and RDATA.
    bytes: Box<[u8]>,
    /// Where each record ends in `bytes`.
    ends: Box<[u16]>,
    /// Offsets in `bytes` of two-byte pointers to the zone origin.
    fixups: Box<[u16]>,
    /// The owner's labels above the origin, wire form, in the zone file's case.
    owner_prefix: Box<[u8]>,
}

/// Who a written set belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetOwner {
    /// The question name (a pointer to offset 12).
    Question,
    /// The set's own owner name, relative to the origin.
    Own,
}

impl WireSet {
    /// Encode `records` (all owned by `owner`) for zone `origin`; `None` when a name is not
    /// under the origin or the set is too large to index with 16 bits (such sets are written
    /// record by record instead).
    pub(crate) fn encode(owner: &Name, records: &[Record], origin: &Name) -> Option<Self> {
        let owner_prefix = prefix(owner, origin)?;
        let mut out = Vec::new();
        let mut ends = Vec::with_capacity(records.len());
        let mut fixups = Vec::new();
        for r in records {
            out.extend_from_slice(&u16::from(r.record_type()).to_be_bytes());
            out.extend_from_slice(&u16::from(r.dns_class).to_be_bytes());
            out.extend_from_slice(&r.ttl.to_be_bytes());
            let at = out.len();
            out.extend_from_slice(&[0, 0]);
            rdata(&r.data, &mut out, |n, out| {
                name(n, origin, out, &mut fixups)
            })?;
            let len = u16::try_from(out.len() - at - 2).ok()?;
            out[at..at + 2].copy_from_slice(&len.to_be_bytes());
            ends.push(u16::try_from(out.len()).ok()?);
        }
        Some(Self {
            bytes: out.into(),
            ends: ends.into(),
            fixups: fixups.into(),
            owner_prefix: owner_prefix.into(),
        })
    }

    /// Records in the set.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// Append every record, owned by `owner`, with origin pointers aimed at `origin_at` (the
    /// origin's offset in the reply, inside the question name).
    pub(crate) fn write(&self, buf: &mut Vec<u8>, owner: SetOwner, origin_at: u16) {
        let pointer = (0xc000 | origin_at).to_be_bytes();
        let mut start = 0;
        let mut fixups = self.fixups.iter().peekable();
        for &end in &self.ends {
            match owner {
                SetOwner::Question => buf.extend_from_slice(&[0xc0, 12]),
                SetOwner::Own => {
                    buf.extend_from_slice(&self.owner_prefix);
                    buf.extend_from_slice(&pointer);
                }
            }
            let base = buf.len();
            buf.extend_from_slice(&self.bytes[usize::from(start)..usize::from(end)]);
            while let Some(&&at) = fixups.peek().filter(|at| ***at < end) {
                let at = base + usize::from(at - start);
                buf[at..at + 2].copy_from_slice(&pointer);
                fixups.next();
            }
            start = end;
        }
    }
}

/// Append `labels` in wire form (each a length byte and its bytes), without the root byte.
pub(crate) fn push_labels<'a>(out: &mut Vec<u8>, labels: impl Iterator<Item = &'a [u8]>) {
    for label in labels {
        out.push(label.len() as u8);
        out.extend_from_slice(label);
    }
}

/// The labels of `name` above `origin`, in wire form; `None` when `name` is not under it.
fn prefix(name: &Name, origin: &Name) -> Option<Vec<u8>> {
    if !origin.zone_of(name) {
        return None;
    }
    let mut out = Vec::new();
    push_labels(&mut out, name.iter().take(above(name, origin)));
    Some(out)
}

/// Labels of `name` above `origin` (which must be an ancestor or `name` itself).
fn above(name: &Name, origin: &Name) -> usize {
    name.iter().count() - origin.iter().count()
}

/// A name in RDATA: compressed to the origin pointer when under it, else in full.
fn name(n: &Name, origin: &Name, out: &mut Vec<u8>, fixups: &mut Vec<u16>) -> Option<()> {
    if origin.zone_of(n) {
        push_labels(out, n.iter().take(above(n, origin)));
        fixups.push(u16::try_from(out.len()).ok()?);
        out.extend_from_slice(&[0, 0]);
    } else {
        push_labels(out, n.iter());
        out.push(0);
    }
    Some(())
}

/// The RDATA of `data` into `out`, each name in it written by `name` (so the caller decides
/// how names are compressed); `None` when it cannot be encoded. Both the pre-encoded sets
/// and the record-by-record writer (`dns::wire`) encode RDATA through this.
pub(crate) fn rdata(
    data: &RData,
    out: &mut Vec<u8>,
    mut name: impl FnMut(&Name, &mut Vec<u8>) -> Option<()>,
) -> Option<()> {
    match data {
        RData::A(a) => out.extend_from_slice(&a.0.octets()),
        RData::AAAA(a) => out.extend_from_slice(&a.0.octets()),
        RData::CNAME(n) => name(&n.0, out)?,
        RData::NS(n) => name(&n.0, out)?,
        RData::PTR(n) => name(&n.0, out)?,
        RData::MX(mx) => {
            out.extend_from_slice(&mx.preference.to_be_bytes());
            name(&mx.exchange, out)?;
        }
        RData::SOA(soa) => {
            name(&soa.mname, out)?;
            name(&soa.rname, out)?;
            for v in [
                soa.serial,
                soa.refresh as u32,
                soa.retry as u32,
                soa.expire as u32,
                soa.minimum,
            ] {
                out.extend_from_slice(&v.to_be_bytes());
            }
        }
        // Built by DNSSEC signing (RRSIG, NSEC, DNSKEY, CDS): copied whole.
        RData::Unknown { rdata, .. } => out.extend_from_slice(&rdata.anything),
        // Other types carry no compressible names (hickory writes SRV's target uncompressed
        // and in the zone's case); a fresh encoder, since its pointers would be relative to
        // its own buffer.
        other => {
            let mut tmp = Vec::with_capacity(64);
            other.emit(&mut BinEncoder::new(&mut tmp)).ok()?;
            out.extend_from_slice(&tmp);
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Message;
    use hickory_proto::rr::rdata::{MX, SOA, TXT};

    #[test]
    fn written_sets_decode_with_origin_pointers() {
        let origin = Name::from_ascii("Example.TEST.").unwrap();
        let owner = Name::from_ascii("mail.example.test.").unwrap();
        let mx = |pref, host: &str| {
            let exchange = Name::from_ascii(host).unwrap();
            Record::from_rdata(owner.clone(), 300, RData::MX(MX::new(pref, exchange)))
        };
        let records = [mx(10, "mx1.example.test."), mx(20, "mx.elsewhere.net.")];
        let set = WireSet::encode(&owner, &records, &origin).unwrap();
        let soa_data = SOA::new(
            Name::from_ascii("ns1.example.test.").unwrap(),
            Name::from_ascii("hostmaster.example.test.").unwrap(),
            1,
            2,
            3,
            4,
            5,
        );
        let soa = Record::from_rdata(origin.clone(), 60, RData::SOA(soa_data));
        let soa_set = WireSet::encode(&origin, std::slice::from_ref(&soa), &origin).unwrap();
        let txt = Record::from_rdata(owner.clone(), 5, RData::TXT(TXT::new(vec!["a".into()])));
        let txt_set = WireSet::encode(&owner, std::slice::from_ref(&txt), &origin).unwrap();

        // Header (QD 1, AN 2, NS 1, AR 1), then the question www.EXAMPLE.test A IN.
        let mut buf = vec![0, 7, 0x84, 0, 0, 1, 0, 2, 0, 1, 0, 1];
        buf.extend_from_slice(b"\x03www\x07EXAMPLE\x04test\x00\x00\x01\x00\x01");
        let origin_at = 12 + 4;
        set.write(&mut buf, SetOwner::Question, origin_at);
        soa_set.write(&mut buf, SetOwner::Own, origin_at);
        txt_set.write(&mut buf, SetOwner::Own, origin_at);
        let m = Message::from_vec(&buf).unwrap_or_else(|e| panic!("{e}: {buf:?}"));
        assert_eq!(m.answers.len(), 2);
        assert_eq!(m.answers[0].name.to_ascii(), "www.EXAMPLE.test.");
        assert_eq!(m.answers[0].data, records[0].data);
        assert_eq!(m.answers[1].data, records[1].data);
        assert_eq!(m.authorities[0].name, origin);
        assert_eq!(m.authorities[0].data, soa.data);
        assert_eq!(m.additionals[0].name.to_ascii(), "mail.EXAMPLE.test.");
        assert_eq!(m.additionals[0].data, txt.data);
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn names_outside_the_origin_are_refused_as_owners() {
        let origin = Name::from_ascii("example.test.").unwrap();
        let other = Name::from_ascii("a.other.test.").unwrap();
        assert!(WireSet::encode(&other, &[], &origin).is_none());
    }
}
