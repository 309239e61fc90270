//! Strict parsing of a query packet: header, the one question, and the OPT record with ECS.

use hickory_proto::rr::RecordType;

use super::client_subnet::{self, ClientSubnet};
use super::qname::QName;
use crate::zone::key::WireKey;

/// Opcode QUERY.
pub(crate) const OPCODE_QUERY: u8 = 0;
const TYPE_OPT: u16 = 41;

/// A well-formed query.
#[derive(Debug, Clone)]
pub(crate) struct Request<'p> {
    pub(crate) header: Header,
    pub(crate) qname: QName<'p>,
    pub(crate) qtype: RecordType,
    pub(crate) qclass: u16,
    pub(crate) edns: Option<Edns>,
}

/// The header fields a reply copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Header {
    pub(crate) id: u16,
    pub(crate) opcode: u8,
    pub(crate) rd: bool,
    pub(crate) cd: bool,
}

/// A question as read: name, type, class.
pub(crate) type Question<'p> = (QName<'p>, RecordType, u16);

/// What the query's OPT record said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Edns {
    pub(crate) payload: u16,
    pub(crate) version: u8,
    pub(crate) dnssec_ok: bool,
    /// The CO flag (RFC 9824): the client understands compact denial with NXDOMAIN.
    pub(crate) compact_ok: bool,
    pub(crate) client_subnet: Option<ClientSubnet>,
}

/// Why a packet gets no ordinary answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Rejection<'p> {
    /// Not worth a reply: too short to carry an ID, or a response.
    Drop,
    /// FORMERR, echoing the question when it could be read and EDNS when it was valid.
    FormErr {
        header: Header,
        question: Option<Box<Question<'p>>>,
        edns: Option<Edns>,
    },
    /// NOTIMP for an opcode other than QUERY, echoing what could be read.
    NotImp {
        header: Header,
        question: Option<Box<Question<'p>>>,
        edns: Option<Edns>,
    },
}

/// Parse a query (the question's key goes to `key`, reused by the caller); anything
/// malformed becomes a `Rejection`, never a panic.
pub(crate) fn parse<'p>(
    packet: &'p [u8],
    key: &'p mut WireKey,
) -> Result<Request<'p>, Rejection<'p>> {
    let Some(fixed) = packet.get(..12) else {
        return Err(Rejection::Drop);
    };
    let word = |i: usize| u16::from_be_bytes([fixed[i], fixed[i + 1]]);
    let flags = word(2);
    let header = Header {
        id: word(0),
        opcode: ((flags >> 11) & 0xf) as u8,
        rd: flags & 0x0100 != 0,
        cd: flags & 0x0010 != 0,
    };
    if flags & 0x8000 != 0 {
        return Err(Rejection::Drop);
    }
    let formerr = |question, edns| match header.opcode {
        OPCODE_QUERY => Rejection::FormErr {
            header,
            question,
            edns,
        },
        // As BIND does: a NOTIMP reply does not echo RD or CD (nor set AD).
        _ => Rejection::NotImp {
            header: Header {
                rd: false,
                cd: false,
                ..header
            },
            question,
            edns,
        },
    };
    let (qdcount, ancount, nscount, arcount) = (word(4), word(6), word(8), word(10));
    if qdcount != 1 {
        return Err(formerr(None, None));
    }
    let mut cursor = Cursor { packet, pos: 12 };
    let question = read_question(&mut cursor, key).ok_or_else(|| formerr(None, None))?;
    for _ in 0..u32::from(ancount) + u32::from(nscount) {
        read_record(&mut cursor).ok_or_else(|| formerr(Some(Box::new(question.clone())), None))?;
    }
    let edns = read_additional(&mut cursor, arcount)
        .map_err(|edns| formerr(Some(Box::new(question.clone())), edns))?;
    if question.1 == RecordType::OPT || header.opcode != OPCODE_QUERY {
        return Err(formerr(Some(Box::new(question)), edns));
    }
    let (qname, qtype, qclass) = question;
    Ok(Request {
        header,
        qname,
        qtype,
        qclass,
        edns,
    })
}

/// A read position in a packet; every read is bounds-checked.
struct Cursor<'a> {
    packet: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let bytes = self.packet.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(bytes)
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Step over a name; true when it is the root. A compression pointer ends the name and
    /// must point backwards; labels over 63 bytes and names over 255 are refused.
    fn skip_name(&mut self) -> Option<bool> {
        let start = self.pos;
        let mut wire_len = 0;
        loop {
            let len = *self.take(1)?.first()?;
            match len {
                0 => return Some(self.pos == start + 1),
                0xc0..=0xff => {
                    let low = *self.take(1)?.first()?;
                    let target = usize::from(u16::from_be_bytes([len & 0x3f, low]));
                    return (target < start).then_some(false);
                }
                1..=63 => {
                    wire_len += 1 + usize::from(len);
                    if wire_len >= 255 {
                        return None;
                    }
                    self.take(usize::from(len))?;
                }
                _ => return None,
            }
        }
    }
}

