//! Writing the sections of a reply: pre-encoded sets copied, other records with their names
//! compressed against the question and their RDATA through `zone::wire::rdata`.

use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::answer::{Owner, Rr};
use super::qname::QName;
use crate::zone::key::{WireKey, text_key};
use crate::zone::wire::{SetOwner, push_labels};

/// Largest reply to a client without EDNS over UDP (RFC 1035).
pub(crate) const PLAIN_UDP_LIMIT: usize = 512;
/// Largest DNS message at all (TCP length prefix); longer output is an encoding error.
pub(crate) const MAX_MESSAGE: usize = 65_535;
/// Longest OPT record we write: 11 bytes, and an ECS option of 8 + 16 address bytes.
pub(crate) const MAX_OPT: usize = 11 + 8 + 16;

/// Where the question name starts in every message.
const QUESTION_AT: usize = 12;

#[derive(Debug, thiserror::Error)]
#[error("record cannot be encoded: {0}")]
pub(crate) struct EncodeError(String);

/// Appends to a reply buffer whose question name (if any) starts at offset 12.
pub(crate) struct Writer<'a> {
    buf: &'a mut Vec<u8>,
    /// The question name as written, to compress other names against.
    question: Option<&'a QName<'a>>,
    /// Offset of the answering zone's origin inside the question name, for pre-encoded sets.
    origin_at: Option<u16>,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(buf: &'a mut Vec<u8>) -> Self {
        Self {
            buf,
            question: None,
            origin_at: None,
        }
    }

    /// The question section: the name as the client wrote it, type and class.
    /// `origin_labels` is the label count of the zone answering (when one does).
    pub(crate) fn question(
        &mut self,
        name: &'a QName<'a>,
        qtype: RecordType,
        qclass: u16,
        origin_labels: Option<usize>,
    ) {
        self.buf.extend_from_slice(name.wire());
        self.u16(u16::from(qtype));
        self.u16(qclass);
        self.question = Some(name);
        self.origin_at = origin_labels
            .filter(|n| *n <= name.key().labels())
            .map(|n| (QUESTION_AT + name.key().suffix_start(n)) as u16);
    }

    /// One section entry: pre-encoded sets and addresses are copied, the rest encoded.
    pub(crate) fn rr(&mut self, rr: &Rr<'_>) -> Result<(), EncodeError> {
        if let Rr::Cname { ttl, target } = rr
            && self.cname(*ttl, target)
        {
            return self.check_size();
        }
        let owner = match rr {
            Rr::Set {
                owner: Owner::Question,
                ..
            } => Some(SetOwner::Question),
            Rr::Set {
                owner: Owner::Own, ..
            } => Some(SetOwner::Own),
            _ => None,
        };
        match (rr, owner, self.origin_at) {
            (Rr::Set { set, .. }, Some(owner), Some(at)) if set.wire.is_some() => {
                if let Some(wire) = &set.wire {
                    wire.write(self.buf, owner, at);
                }
                self.check_size()
            }
            (Rr::Addr { ttl, addr }, _, _) if self.question.is_some() => {
                self.address(*ttl, *addr);
                self.check_size()
            }
            (Rr::Record(record), _, _) => self.record(record),
            _ => {
                let qname = self.question.map_or_else(Name::root, QName::to_name);
                for record in rr.records(&qname) {
                    self.record(&record)?;
                }
                Ok(())
            }
        }
    }

    /// An A or AAAA record owned by the question name.
    fn address(&mut self, ttl: u32, addr: std::net::IpAddr) {
        self.buf.extend_from_slice(&[0xc0, QUESTION_AT as u8]);
        let (rtype, bytes): (RecordType, &[u8]) = match &addr {
            std::net::IpAddr::V4(a) => (RecordType::A, &a.octets()),
            std::net::IpAddr::V6(a) => (RecordType::AAAA, &a.octets()),
        };
        self.u16(u16::from(rtype));
        self.u16(1);
        self.buf.extend_from_slice(&ttl.to_be_bytes());
        self.u16(bytes.len() as u16);
        self.buf.extend_from_slice(bytes);
    }

    /// A CNAME owned by the question name, its target given as text and compressed
    /// against the question. Writes nothing and returns false when there is no question or
    /// the text is not plain labels (escapes), for the record path to handle.
    fn cname(&mut self, ttl: u32, target: &str) -> bool {
        let Some(question) = self.question else {
            return false;
        };
        let mut wire = [0u8; 256];
        let Some(key) = text_key(target, &mut wire) else {
            return false;
        };
        self.buf.extend_from_slice(&[0xc0, QUESTION_AT as u8]);
        self.u16(u16::from(RecordType::CNAME));
        self.u16(1);
        self.buf.extend_from_slice(&ttl.to_be_bytes());
        let at = self.buf.len();
        self.u16(0);
        let shared = shared_suffix(&key, question.key());
        self.buf
            .extend_from_slice(&wire[..key.suffix_start(shared)]);
        if shared > 0 {
            let to = QUESTION_AT + question.key().suffix_start(shared);
            self.u16(0xc000 | to as u16);
        } else {
            self.buf.push(0);
        }
        let rdlen = (self.buf.len() - at - 2) as u16;
        self.buf[at..at + 2].copy_from_slice(&rdlen.to_be_bytes());
        true
    }

    fn check_size(&self) -> Result<(), EncodeError> {
        if self.buf.len() > MAX_MESSAGE {
            return Err(EncodeError("message longer than 65535 bytes".into()));
        }
        Ok(())
    }

    pub(crate) fn record(&mut self, r: &Record) -> Result<(), EncodeError> {
        write_name(self.buf, self.question, &r.name);
        self.u16(u16::from(r.record_type()));
        self.u16(u16::from(r.dns_class));
        self.buf.extend_from_slice(&r.ttl.to_be_bytes());
        let at = self.buf.len();
        self.u16(0);
        self.rdata(&r.data)?;
        let len = self.buf.len() - at - 2;
        if self.buf.len() > MAX_MESSAGE {
            return Err(EncodeError("message longer than 65535 bytes".into()));
        }
        self.buf[at..at + 2].copy_from_slice(&(len as u16).to_be_bytes());
        Ok(())
    }

    fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    fn rdata(&mut self, data: &RData) -> Result<(), EncodeError> {
        let question = self.question;
        crate::zone::wire::rdata(data, self.buf, |n, out| {
            write_name(out, question, n);
            Some(())
        })
        .ok_or_else(|| EncodeError(format!("{} RDATA", data.record_type())))
    }
}

