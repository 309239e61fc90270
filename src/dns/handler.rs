//! One packet in, one reply (or silence) out: parse, load snapshots once, resolve, encode.

use std::net::IpAddr;
use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use smallvec::SmallVec;

use super::answer::AnswerId;
use super::memo::{Filed, Memo};
use super::request::{self, Rejection, Request};
use super::resolve::{Answer, Context, resolve};
use super::response::{self, PLAIN_UDP_LIMIT, Reply, ReplyEdns};
use super::rrl::{Rrl, Verdict};
use super::sign::{self, OverBudget, SignInput};
use super::view::{Loaded, Snapshots, View};
use crate::dnssec::SigCache;
use crate::dnssec::rrsig::NXNAME;
use crate::metrics;
use crate::policy::Client;
use crate::zone::key::WireKey;

#[path = "handler_replies.rs"]
mod replies;

/// Class IN.
const CLASS_IN: u16 = 1;

/// How a packet arrived; it decides the size limit of the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// UDP: the reply is capped at the negotiated payload size.
    Udp,
    /// TCP: the reply is not capped.
    Tcp,
}

impl Transport {
    /// The transport's name in logs and metrics (`udp`, `tcp`).
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }
}

/// A query parsed ahead of its answer (so a batch can be parsed, then prefetched, then
/// answered), with the timer its duration is measured from.
pub struct Parsed<'p> {
    timer: metrics::QueryTimer,
    request: Result<Request<'p>, Rejection<'p>>,
}

/// One query being answered: the request, who sent it, how, and its timer.
#[derive(Clone, Copy)]
struct Asked<'a, 'p> {
    req: &'a Request<'p>,
    src: IpAddr,
    transport: Transport,
    timer: metrics::QueryTimer,
}

/// Answers packets from the current snapshots. Cheap to share across sockets.
#[derive(Clone)]
pub struct Handler {
    snapshots: Arc<Snapshots>,
    max_udp_payload: u16,
    /// Response rate limiting for UDP; None when off.
    rrl: Option<Arc<Rrl>>,
    /// Log one query in this many (0: none).
    log_sample: u64,
    /// The DNSSEC signature cache shared by every socket (and kept across reloads).
    signatures: Arc<SigCache>,
}

/// Signatures the cache holds at most.
pub const SIGNATURE_CACHE_CAPACITY: usize = 100_000;
/// RRsets signed per second on the query path at most (UDP); past it a reply that needs a
/// new signature is sent truncated (TC=1).
pub const SIGNING_BUDGET_PER_SECOND: u32 = 10_000;

impl Handler {
    /// A handler answering from `snapshots`, with UDP replies capped at `max_udp_payload`.
    pub fn new(snapshots: Arc<Snapshots>, max_udp_payload: u16) -> Self {
        Self {
            snapshots,
            max_udp_payload,
            rrl: None,
            log_sample: 0,
            signatures: Arc::new(SigCache::new(
                SIGNATURE_CACHE_CAPACITY,
                SIGNING_BUDGET_PER_SECOND,
            )),
        }
    }

    /// Sign from (and into) `cache` instead of a cache of its own.
    pub fn with_signatures(mut self, cache: Arc<SigCache>) -> Self {
        self.signatures = cache;
        self
    }

    /// The signature cache (its maintenance runs elsewhere: `app`).
    pub fn signatures(&self) -> &Arc<SigCache> {
        &self.signatures
    }

    /// Log one query in `n` at info level (0: none).
    pub(crate) fn with_query_log(mut self, n: u64) -> Self {
        self.log_sample = n;
        self
    }

    /// Limit UDP responses per client network with `rrl`.
    pub fn with_rrl(mut self, rrl: Option<Rrl>) -> Self {
        self.rrl = rrl.map(Arc::new);
        self
    }

    /// The snapshots it answers from.
    pub fn snapshots(&self) -> &Arc<Snapshots> {
        &self.snapshots
    }

