//! The replies the handler writes besides a freshly resolved answer: remembered ones (a UDP
//! socket thread's `memo`: what they are filed under, and writing one), truncated and
//! rejected ones.

use hickory_proto::op::ResponseCode;

use super::Handler;
use crate::dns::answer::AnswerId;
use crate::dns::memo::{Hit, Stamp};
use crate::dns::request::{Rejection, Request};
use crate::dns::resolve::Answer;
use crate::dns::response::{self, PLAIN_UDP_LIMIT, Reply, ReplyEdns};
use crate::dns::sign;
use crate::dns::view::Loaded;
use crate::metrics;

impl Handler {
    /// An empty TC=1 reply to `req` in `out`, so the client retries over TCP.
    pub(super) fn truncated(&self, req: &Request, out: &mut Vec<u8>) {
        let answer = Answer::error(ResponseCode::NoError);
        let reply = Reply {
            header: req.header,
            question: Some((&req.qname, req.qtype, req.qclass)),
            answer: &answer,
            edns: req.edns.as_ref().map(|e| ReplyEdns {
                client_subnet: None,
                ..ReplyEdns::for_query(e, self.max_udp_payload)
            }),
        };
        response::encode_truncated(&reply, out);
    }

    /// A remembered reply (`memo`) in `out`, counted; the OPT record echoes CO as the
    /// remembered reply did and carries `scope`, this query's ECS scope.
    pub(super) fn remembered(
        &self,
        asked: &super::Asked<'_, '_>,
        hit: &Hit<'_>,
        (edns, scope): (Option<ReplyEdns>, u8),
        out: &mut Vec<u8>,
    ) {
        let req = asked.req;
        let edns = edns.map(|e| ReplyEdns {
            compact_ok: hit.compact_ok,
            ..e
        });
        let question = (&req.qname, req.qtype, req.qclass);
        response::encode_remembered(req.header, question, hit, (edns.as_ref(), scope), out);
        let zone = hit.zone.map(|z| &**z);
        self.log_query(asked, ResponseCode::NoError, zone, scope);
        let transport = asked.transport.as_str();
        metrics::query(zone, u16::from(req.qtype), 0, transport, asked.timer);
    }

    /// What a remembered reply is filed under: the zone snapshot and, for DO=1, the
    /// signature cache's epoch (a reply holding signatures it replaced or dropped is
    /// forgotten) and the DO and CO flags.
    pub(super) fn stamp(&self, req: &Request, loaded: &Loaded<'_>) -> Stamp {
        match req.edns.filter(|e| e.dnssec_ok) {
            Some(e) => Stamp {
                generation: loaded.generation,
                epoch: self.signatures.epoch(),
                flags: 1 | (u8::from(e.compact_ok) << 1),
            },
            None => Stamp::unsigned(loaded.generation),
        }
    }

    /// The reply to a packet that gets no ordinary answer, in `out`, with its qtype and
    /// rcode; `None` for silence.
    pub(super) fn reject(
        &self,
        rejection: &Rejection,
        out: &mut Vec<u8>,
    ) -> Option<(u16, ResponseCode)> {
        let (header, question, edns, rcode) = match *rejection {
            Rejection::Drop => return None,
            Rejection::NotImp {
                header,
                ref question,
                edns,
            } => (header, question, edns, ResponseCode::NotImp),
            Rejection::FormErr {
                header,
                ref question,
                edns,
            } => (header, question, edns, ResponseCode::FormErr),
        };
        let answer = Answer::error(rcode);
        let reply = Reply {
            header,
            question: question.as_deref().map(|(n, t, c)| (n, *t, *c)),
            answer: &answer,
            edns: edns.map(|e| ReplyEdns {
                client_subnet: None,
                ..ReplyEdns::for_query(&e, self.max_udp_payload)
            }),
        };
        let qtype = question.as_ref().map_or(0, |q| u16::from(q.1));
        response::encode_into(&reply, PLAIN_UDP_LIMIT, out);
        Some((qtype, rcode))
    }

    /// The identity (into `id`) a UDP thread files a signed steered answer under: a DO=1
    /// NOERROR answer that a policy decided, from a zone that signs; empty for any other.
    pub(super) fn steered_identity<'i>(
        req: &Request,
        answer: &Answer<'_>,
        remembering: bool,
        id: &'i mut AnswerId,
    ) -> &'i [u8] {
        let steered_and_signed = remembering
            && req.edns.is_some_and(|e| e.dnssec_ok)
            && answer.decision.is_some()
            && answer.rcode == ResponseCode::NoError
            && sign::signing(answer).is_some();
        if steered_and_signed && answer.identity(id) {
            id
        } else {
            &[]
        }
    }
}
