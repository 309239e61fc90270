//! Strict parsing of a query packet: header, the one question, and the OPT record with ECS.

use hickory_proto::rr::{Name, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

use super::client_subnet::{self, ClientSubnet};

/// Opcode QUERY.
pub const OPCODE_QUERY: u8 = 0;
const TYPE_OPT: u16 = 41;

/// A well-formed query.
#[derive(Debug, Clone)]
pub struct Request {
    pub header: Header,
    pub qname: Name,
    pub qtype: RecordType,
    pub qclass: u16,
    pub edns: Option<Edns>,
}

/// The header fields a reply copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    pub id: u16,
    pub opcode: u8,
    pub rd: bool,
    pub cd: bool,
}

/// What the query's OPT record said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edns {
    pub payload: u16,
    pub version: u8,
    pub dnssec_ok: bool,
    pub client_subnet: Option<ClientSubnet>,
}

/// Why a packet gets no ordinary answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Rejection {
    /// Not worth a reply: too short to carry an ID, or a response.
    Drop,
    /// FORMERR, echoing the question when it could be read and EDNS when it was valid.
    FormErr {
        header: Header,
        question: Option<(Name, RecordType, u16)>,
        edns: Option<Edns>,
    },
    /// NOTIMP for an opcode other than QUERY.
    NotImp { header: Header },
}

/// Parse a query; anything malformed becomes a `Rejection`, never a panic.
pub fn parse(packet: &[u8]) -> Result<Request, Rejection> {
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
    if header.opcode != OPCODE_QUERY {
        return Err(Rejection::NotImp { header });
    }
    let formerr = |question, edns| Rejection::FormErr {
        header,
        question,
        edns,
    };
    let (qdcount, ancount, nscount, arcount) = (word(4), word(6), word(8), word(10));
    if qdcount != 1 {
        return Err(formerr(None, None));
    }
    let mut decoder = BinDecoder::new(packet);
    let _ = decoder.read_slice(12);
    let question = read_question(&mut decoder).ok_or_else(|| formerr(None, None))?;
    let q = Some(question.clone());
    for _ in 0..u32::from(ancount) + u32::from(nscount) {
        read_record(&mut decoder).ok_or_else(|| formerr(q.clone(), None))?;
    }
    let edns = read_additional(&mut decoder, arcount).map_err(|edns| formerr(q.clone(), edns))?;
    if question.1 == RecordType::OPT {
        return Err(formerr(q, edns));
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

fn read_question(d: &mut BinDecoder<'_>) -> Option<(Name, RecordType, u16)> {
    let name = Name::read(d).ok()?;
    let qtype = d.read_u16().ok()?.unverified();
    let qclass = d.read_u16().ok()?.unverified();
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

fn read_record<'a>(d: &mut BinDecoder<'a>) -> Option<RawRecord<'a>> {
    let name = Name::read(d).ok()?;
    let rtype = d.read_u16().ok()?.unverified();
    let class = d.read_u16().ok()?.unverified();
    let ttl = d.read_u32().ok()?.unverified();
    let len = d.read_u16().ok()?.unverified();
    let rdata = d.read_slice(len as usize).ok()?.unverified();
    Some(RawRecord {
        name_is_root: name.is_root(),
        rtype,
        class,
        ttl,
        rdata,
    })
}

/// Read the additional section; the error carries the EDNS seen when it was valid.
fn read_additional(d: &mut BinDecoder<'_>, count: u16) -> Result<Option<Edns>, Option<Edns>> {
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
mod tests {}
