//! `meridian explain`: the same `resolve()` a query runs, with the policy trace recorded.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use hickory_proto::rr::{Name, RecordType};
use ipnet::IpNet;
use rand::SeedableRng;

use super::client_subnet::truncate;
use super::qname::QName;
use super::resolve::{Context, Resolved, resolve};
use super::sign::{SetSignature, SignInput, sign_answer, signing};
use crate::dnssec::SigCache;
use crate::geo::Locate;
use crate::health::{HealthSnapshot, Status, TargetHealth};
use crate::load::LoadSnapshot;
use crate::policy::{Client, LatencyView, Trace};
use crate::zone::ZoneSet;

/// What explain was asked.
#[derive(Debug, Clone)]
pub(crate) struct Question {
    pub(crate) name: Name,
    pub(crate) qtype: RecordType,
    /// The resolver's address (the packet source).
    pub(crate) client: IpAddr,
    /// An ECS subnet the resolver sent, if any.
    pub(crate) ecs: Option<IpNet>,
}

impl Question {
    /// A question as a person writes it: `name` made absolute, `qtype` a record type in any
    /// case (`a`, `AAAA`). The error says which of the two is wrong.
    pub(crate) fn parse(
        name: &str,
        qtype: &str,
        client: IpAddr,
        ecs: Option<IpNet>,
    ) -> Result<Self, String> {
        let mut parsed =
            Name::from_ascii(name).map_err(|e| format!("invalid name {name:?}: {e}"))?;
        parsed.set_fqdn(true);
        let qtype = RecordType::from_str(&qtype.to_ascii_uppercase())
            .map_err(|_| format!("unknown record type {qtype:?}"))?;
        Ok(Self {
            name: parsed,
            qtype,
            client,
            ecs,
        })
    }
}

/// The answer and how it was reached.
#[derive(Debug)]
pub(crate) struct Explanation {
    pub(crate) question: Question,
    pub(crate) answer: Resolved,
    pub(crate) trace: Trace,
    /// The zone signs: how each RRset of the DO=1 reply is signed (key tag, from the
    /// cache or signed now).
    pub(crate) signatures: Option<Vec<SetSignature>>,
}

/// The client a query with `q`'s source and ECS would be steered as.
pub(crate) fn client_of(q: &Question) -> Client {
    match q.ecs {
        Some(net) => Client {
            addr: truncate(net.addr(), net.prefix_len()),
            source_prefix: net.prefix_len(),
            from_ecs: true,
        },
        None => Client {
            addr: q.client,
            source_prefix: if q.client.is_ipv4() { 32 } else { 128 },
            from_ecs: false,
        },
    }
}

/// `health` with each of `down` (target keys) forced down, for what-if questions.
pub(crate) fn with_down(health: &HealthSnapshot, down: &[String]) -> HealthSnapshot {
    let mut targets: HashMap<Arc<str>, TargetHealth> =
        health.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    for key in down {
        let forced = TargetHealth {
            status: Status::Down,
            forced: true,
        };
        targets.insert(key.as_str().into(), forced);
    }
    HealthSnapshot::new(health.generation, targets)
}

/// Resolve `q` exactly as a query would, recording the policy trace. The RNG is seeded so
/// the same question gives the same explanation. `latency` is the table `latency` services
/// read (`LatencyView::none()` for none). In a signed zone the DO=1 reply is signed with
/// `cache` (the server's, or an empty one offline) to show where its signatures come from.
pub(crate) fn explain(
    zones: &ZoneSet,
    geo: &dyn Locate,
    health: &HealthSnapshot,
    latency: LatencyView<'_>,
    load: &LoadSnapshot,
    q: Question,
    cache: &SigCache,
) -> Explanation {
    let mut trace = Trace::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let mut cx = Context {
        client: client_of(&q),
        geo,
        health,
        latency: latency.table,
        now: latency.now,
        load,
        rng: &mut rng,
        trace: Some(&mut trace),
    };
    let qname = QName::from_name(&q.name);
    let unsigned = resolve(zones, &qname, q.qtype, &mut cx);
    let signatures = signing(&unsigned).and_then(|_| {
        let input = SignInput {
            qname: &qname,
            qtype: q.qtype,
            compact_ok: false,
            cache,
            now: latency.now as u32,
            over_budget_ok: true,
        };
        let mut report = Vec::new();
        sign_answer(&unsigned, &input, Some(&mut report)).ok()?;
        Some(report)
    });
    let answer = unsigned.resolved(&q.name);
    Explanation {
        question: q,
        answer,
        trace,
        signatures,
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = &self.question;
        let a = &self.answer;
        writeln!(f, "question: {} {}", q.name, q.qtype)?;
        match q.ecs {
            Some(ecs) => writeln!(f, "client:   {} with ECS {ecs}", q.client)?,
            None => writeln!(f, "client:   {}", q.client)?,
        }
        writeln!(f, "rcode:    {}", a.rcode)?;
        writeln!(f, "ecs scope: /{}", a.ecs_scope)?;
        if let Some((service, policy, outcome)) = &a.decision {
            writeln!(
                f,
                "decision: service {service}, policy {policy}, outcome {outcome:?}"
            )?;
        }
        for (section, records) in [
            ("answer", &a.answer),
            ("authority", &a.authority),
            ("additional", &a.additional),
        ] {
            for r in records {
                writeln!(f, "{section}: {r}")?;
            }
        }
        match &self.signatures {
            None => writeln!(f, "dnssec:   unsigned zone")?,
            Some(sigs) => {
                writeln!(f, "dnssec:   signed with DO=1")?;
                for s in sigs {
                    let from = if s.cached { "cached" } else { "signed now" };
                    writeln!(f, "  RRSIG {} by key {} ({from})", s.rrset, s.key_tag)?;
                }
            }
        }
        if !self.trace.events.is_empty() {
            writeln!(f, "trace:")?;
            for line in self.trace.to_string().lines() {
                writeln!(f, "  {line}")?;
            }
        }
        Ok(())
    }
}
