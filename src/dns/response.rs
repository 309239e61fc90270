//! Encoding a reply: header flags, echoed question, sections, OPT with ECS, size cap and TC.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, Record, RecordType};

use super::client_subnet::ClientSubnet;
use super::request::{Edns, Header};
use super::resolve::Answer;
use super::wire::{EncodeError, Writer};

/// Largest reply to a client without EDNS over UDP (RFC 1035).
pub const PLAIN_UDP_LIMIT: usize = 512;
/// Largest DNS message at all (TCP length prefix).
pub const MAX_MESSAGE: usize = 65_535;

/// How the reply's OPT record is written.
#[derive(Debug, Clone, Copy)]
pub struct ReplyEdns {
    /// Our advertised UDP payload size.
    pub payload: u16,
    pub dnssec_ok: bool,
    pub client_subnet: Option<ClientSubnet>,
}

impl ReplyEdns {
    pub fn for_query(edns: &Edns, payload: u16) -> Self {
        Self {
            payload,
            dnssec_ok: edns.dnssec_ok,
            client_subnet: edns.client_subnet,
        }
    }
}

/// Everything needed to write one reply.
pub struct Reply<'a> {
    pub header: Header,
    pub question: Option<(&'a Name, RecordType, u16)>,
    pub answer: &'a Answer,
    pub edns: Option<ReplyEdns>,
}

/// Encode `reply` into at most `limit` bytes, setting TC and dropping records when it
/// does not fit (optional additional records are dropped first, except referral glue).
pub fn encode(reply: &Reply<'_>, limit: usize) -> Vec<u8> {
    let limit = limit.clamp(PLAIN_UDP_LIMIT, MAX_MESSAGE);
    let full = write(reply, true, true, false);
    if full.len() <= limit {
        return full;
    }
    if !reply.answer.additional.is_empty() && !reply.answer.is_referral() {
        let trimmed = write(reply, true, false, false);
        if trimmed.len() <= limit {
            return trimmed;
        }
    }
    write(reply, false, false, true)
}

/// An empty reply with TC=1: "ask again over TCP" (for rate-limited clients).
pub fn encode_truncated(reply: &Reply<'_>) -> Vec<u8> {
    write(reply, false, false, true)
}

fn write(reply: &Reply<'_>, records: bool, additional: bool, truncated: bool) -> Vec<u8> {
    let a = reply.answer;
    let mut buf = Vec::with_capacity(512);
    let rcode = u16::from(a.rcode);
    let mut flags: u16 = 0x8000 | (u16::from(reply.header.opcode) << 11) | (rcode & 0xf);
    flags |= u16::from(a.authoritative) << 10;
    flags |= u16::from(truncated) << 9;
    flags |= u16::from(reply.header.rd) << 8;
    flags |= u16::from(reply.header.cd) << 4;
    let count = |v: &Vec<Record>, on: bool| if on { v.len() as u16 } else { 0 };
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
    if emit_sections(&mut buf, reply, records, additional).is_err() {
        // A record that cannot be encoded is a bug in our data, not the client's;
        // answer SERVFAIL rather than a corrupt packet.
        return servfail(reply);
    }
    if let Some(edns) = &reply.edns {
        write_opt(&mut buf, edns, rcode, a.ecs_scope);
    }
    buf
}

fn emit_sections(
    buf: &mut Vec<u8>,
    reply: &Reply<'_>,
    records: bool,
    additional: bool,
) -> Result<(), EncodeError> {
    let mut w = Writer::new(buf);
    if let Some((name, qtype, qclass)) = reply.question {
        w.question(name, qtype, qclass);
    }
    let a = reply.answer;
    if records {
        for r in a.answer.iter().chain(&a.authority) {
            w.record(r)?;
        }
    }
    if additional {
        for r in &a.additional {
            w.record(r)?;
        }
    }
    Ok(())
}

fn servfail(reply: &Reply<'_>) -> Vec<u8> {
    let answer = Answer::error(ResponseCode::ServFail);
    let fallback = Reply {
        header: reply.header,
        question: reply.question,
        answer: &answer,
        edns: reply.edns,
    };
    write(&fallback, false, false, false)
}

/// The OPT pseudo-record: root owner, our payload size, extended rcode, DO copied, ECS echoed.
fn write_opt(buf: &mut Vec<u8>, edns: &ReplyEdns, rcode: u16, scope: u8) {
    let mut options = Vec::new();
    if let Some(ecs) = &edns.client_subnet {
        ecs.encode_reply(scope, &mut options);
    }
    let ttl: u32 = (u32::from(rcode >> 4) << 24) | (u32::from(edns.dnssec_ok) << 15);
    buf.push(0);
    buf.extend_from_slice(&41u16.to_be_bytes());
    buf.extend_from_slice(&edns.payload.to_be_bytes());
    buf.extend_from_slice(&ttl.to_be_bytes());
    buf.extend_from_slice(&(options.len() as u16).to_be_bytes());
    buf.extend_from_slice(&options);
}
