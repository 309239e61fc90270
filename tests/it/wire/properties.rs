//! Property tests of `Handler::handle` on generated queries (names in any case, types, EDNS payloads, valid and invalid ECS): size limit, exact question echo, ECS scope.

use std::net::IpAddr;
use std::sync::LazyLock;

use meridian::dns::{Handler, Transport};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

use super::fixture::{self, Health, MAX_UDP, NAMES};
use super::oracle;

static HANDLERS: LazyLock<[Handler; 3]> = LazyLock::new(|| {
    let root = fixture::repo_root(env!("CARGO_MANIFEST_DIR"));
    [Health::AllUp, Health::EuDown, Health::AllDown]
        .map(|h| fixture::handler(&root, h, fixture::Signed::No))
});

/// The ECS option of a generated query.
#[derive(Clone, Debug)]
enum Ecs {
    Valid {
        family: u16,
        source: u8,
        addr: Vec<u8>,
    },
    /// Arbitrary option data, almost always malformed.
    Raw(Vec<u8>),
}

#[derive(Clone, Debug)]
struct Opt {
    payload: u16,
    version: u8,
    dnssec_ok: bool,
    ecs: Option<Ecs>,
}

#[derive(Clone, Debug)]
struct Query {
    id: u16,
    labels: Vec<Vec<u8>>,
    qtype: u16,
    qclass: u16,
    opt: Option<Opt>,
    tcp: bool,
    health: usize,
    src: IpAddr,
}

impl Ecs {
    fn data(&self) -> Vec<u8> {
        match self {
            Ecs::Valid {
                family,
                source,
                addr,
            } => {
                let mut d = family.to_be_bytes().to_vec();
                d.extend([*source, 0]);
                d.extend(addr);
                d
            }
            Ecs::Raw(bytes) => bytes.clone(),
        }
    }
}

impl Query {
    fn question(&self) -> Vec<u8> {
        let mut q = Vec::new();
        for label in &self.labels {
            q.push(label.len() as u8);
            q.extend(label);
        }
        q.push(0);
        q.extend(self.qtype.to_be_bytes());
        q.extend(self.qclass.to_be_bytes());
        q
    }

    fn packet(&self) -> Vec<u8> {
        let mut p = self.id.to_be_bytes().to_vec();
        let arcount = u16::from(self.opt.is_some());
        for word in [0x0100u16, 1, 0, 0, arcount] {
            p.extend(word.to_be_bytes());
        }
        p.extend(self.question());
        if let Some(opt) = &self.opt {
            let mut options = Vec::new();
            if let Some(ecs) = &opt.ecs {
                let data = ecs.data();
                options.extend(8u16.to_be_bytes());
                options.extend((data.len() as u16).to_be_bytes());
                options.extend(data);
            }
            let ttl = (u32::from(opt.version) << 16) | (u32::from(opt.dnssec_ok) << 15);
            p.push(0);
            p.extend(41u16.to_be_bytes());
            p.extend(opt.payload.to_be_bytes());
            p.extend(ttl.to_be_bytes());
            p.extend((options.len() as u16).to_be_bytes());
            p.extend(options);
        }
        p
    }

    fn transport(&self) -> Transport {
        if self.tcp {
            Transport::Tcp
        } else {
            Transport::Udp
        }
    }
}

/// A name from the fixture zones, one below them, or anything; letters in random case.
fn labels() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let known = proptest::sample::select(NAMES.to_vec()).prop_map(|n| {
        n.trim_end_matches('.')
            .split('.')
            .map(|l| l.as_bytes().to_vec())
            .collect::<Vec<_>>()
    });
    let below = (
        proptest::collection::vec(proptest::collection::vec(b'a'..=b'z', 1..10), 1..4),
        known.clone(),
    )
        .prop_map(|(mut extra, name)| {
            extra.extend(name);
            extra
        });
    // At most 3 labels of 63 bytes: the name stays within 255 bytes.
    let random = proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..64), 0..4);
    let name = prop_oneof![4 => known, 2 => below, 1 => random];
    (name, any::<u64>()).prop_map(|(mut labels, case)| {
        for (i, byte) in labels.iter_mut().flatten().enumerate() {
            if case >> (i % 64) & 1 == 1 && byte.is_ascii_alphabetic() {
                *byte ^= 0x20;
            }
        }
        labels
    })
}

fn ecs() -> impl Strategy<Value = Ecs> {
    let valid = (
        prop_oneof![Just(1u16), Just(2u16)],
        any::<u8>(),
        any::<[u8; 16]>(),
    )
        .prop_map(|(family, source, bytes)| {
            let source = source % if family == 1 { 33 } else { 129 };
            let mut addr = bytes[..usize::from(source).div_ceil(8)].to_vec();
            if let Some(last) = addr.last_mut() {
                let used = source % 8;
                if used != 0 {
                    *last &= 0xffu8 << (8 - used);
                }
            }
            Ecs::Valid {
                family,
                source,
                addr,
            }
        });
    let raw = proptest::collection::vec(any::<u8>(), 0..24).prop_map(Ecs::Raw);
    prop_oneof![3 => valid, 1 => raw]
}