    /// A view of the published snapshots for a thread that answers many queries.
    pub fn view(&self) -> View<'_> {
        View::new(&self.snapshots)
    }

    /// The reply to `packet` from `src`, or `None` when it deserves silence (one query on
    /// its own: TCP, tests; the UDP loop parses and answers whole batches).
    pub fn handle(&self, packet: &[u8], src: IpAddr, transport: Transport) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(512);
        let mut key = WireKey::empty();
        let parsed = Self::parse(packet, &mut key);
        let send = self.respond(self.view().load(), &parsed, src, transport, &mut out, None);
        metrics::flush();
        send.then_some(out)
    }

    /// Parse `packet` (its question's key goes to `key`), starting its timer.
    pub fn parse<'p>(packet: &'p [u8], key: &'p mut WireKey) -> Parsed<'p> {
        Parsed {
            timer: metrics::QueryTimer::start(),
            request: request::parse(packet, key),
        }
    }

    /// Start fetching the GeoIP data the answers to a batch of parsed queries may read,
    /// for those that carry a client subnet: such queries bring many distinct networks,
    /// whose lookups miss the CPU caches, and the batch's misses then overlap.
    pub(crate) fn prefetch<'a, 'p: 'a>(&self, batch: impl IntoIterator<Item = &'a Parsed<'p>>) {
        let subnets: SmallVec<[IpAddr; 32]> = batch
            .into_iter()
            .filter_map(|p| p.request.as_ref().ok()?.edns?.client_subnet)
            .map(|ecs| ecs.addr)
            .collect();
        if subnets.len() > 1 {
            self.snapshots.geo.prefetch(&subnets);
        }
    }

    /// The reply to `parsed` from `src`, answered from `loaded`, in `out` (cleared first);
    /// false means silence. `memo`: the thread's remembered static replies, used and
    /// filled (a UDP socket loop). Its counts reach the metrics at the next
    /// [`metrics::flush`].
    pub fn respond(
        &self,
        loaded: Loaded<'_>,
        parsed: &Parsed<'_>,
        src: IpAddr,
        transport: Transport,
        out: &mut Vec<u8>,
        memo: Option<&mut Memo>,
    ) -> bool {
        match &parsed.request {
            Ok(req) => {
                if let Some(send) = self.rate_limit(req, src, transport, out) {
                    return send;
                }
                let asked = Asked {
                    req,
                    src,
                    transport,
                    timer: parsed.timer,
                };
                self.answer(loaded, &asked, out, memo);
                true
            }
            Err(rejection) => match self.reject(rejection, out) {
                Some((qtype, rcode)) => {
                    metrics::query(None, qtype, rcode.into(), transport.as_str(), parsed.timer);
                    true
                }
                None => false,
            },
        }
    }

    /// An empty TC=1 reply to `packet` in `out` (for a reply that could not be sent over
    /// UDP); false when the packet is not a query that gets one.
    pub(crate) fn truncated_into(&self, packet: &[u8], out: &mut Vec<u8>) -> bool {
        let mut key = WireKey::empty();
        match request::parse(packet, &mut key) {
            Ok(req) => {
                self.truncated(&req, out);
                true
            }
            Err(_) => false,
        }
    }

    /// `Some(send)` when response rate limiting withholds this UDP reply: a truncated
    /// reply in `out` (true) or silence (false).
    fn rate_limit(
        &self,
        req: &Request,
        src: IpAddr,
        transport: Transport,
        out: &mut Vec<u8>,
    ) -> Option<bool> {
        let rrl = self.rrl.as_ref().filter(|_| transport == Transport::Udp)?;
        match rrl.check(src) {
            Verdict::Send => None,
            Verdict::Slip => {
                metrics::rrl(true);
                self.truncated(req, out);
                Some(true)
            }
            Verdict::Drop => {
                metrics::rrl(false);
                Some(false)
            }
        }
    }

    /// The sampled query log: a per-thread counter, so no shared state is touched.
    fn log_query(&self, asked: &Asked, rcode: ResponseCode, zone: Option<&str>, scope: u8) {
        if self.log_sample == 0 {
            return;
        }
        thread_local!(static SEEN: std::cell::Cell<u64> = const { std::cell::Cell::new(0) });
        let n = SEEN.with(|c| {
            c.set(c.get().wrapping_add(1));
            c.get()
        });
        if n.is_multiple_of(self.log_sample) {
            tracing::info!(
                client = %asked.src,
                name = %asked.req.qname,
                qtype = %asked.req.qtype,
                rcode = %rcode,
                zone = zone.unwrap_or("-"),
                scope,
                transport = asked.transport.as_str(),
                "query"
            );
        }
    }

    /// Resolve the query against the current snapshots (or take its remembered reply),
    /// encode the reply into `out` and count it.
    fn answer(
        &self,
        loaded: Loaded<'_>,
        asked: &Asked<'_, '_>,
        out: &mut Vec<u8>,
        memo: Option<&mut Memo>,
    ) {
        let Asked {
            req,
            src,
            transport,
            timer,
        } = *asked;
        let edns = req
            .edns
            .as_ref()
            .map(|e| ReplyEdns::for_query(e, self.max_udp_payload));
        let filed = Filed::new(self.stamp(req, &loaded), req.qname.key(), req.qtype);
        let answer = if req.edns.is_some_and(|e| e.version > 0) {
            Answer::error(ResponseCode::BADVERS)
        } else if req.qclass != CLASS_IN {
            Answer::error(ResponseCode::Refused)
        } else {
            let client = client(req, src);
            let ecs = client
                .from_ecs
                .then_some((client.addr, client.source_prefix));
            self.snapshots.latency.record_query(src, ecs);
            if let Some(hit) = memo.as_deref().and_then(|m| m.get(&filed)) {
                self.remembered(asked, &hit, (edns, 0), out);
                return;
            }
            let mut rng = rand::rng();
            let mut cx = Context {
                client,
                geo: self.snapshots.geo.as_ref(),
                health: loaded.health,
                latency: loaded.latency,
                now: self.snapshots.latency.now(),
                load: loaded.load,
                rng: &mut rng,
                trace: None,
            };
            resolve(loaded.zones, &req.qname, req.qtype, &mut cx)
        };
        // A signed steered answer is remembered by what the decision chose.
        let mut id = AnswerId::new();
        let filed = Filed {
            id: Self::steered_identity(req, &answer, memo.is_some(), &mut id),
            ..filed
        };
        if !filed.id.is_empty()
            && let Some(hit) = memo.as_deref().and_then(|m| m.get(&filed))
        {
            self.remembered(asked, &hit, (edns, answer.ecs_scope), out);
            record_decision(&answer);
            return;
        }
        let mut edns = edns;
        // A name that does not exist is never remembered, signed or not.
        let nxdomain = answer.rcode == ResponseCode::NXDomain;
        let Ok(signed) = self.sign(req, transport, &answer, edns.as_mut()) else {
            self.truncated(req, out);
            self.log_query(asked, ResponseCode::NoError, None, 0);
            metrics::query(None, u16::from(req.qtype), 0, transport.as_str(), timer);
            return;
        };
        let answer = signed.as_ref().unwrap_or(&answer);
        let edns = match answer.rcode {
            ResponseCode::BADVERS => edns.map(|e| ReplyEdns {
                client_subnet: None,
                ..e
            }),
            _ => edns,
        };
        let reply = Reply {
            header: req.header,
            question: Some((&req.qname, req.qtype, req.qclass)),
            answer,
            edns,
        };
        let whole = response::encode_into(&reply, self.limit(req, transport), out);
        if let (Some(memo), Some(sections_end), false) = (memo, whole, nxdomain) {
            let question_end = 12 + req.qname.wire().len() + 4;
            memo.put(&filed, answer, out, (question_end, sections_end));
        }
        record_decision(answer);
        let zone = answer.zone.map(|z| &*z.name);
        self.log_query(asked, answer.rcode, zone, answer.ecs_scope);
        metrics::query(
            zone,
            u16::from(req.qtype),
            answer.rcode.into(),
            transport.as_str(),
            timer,
        );
    }

    /// The answer signed when the query has DO=1 and its zone signs (`edns` then echoes
    /// CO), `Ok(None)` when `answer` goes as it is (taken by reference: an answer is large,
    /// and DO=0 replies should not pay for moving it); `Err` when the signing budget is
    /// spent on UDP. A query for type NXNAME to a signed zone is FORMERR (RFC 9824).
    fn sign<'z>(
        &self,
        req: &Request,
        transport: Transport,
        answer: &Answer<'z>,
        edns: Option<&mut ReplyEdns>,
    ) -> Result<Option<Answer<'z>>, OverBudget> {
        if sign::signing(answer).is_none() {
            return Ok(None);
        }
        if u16::from(req.qtype) == NXNAME {
            return Ok(Some(Answer::error(ResponseCode::FormErr)));
        }
        let Some(edns) = edns.filter(|e| e.dnssec_ok) else {
            return Ok(None);
        };
        let compact_ok = req.edns.is_some_and(|e| e.compact_ok);
        let input = SignInput {
            qname: &req.qname,
            qtype: req.qtype,
            compact_ok,
            cache: &self.signatures,
            now: self.snapshots.latency.now() as u32,
            over_budget_ok: transport == Transport::Tcp,
        };
        let signed = sign::sign_answer(answer, &input, None)?;
        edns.compact_ok = compact_ok;
        Ok(Some(signed))
    }

    /// UDP: min(client payload, our maximum), 512 without EDNS. TCP: a whole message.
    fn limit(&self, req: &Request, transport: Transport) -> usize {
        match (transport, &req.edns) {
            (Transport::Tcp, _) => response::MAX_MESSAGE,
            (Transport::Udp, None) => PLAIN_UDP_LIMIT,
            (Transport::Udp, Some(e)) => usize::from(e.payload.min(self.max_udp_payload)),
        }
    }
}

/// The client a policy steers: the ECS subnet when the query has one, else the packet source.
pub(crate) fn client(req: &Request, src: IpAddr) -> Client {
    match req.edns.as_ref().and_then(|e| e.client_subnet) {
        Some(ecs) => Client {
            addr: ecs.addr,
            source_prefix: ecs.source_prefix,
            from_ecs: true,
        },
        None => Client {
            addr: src,
            source_prefix: if src.is_ipv4() { 32 } else { 128 },
            from_ecs: false,
        },
    }
}

fn record_decision(answer: &Answer<'_>) {
    let (Some(zone), Some((service, policy, outcome))) = (answer.zone, answer.decision) else {
        return;
    };
    metrics::decision(&zone.name, service, policy, outcome);
    if let Some(source) = answer.rtt_source {
        metrics::latency_decision(source);
    }
}
