//! Encoding a reply: header flags, echoed question, sections, OPT with ECS, size cap and TC.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use super::client_subnet::ClientSubnet;
use super::memo::Hit;
use super::qname::QName;
use super::request::{Edns, Header};
use super::resolve::{Answer, Section};
use super::wire::{EncodeError, Writer};
pub(crate) use super::wire::{MAX_MESSAGE, PLAIN_UDP_LIMIT};

/// How the reply's OPT record is written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReplyEdns {
    /// Our advertised UDP payload size.
    pub(crate) payload: u16,
    pub(crate) dnssec_ok: bool,
    /// Echo the CO flag (a signed compact-denial reply to a client that set it).
    pub(crate) compact_ok: bool,
    pub(crate) client_subnet: Option<ClientSubnet>,
}

impl ReplyEdns {
    pub(crate) fn for_query(edns: &Edns, payload: u16) -> Self {
        Self {
            payload,
            dnssec_ok: edns.dnssec_ok,
            compact_ok: false,
            client_subnet: edns.client_subnet,
        }
    }
}

/// Everything needed to write one reply.
pub(crate) struct Reply<'a, 'z> {
    pub(crate) header: Header,
    pub(crate) question: Option<(&'a QName<'a>, RecordType, u16)>,
    pub(crate) answer: &'a Answer<'z>,
    pub(crate) edns: Option<ReplyEdns>,
}

/// `encode` into `buf` (cleared first), so a socket loop can reuse its buffers. Returns
/// where the sections end (the OPT record, if any, follows) when the reply is whole: no
/// record dropped, TC clear.
pub(crate) fn encode_into(reply: &Reply<'_, '_>, limit: usize, buf: &mut Vec<u8>) -> Option<usize> {
    let limit = limit.clamp(PLAIN_UDP_LIMIT, MAX_MESSAGE);
    let end = write(reply, true, true, false, buf);
    if buf.len() <= limit {
        return Some(end);
    }
    if !reply.answer.additional.is_empty() && !reply.answer.is_referral() {
        write(reply, true, false, false, buf);
        if buf.len() <= limit {
            return None;
        }
    }
    write(reply, false, false, true, buf);
    None
}

/// A reply from remembered sections (see `memo`): header, the question as the client
/// wrote it, the sections as they were encoded, and this query's OPT record (its ECS
/// option with `scope`).
pub(crate) fn encode_remembered(
    header: Header,
    question: (&QName<'_>, RecordType, u16),
    hit: &Hit<'_>,
    (edns, scope): (Option<&ReplyEdns>, u8),
    buf: &mut Vec<u8>,
) {
    buf.clear();
    let mut flags: u16 = 0x8000 | (u16::from(header.opcode) << 11);
    flags |= u16::from(hit.authoritative) << 10;
    flags |= u16::from(header.rd) << 8;
    flags |= u16::from(header.cd) << 4;
    let [an, ns, ar] = hit.counts;
    for word in [header.id, flags, 1, an, ns, ar + u16::from(edns.is_some())] {
        buf.extend_from_slice(&word.to_be_bytes());
    }
    let (name, qtype, qclass) = question;
    buf.extend_from_slice(name.wire());
    buf.extend_from_slice(&u16::from(qtype).to_be_bytes());
    buf.extend_from_slice(&qclass.to_be_bytes());
    buf.extend_from_slice(hit.sections);
    if let Some(edns) = edns {
        write_opt(buf, edns, 0, scope);
    }
}

/// An empty reply with TC=1: "ask again over TCP" (for rate-limited clients).
pub(crate) fn encode_truncated(reply: &Reply<'_, '_>, buf: &mut Vec<u8>) {
    write(reply, false, false, true, buf);
}

/// Returns where the sections end.
fn write(
    reply: &Reply<'_, '_>,
    records: bool,
    additional: bool,
    truncated: bool,
    buf: &mut Vec<u8>,
) -> usize {
    let a = reply.answer;
    buf.clear();
    let rcode = u16::from(a.rcode);
    let mut flags: u16 = 0x8000 | (u16::from(reply.header.opcode) << 11) | (rcode & 0xf);
    flags |= u16::from(a.authoritative) << 10;
    flags |= u16::from(truncated) << 9;
    flags |= u16::from(reply.header.rd) << 8;
    flags |= u16::from(reply.header.cd) << 4;
    let count = |v: &Section<'_>, on: bool| {
        if on {
            v.iter().map(|rr| rr.count() as u16).sum()
        } else {
            0
        }
    };
    let ar = count(&a.additional, additional) + u16::from(reply.edns.is_some());
    for word in [
        reply.header.id,
        flags,
        u16::from(reply.question.is_some()),
        count(&a.answer, records),
        count(&a.authority, records),
        ar,
    ] {
        buf.extend_from_slice(&word.to_be_bytes());
    }
    if emit_sections(buf, reply, records, additional).is_err() {
        // A record that cannot be encoded is a bug in our data, not the client's;
        // answer SERVFAIL rather than a corrupt packet.
        return servfail(reply, buf);
    }
    let end = buf.len();
    if let Some(edns) = &reply.edns {
        write_opt(buf, edns, rcode, a.ecs_scope);
    }
    end
}

fn emit_sections(
    buf: &mut Vec<u8>,
    reply: &Reply<'_, '_>,
    records: bool,
    additional: bool,
) -> Result<(), EncodeError> {
    let mut w = Writer::new(buf);
    let a = reply.answer;
    if let Some((name, qtype, qclass)) = reply.question {
        w.question(name, qtype, qclass, a.zone.map(|z| z.origin_labels));
    }
    if records {
        for rr in a.answer.iter().chain(&a.authority) {
            w.rr(rr)?;
        }
    }
    if additional {
        for rr in &a.additional {
            w.rr(rr)?;
        }
    }
    Ok(())
}

fn servfail(reply: &Reply<'_, '_>, buf: &mut Vec<u8>) -> usize {
    let answer = Answer::error(ResponseCode::ServFail);
    let fallback = Reply {
        header: reply.header,
        question: reply.question,
        answer: &answer,
        edns: reply.edns,
    };
    write(&fallback, false, false, false, buf)
}

/// The OPT pseudo-record: root owner, our payload size, extended rcode, DO copied, ECS echoed.
fn write_opt(buf: &mut Vec<u8>, edns: &ReplyEdns, rcode: u16, scope: u8) {
    let ttl: u32 = (u32::from(rcode >> 4) << 24)
        | (u32::from(edns.dnssec_ok) << 15)
        | (u32::from(edns.compact_ok) << 14);
    buf.push(0);
    buf.extend_from_slice(&41u16.to_be_bytes());
    buf.extend_from_slice(&edns.payload.to_be_bytes());
    buf.extend_from_slice(&ttl.to_be_bytes());
    let at = buf.len();
    buf.extend_from_slice(&[0, 0]);
    if let Some(ecs) = &edns.client_subnet {
        ecs.encode_reply(scope, buf);
    }
    let len = (buf.len() - at - 2) as u16;
    buf[at..at + 2].copy_from_slice(&len.to_be_bytes());
}
