//! The rules every reply to any packet must satisfy: silence only for runts and responses, a reply that parses, the ID, opcode and question echoed, the size limit, the ECS scope.

use hickory_proto::op::Message;
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use meridian::dns::Transport;

/// Largest plain DNS reply over UDP (RFC 1035).
pub const PLAIN_UDP: usize = 512;

/// `Err(rule broken)` when `reply` (`None` = silence) is not an acceptable answer to
/// `query` from a server whose largest UDP reply is `max_udp`.
pub fn check(
    query: &[u8],
    transport: Transport,
    max_udp: u16,
    reply: Option<&[u8]>,
) -> Result<(), String> {
    let silent = query.len() < 12 || query[2] & 0x80 != 0;
    let reply = match (reply, silent) {
        (None, true) => return Ok(()),
        (None, false) => return Err("no reply to a query".into()),
        (Some(_), true) => return Err("replied to a runt or a response".into()),
        (Some(r), false) => r,
    };
    if reply.len() < 12 {
        return Err(format!("reply of {} bytes", reply.len()));
    }
    header(query, reply)?;
    let message = Message::from_vec(reply).map_err(|e| format!("reply does not parse: {e}"))?;
    let parsed_query = Message::from_vec(query).ok();
    size(
        parsed_query.as_ref(),
        &message,
        reply.len(),
        transport,
        max_udp,
    )?;
    question(query, reply)?;
    client_subnet(parsed_query.as_ref(), &message)
}

fn word(p: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([p[at], p[at + 1]])
}

/// ID and opcode echoed, QR set, RA never set.
fn header(query: &[u8], reply: &[u8]) -> Result<(), String> {
    if reply[..2] != query[..2] {
        return Err("ID not echoed".into());
    }
    if reply[2] & 0x80 == 0 {
        return Err("QR not set".into());
    }
    if (reply[2] >> 3) & 0xf != (query[2] >> 3) & 0xf {
        return Err("opcode not echoed".into());
    }
    if reply[3] & 0x80 != 0 {
        return Err("RA set".into());
    }
    Ok(())
}

/// UDP: at most min(EDNS payload, our maximum) with EDNS, 512 without; TCP: one message.
fn size(
    query: Option<&Message>,
    reply: &Message,
    len: usize,
    transport: Transport,
    max_udp: u16,
) -> Result<(), String> {
    let cap = match (transport, &reply.edns) {
        (Transport::Tcp, _) => usize::from(u16::MAX),
        (Transport::Udp, None) => PLAIN_UDP,
        (Transport::Udp, Some(_)) => {
            let payload = query
                .and_then(|q| q.edns.as_ref())
                .map_or(max_udp, hickory_proto::op::Edns::max_payload);
            usize::from(payload.clamp(512, max_udp.max(512)))
        }
    };
    if len > cap {
        return Err(format!("{len}-byte reply over a {cap}-byte limit"));
    }
    if reply.edns.is_some() && query.is_some_and(|q| q.edns.is_none()) {
        return Err("OPT in a reply to a query without one".into());
    }
    Ok(())
}

/// The first question of a packet as raw bytes (name, type, class), if uncompressed.
pub fn raw_question(packet: &[u8]) -> Option<&[u8]> {
    let mut at = 12;
    let mut name_len = 1;
    loop {
        let len = usize::from(*packet.get(at)?);
        if len == 0 {
            at += 1;
            break;
        }
        if len > 63 {
            return None;
        }
        name_len += len + 1;
        if name_len > 255 {
            return None;
        }
        at += 1 + len;
    }
    packet.get(12..at + 4)
}

/// A reply carries the query's question byte for byte (case included), or none at all when
/// the query did not have exactly one readable question.
fn question(query: &[u8], reply: &[u8]) -> Result<(), String> {
    let asked = (word(query, 4) == 1).then(|| raw_question(query)).flatten();
    match (word(reply, 4), asked) {
        (0, None) => Ok(()),
        (0, Some(_)) => Err("question dropped".into()),
        (1, Some(q)) if reply.get(12..12 + q.len()) == Some(q) => Ok(()),
        (1, Some(_)) => Err("question not echoed byte for byte".into()),
        (1, None) => Ok(()), // a compressed question, echoed decompressed
        (n, _) => Err(format!("QDCOUNT {n} in a reply")),
    }
}

/// An echoed ECS option repeats the query's family, source prefix and address, and its
/// scope never exceeds the source prefix.
fn client_subnet(query: Option<&Message>, reply: &Message) -> Result<(), String> {
    let subnet = |m: &Message| match m.edns.as_ref()?.option(EdnsCode::Subnet)? {
        EdnsOption::Subnet(s) => Some(*s),
        _ => None,
    };
    let Some(echo) = subnet(reply) else {
        return Ok(());
    };
    if echo.scope_prefix() > echo.source_prefix() {
        return Err(format!(
            "ECS scope /{} beyond source /{}",
            echo.scope_prefix(),
            echo.source_prefix()
        ));
    }
    match query.map(subnet) {
        Some(None) => Err("ECS in a reply to a query without it".into()),
        Some(Some(asked))
            if asked.source_prefix() != echo.source_prefix() || asked.addr() != echo.addr() =>
        {
            Err("ECS source not echoed".into())
        }
        _ => Ok(()),
    }
}