fn read_question<'p>(c: &mut Cursor<'p>, key: &'p mut WireKey) -> Option<Question<'p>> {
    let (name, len) = QName::parse(c.packet.get(c.pos..)?, key)?;
    c.pos += len;
    let qtype = c.u16()?;
    let qclass = c.u16()?;
    Some((name, RecordType::from(qtype), qclass))
}

/// One resource record, skipped except for what an OPT needs.
struct RawRecord<'a> {
    name_is_root: bool,
    rtype: u16,
    class: u16,
    ttl: u32,
    rdata: &'a [u8],
}

fn read_record<'a>(c: &mut Cursor<'a>) -> Option<RawRecord<'a>> {
    let name_is_root = c.skip_name()?;
    let rtype = c.u16()?;
    let class = c.u16()?;
    let ttl = c.u32()?;
    let len = c.u16()?;
    let rdata = c.take(usize::from(len))?;
    Some(RawRecord {
        name_is_root,
        rtype,
        class,
        ttl,
        rdata,
    })
}

/// Read the additional section; the error carries the EDNS seen when it was valid.
fn read_additional(d: &mut Cursor<'_>, count: u16) -> Result<Option<Edns>, Option<Edns>> {
    let mut edns: Option<Edns> = None;
    let mut ecs_error = false;
    for _ in 0..count {
        let record = read_record(d).ok_or(edns)?;
        if record.rtype != TYPE_OPT {
            continue;
        }
        if edns.is_some() || !record.name_is_root {
            return Err(None);
        }
        let (parsed, bad_ecs) = read_opt(&record).ok_or(None)?;
        edns = Some(parsed);
        ecs_error = bad_ecs;
    }
    if ecs_error { Err(edns) } else { Ok(edns) }
}

/// The OPT's fields and options; the flag says a client-subnet option was malformed.
fn read_opt(record: &RawRecord<'_>) -> Option<(Edns, bool)> {
    let mut edns = Edns {
        payload: record.class.max(512),
        version: (record.ttl >> 16) as u8,
        dnssec_ok: record.ttl & 0x8000 != 0,
        compact_ok: record.ttl & 0x4000 != 0,
        client_subnet: None,
    };
    let mut bad_ecs = false;
    let mut rest = record.rdata;
    while !rest.is_empty() {
        let [c0, c1, l0, l1, tail @ ..] = rest else {
            return None;
        };
        let len = usize::from(u16::from_be_bytes([*l0, *l1]));
        let data = tail.get(..len)?;
        rest = &tail[len..];
        if u16::from_be_bytes([*c0, *c1]) != client_subnet::OPTION_CODE {
            continue;
        }
        match ClientSubnet::parse(data) {
            Ok(ecs) if edns.client_subnet.is_none() => edns.client_subnet = Some(ecs),
            _ => bad_ecs = true,
        }
    }
    Some((edns, bad_ecs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(flags: u16, qdcount: u16, arcount: u16, tail: &[u8]) -> Vec<u8> {
        let mut p = vec![0xab, 0xcd];
        for w in [flags, qdcount, 0, 0, arcount] {
            p.extend_from_slice(&w.to_be_bytes());
        }
        p.extend_from_slice(b"\x01a\x04test\x00\x00\x01\x00\x01");
        p.extend_from_slice(tail);
        p
    }

    const OPT_ECS: &[u8] = &[
        0, 0, 41, 4, 0, 0, 0, 0x80, 0, 0, 11, 0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2,
    ];

    #[test]
    fn parses_question_edns_and_ecs() {
        let bytes = packet(0x0100, 1, 1, OPT_ECS);
        let mut key = WireKey::empty();
        let req = parse(&bytes, &mut key).unwrap();
        assert_eq!(req.header.id, 0xabcd);
        assert!(req.header.rd);
        assert_eq!(req.qname.to_string(), "a.test.");
        let edns = req.edns.unwrap();
        assert_eq!(
            (edns.payload, edns.version, edns.dnssec_ok),
            (1024, 0, true)
        );
        assert_eq!(edns.client_subnet.unwrap().source_prefix, 24);
    }

    #[test]
    fn other_opcodes_are_notimp_with_what_was_read() {
        // UPDATE with RD, AD and CD set.
        let bytes = packet(0x2930, 1, 1, OPT_ECS);
        let mut key = WireKey::empty();
        let Err(Rejection::NotImp {
            header,
            question,
            edns,
        }) = parse(&bytes, &mut key)
        else {
            panic!("NOTIMP expected");
        };
        assert!(question.is_some() && edns.is_some());
        assert!(!header.rd && !header.cd && header.opcode == 5);
    }

    #[test]
    fn truncated_packets_are_formerr_or_dropped() {
        let full = packet(0x0100, 1, 1, OPT_ECS);
        for cut in 0..full.len() {
            match parse(&full[..cut], &mut WireKey::empty()) {
                Err(Rejection::Drop) => assert!(cut < 12),
                Err(Rejection::FormErr { .. }) => assert!(cut >= 12),
                other => panic!("cut {cut}: {other:?}"),
            }
        }
    }
}