/// `name` into `out`, ending in a pointer into `question` for the longest suffix they share.
fn write_name(out: &mut Vec<u8>, question: Option<&QName<'_>>, name: &Name) {
    let key = WireKey::new(name);
    let shared = question.map_or(0, |q| shared_suffix(&key, q.key()));
    push_labels(out, name.iter().take(key.labels() - shared));
    match question {
        Some(q) if shared > 0 => {
            let at = QUESTION_AT + q.key().suffix_start(shared);
            out.extend_from_slice(&(0xc000 | at as u16).to_be_bytes());
        }
        _ => out.push(0),
    }
}

/// How many trailing labels two keys share.
fn shared_suffix(a: &WireKey, b: &WireKey) -> usize {
    let max = a.labels().min(b.labels());
    (1..=max)
        .rev()
        .find(|n| a.suffix(*n) == b.suffix(*n))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Message;
    use hickory_proto::rr::rdata::{A, CNAME, MX, TXT};

    #[test]
    fn compressed_records_round_trip() {
        let q = Name::from_ascii("WwW.example.test.").unwrap();
        let question = QName::from_name(&q);
        let mut buf = vec![0, 1, 0x84, 0, 0, 1, 0, 4, 0, 0, 0, 0];
        let mut w = Writer::new(&mut buf);
        w.question(&question, RecordType::A, 1, None);
        let other = Name::from_ascii("mail.example.test.").unwrap();
        let records = [
            Record::from_rdata(q.clone(), 60, RData::CNAME(CNAME(other.clone()))),
            Record::from_rdata(other.clone(), 60, RData::A(A::new(192, 0, 2, 1))),
            Record::from_rdata(q.clone(), 60, RData::MX(MX::new(10, other.clone()))),
            Record::from_rdata(q.clone(), 60, RData::TXT(TXT::new(vec!["hi".into()]))),
        ];
        for r in &records {
            w.record(r).unwrap();
        }
        let m = Message::from_vec(&buf).unwrap();
        assert_eq!(m.answers.len(), 4);
        assert_eq!(m.answers[0].name.to_ascii(), "WwW.example.test.");
        assert_eq!(m.answers[1].name, other);
        assert_eq!(m.answers[3].data, records[3].data);
        assert!(buf.len() < 120, "names compressed: {} bytes", buf.len());
    }

    #[test]
    fn cname_targets_as_text_are_compressed_against_the_question() {
        let q = Name::from_ascii("Static.GSLB.example.com.").unwrap();
        let question = QName::from_name(&q);
        let cases = [
            ("edge.gslb.example.com.", true),
            ("edge.cdn-a.example.net.", false),
        ];
        for (target, compressed) in cases {
            let mut buf = vec![0, 1, 0x84, 0, 0, 1, 0, 1, 0, 0, 0, 0];
            let mut w = Writer::new(&mut buf);
            w.question(&question, RecordType::A, 1, None);
            let rr = Rr::Cname {
                ttl: 300,
                target: target.into(),
            };
            w.rr(&rr).unwrap();
            let m = Message::from_vec(&buf).unwrap();
            let want = Record::from_rdata(
                q.clone(),
                300,
                RData::CNAME(CNAME(Name::from_ascii(target).unwrap())),
            );
            assert_eq!(m.answers, [want], "{target}");
            assert_eq!(m.answers[0].name.to_ascii(), "Static.GSLB.example.com.");
            let pointer = buf[buf.len() - 2] & 0xc0 == 0xc0;
            assert_eq!(pointer, compressed, "{target}");
        }
    }
}
