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
pub struct WireSet {
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
pub enum SetOwner {
    /// The question name (a pointer to offset 12).
    Question,
    /// The set's own owner name, relative to the origin.
    Own,
}

impl WireSet {
    /// Encode `records` (all owned by `owner`) for zone `origin`; `None` when a name is not
    /// under the origin or the set is too large to index with 16 bits (such sets are written
    /// record by record instead).
    pub fn encode(owner: &Name, records: &[Record], origin: &Name) -> Option<Self> {
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
            rdata(&r.data, origin, &mut out, &mut fixups)?;
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
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Append every record, owned by `owner`, with origin pointers aimed at `origin_at` (the
    /// origin's offset in the reply, inside the question name).
    pub fn write(&self, buf: &mut Vec<u8>, owner: SetOwner, origin_at: u16) {
        let pointer = (0xc000 | origin_at).to_be_bytes();
        let mut start = 0;
        let mut fixups = self.fixups.iter().peekable();
        for &end in self.ends.iter() {
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

/// The labels of `name` above `origin`, in wire form; `None` when `name` is not under it.
fn prefix(name: &Name, origin: &Name) -> Option<Vec<u8>> {
    if !origin.zone_of(name) {
        return None;
    }
    let above = name.iter().count() - origin.iter().count();
    let mut out = Vec::new();
    for label in name.iter().take(above) {
        out.push(label.len() as u8);
        out.extend_from_slice(label);
    }
    Some(out)
}

/// A name in RDATA: compressed to the origin pointer when under it, else in full.
fn name(n: &Name, origin: &Name, out: &mut Vec<u8>, fixups: &mut Vec<u16>) -> Option<()> {
    match prefix(n, origin) {
        Some(p) => {
            out.extend_from_slice(&p);
            fixups.push(u16::try_from(out.len()).ok()?);
            out.extend_from_slice(&[0, 0]);
        }
        None => {
            for label in n.iter() {
                out.push(label.len() as u8);
                out.extend_from_slice(label);
            }
            out.push(0);
        }
    }
    Some(())
}

fn rdata(data: &RData, origin: &Name, out: &mut Vec<u8>, fixups: &mut Vec<u16>) -> Option<()> {
    match data {
        RData::A(a) => out.extend_from_slice(&a.0.octets()),
        RData::AAAA(a) => out.extend_from_slice(&a.0.octets()),
        RData::CNAME(n) => name(&n.0, origin, out, fixups)?,
        RData::NS(n) => name(&n.0, origin, out, fixups)?,
        RData::PTR(n) => name(&n.0, origin, out, fixups)?,
        RData::MX(mx) => {
            out.extend_from_slice(&mx.preference.to_be_bytes());
            name(&mx.exchange, origin, out, fixups)?;
        }
        RData::SOA(soa) => {
            name(&soa.mname, origin, out, fixups)?;
            name(&soa.rname, origin, out, fixups)?;
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
        // Other types carry no compressible names (SRV's target must not be compressed).
        other => {
            let mut tmp = Vec::with_capacity(64);
            let mut encoder = BinEncoder::new(&mut tmp);
            encoder.set_canonical_form(true);
            other.emit(&mut encoder).ok()?;
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