fn opt() -> impl Strategy<Value = Opt> {
    let payload = prop_oneof![Just(0u16), 0..600u16, 512..4097u16, any::<u16>()];
    let version = prop_oneof![9 => Just(0u8), 1 => any::<u8>()];
    (payload, version, any::<bool>(), proptest::option::of(ecs())).prop_map(
        |(payload, version, dnssec_ok, ecs)| Opt {
            payload,
            version,
            dnssec_ok,
            ecs,
        },
    )
}

fn query() -> impl Strategy<Value = Query> {
    let common = [
        1u16, 2, 5, 6, 12, 15, 16, 28, 33, 41, 251, 252, 255, 257, 65,
    ];
    let qtype = prop_oneof![4 => proptest::sample::select(common.to_vec()), 1 => any::<u16>()];
    let qclass = prop_oneof![9 => Just(1u16), 1 => any::<u16>()];
    let src = prop_oneof![
        Just(IpAddr::from([127, 0, 0, 1])),
        Just(IpAddr::from([198, 51, 100, 77])),
        Just("2001:db8:2::1".parse::<IpAddr>().unwrap()),
    ];
    (
        any::<u16>(),
        labels(),
        qtype,
        qclass,
        proptest::option::weighted(0.8, opt()),
        any::<bool>(),
        0..3usize,
        src,
    )
        .prop_map(|(id, labels, qtype, qclass, opt, tcp, health, src)| Query {
            id,
            labels,
            qtype,
            qclass,
            opt,
            tcp,
            health,
            src,
        })
}

fn config() -> Config {
    Config {
        cases: 4000,
        rng_seed: RngSeed::Fixed(0x4d52_4944),
        failure_persistence: None,
        ..Config::default()
    }
}

/// The reply's OPT record: (ECS option data if any), found by walking the reply.
fn reply_ecs(reply: &[u8]) -> Option<Vec<u8>> {
    let message = hickory_proto::op::Message::from_vec(reply).ok()?;
    let edns = message.edns?;
    match edns.option(hickory_proto::rr::rdata::opt::EdnsCode::Subnet)? {
        hickory_proto::rr::rdata::opt::EdnsOption::Subnet(s) => {
            let mut d = Vec::new();
            let family: u16 = if s.addr().is_ipv4() { 1 } else { 2 };
            d.extend(family.to_be_bytes());
            d.extend([s.source_prefix(), s.scope_prefix()]);
            Some(d)
        }
        _ => None,
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn replies_fit_echo_the_question_and_scope_within_the_source(q in query()) {
        let packet = q.packet();
        let handler = &HANDLERS[q.health];
        let reply = handler.handle(&packet, q.src, q.transport());
        if let Err(rule) = oracle::check(&packet, q.transport(), MAX_UDP, reply.as_deref()) {
            prop_assert!(false, "{rule}");
        }
        prop_assert!(reply.is_some(), "a query always gets a reply");
        let reply = reply.unwrap_or_default();
        // Size: UDP min(EDNS payload, 1232) (never below 512), 512 without EDNS.
        let cap = match (&q.opt, q.tcp) {
            (_, true) => 65_535,
            (None, false) => 512,
            (Some(o), false) => usize::from(o.payload.clamp(512, MAX_UDP)),
        };
        prop_assert!(reply.len() <= cap, "{} bytes over {cap}", reply.len());
        // The question, byte for byte, case included.
        let question = q.question();
        prop_assert_eq!(&reply[4..6], &[0u8, 1][..]);
        prop_assert_eq!(&reply[12..12 + question.len()], &question[..]);
        // ECS: a valid option is echoed (unless BADVERS) with scope <= source; an invalid
        // one gets FORMERR and no option.
        let rcode = reply[3] & 0xf;
        match q.opt.as_ref().and_then(|o| o.ecs.clone().map(|e| (o.version, e))) {
            Some((0, Ecs::Valid { family, source, .. })) if q.qtype != 41 => {
                let echo = reply_ecs(&reply);
                prop_assert!(echo.is_some(), "ECS not echoed (rcode {rcode})");
                let echo = echo.unwrap_or_default();
                prop_assert_eq!(u16::from_be_bytes([echo[0], echo[1]]), family);
                prop_assert_eq!(echo[2], source);
                prop_assert!(echo[3] <= source, "scope /{} over source /{source}", echo[3]);
            }
            Some((0, Ecs::Raw(data))) if meridian::dns::client_subnet::ClientSubnet::parse(&data).is_err() => {
                prop_assert_eq!(rcode, 1, "malformed ECS gets FORMERR");
                prop_assert!(reply_ecs(&reply).is_none());
            }
            _ => {}
        }
    }
}
