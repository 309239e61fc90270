//! Replies written from pre-encoded RRsets say exactly what `resolve()` answers as records:
//! every name of the example and fixture zones (plus a wildcard match and a missing name),
//! many query types, the question in mixed case, decoded and compared section by section.
//! Replies a UDP thread remembers (`dns::memo`) are byte for byte the replies written afresh.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
use hickory_proto::rr::{Name, Record, RecordType};
use meridian::dns::memo::{Filed, Memo, Stamp};
use meridian::dns::qname::QName;
use meridian::dns::resolve::{Context, resolve};
use meridian::dns::view::View;
use meridian::dns::{Handler, Snapshots, Transport};
use meridian::geo::Nowhere;
use meridian::health::HealthSnapshot;
use meridian::policy::{Client, LatencyView};
use meridian::zone::ZoneSet;
use meridian::zone::key::WireKey;
use rand::SeedableRng;

const QTYPES: [RecordType; 12] = [
    RecordType::A,
    RecordType::AAAA,
    RecordType::CNAME,
    RecordType::MX,
    RecordType::NS,
    RecordType::SOA,
    RecordType::TXT,
    RecordType::SRV,
    RecordType::CAA,
    RecordType::PTR,
    RecordType::DS,
    RecordType::ANY,
];

/// What a record says, case-insensitively, in a stable order.
fn normal(records: &[Record]) -> Vec<String> {
    let mut out: Vec<String> = records
        .iter()
        .map(|r| format!("{r}").to_ascii_lowercase())
        .collect();
    out.sort();
    out
}

/// Mixed case: every other letter upper.
fn mixed(name: &Name) -> Name {
    let text: String = name
        .to_ascii()
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i % 2 == 0 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect();
    Name::from_ascii(text).expect("same name")
}

fn packet(name: &Name, qtype: RecordType) -> Vec<u8> {
    let mut m = Message::new(1, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(name.clone(), qtype));
    let mut edns = Edns::new();
    edns.set_max_payload(4096);
    m.set_edns(edns);
    m.to_vec().expect("query encodes")
}

/// The names to ask: every name, a wildcard match and a missing name per zone; service
/// names are left out (their answers are random draws).
fn questions(zones: &ZoneSet) -> Vec<Name> {
    let mut out = Vec::new();
    for zone in zones.iter() {
        for name in zone.names() {
            if zone.node(name).is_some_and(|n| n.service.is_some()) {
                continue;
            }
            out.push(name.clone());
            if name.is_wildcard() {
                out.push(
                    Name::from_ascii("zz9")
                        .unwrap()
                        .append_domain(&name.base_name())
                        .unwrap(),
                );
            }
        }
        out.push(
            Name::from_ascii("no-such-name")
                .unwrap()
                .append_domain(&zone.origin)
                .unwrap(),
        );
    }
    out
}

fn handler_for(dir: &str) -> Handler {
    let zones = meridian::config::load_zones(Path::new(dir)).unwrap();
    Handler::new(Snapshots::fixed(zones, Arc::new(Nowhere), 0), 4096)
}

fn check(dir: &str) -> usize {
    let zones = meridian::config::load_zones(Path::new(dir)).expect("zones load");
    let health = HealthSnapshot::empty();
    let handler = handler_for(dir);
    let src: IpAddr = "127.0.0.1".parse().unwrap();
    let mut compared = 0;
    for name in questions(&zones) {
        for qname in [name.clone(), mixed(&name)] {
            for qtype in QTYPES {
                let reply = handler
                    .handle(&packet(&qname, qtype), src, Transport::Tcp)
                    .expect("a reply");
                let got = Message::from_vec(&reply).expect("reply parses");
                let mut rng = rand::rngs::StdRng::seed_from_u64(1);
                let mut cx = Context {
                    client: Client {
                        addr: src,
                        source_prefix: 32,
                        from_ecs: false,
                    },
                    geo: &Nowhere,
                    health: &health,
                    latency: LatencyView::none().table,
                    now: 0,
                    load: meridian::load::LoadSnapshot::none(),
                    rng: &mut rng,
                    trace: None,
                };
                let want =
                    resolve(&zones, &QName::from_name(&qname), qtype, &mut cx).resolved(&qname);
                let what = format!("{qname} {qtype} in {dir}");
                assert_eq!(got.response_code, want.rcode, "{what}");
                assert_eq!(normal(&got.answers), normal(&want.answer), "{what}");
                assert_eq!(normal(&got.authorities), normal(&want.authority), "{what}");
                assert_eq!(normal(&got.additionals), normal(&want.additional), "{what}");
                // The first answer is owned by the question and keeps the client's case.
                if let Some(first) = got.answers.first() {
                    assert_eq!(first.name.to_ascii(), qname.to_ascii(), "{what}");
                }
                compared += 1;
            }
        }
    }
    compared
}

#[test]
fn pre_encoded_replies_match_resolved_records() {
    let n = check("zones") + check("tests/fixtures/good") + check("tests/fixtures/cname_service");
    assert!(n > 500, "compared {n} replies");
}

/// The same question asked in ways a remembered reply must honour: case, ID, RD, no EDNS,
/// EDNS with a small payload and DO, ECS of either family.
fn variants(name: &Name, qtype: RecordType) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (i, qname) in [name.clone(), mixed(name)].into_iter().enumerate() {
        for edns in 0..4 {
            let mut m = Message::new(100 + i as u16 * 7 + edns, MessageType::Query, OpCode::Query);
            m.metadata.recursion_desired = edns % 2 == 0;
            m.add_query(Query::query(qname.clone(), qtype));
            if edns > 0 {
                let mut e = Edns::new();
                e.set_max_payload(if edns == 1 { 512 } else { 1232 });
                e.set_dnssec_ok(edns == 1);
                let subnet = match edns {
                    2 => Some("198.51.100.0/24"),
                    3 => Some("2001:db8:1234::/48"),
                    _ => None,
                };
                if let Some(s) = subnet {
                    let s: ClientSubnet = s.parse().unwrap();
                    e.options_mut().insert(EdnsOption::Subnet(s));
                }
                m.set_edns(e);
            }
            out.push(m.to_vec().expect("query encodes"));
        }
    }
    out
}

/// The reply through a UDP thread's view and memo.
fn remembered(handler: &Handler, view: &mut View<'_>, memo: &mut Memo, packet: &[u8]) -> Vec<u8> {
    let src: IpAddr = "127.0.0.1".parse().unwrap();
    let mut key = WireKey::empty();
    let parsed = Handler::parse(packet, &mut key);
    let mut out = Vec::new();
    assert!(handler.respond(
        view.load(),
        &parsed,
        src,
        Transport::Udp,
        &mut out,
        Some(memo)
    ));
    out
}

#[test]
fn remembered_replies_are_the_replies_written_afresh() {
    let src: IpAddr = "127.0.0.1".parse().unwrap();
    let mut hits = 0;
    for dir in ["zones", "tests/fixtures/good"] {
        let zones = meridian::config::load_zones(Path::new(dir)).expect("zones load");
        let handler = handler_for(dir);
        let mut view = handler.view();
        let mut memo = Memo::default();
        for name in questions(&zones) {
            for qtype in QTYPES {
                for packet in variants(&name, qtype) {
                    let fresh = handler
                        .handle(&packet, src, Transport::Udp)
                        .expect("a reply");
                    let first = remembered(&handler, &mut view, &mut memo, &packet);
                    let generation = view.load().generation;
                    let key = WireKey::new(&name);
                    let filed = Filed::new(Stamp::unsigned(generation), &key, qtype);
                    let kept = memo.get(&filed).is_some();
                    let again = remembered(&handler, &mut view, &mut memo, &packet);
                    let what = format!("{name} {qtype} in {dir}");
                    assert_eq!(first, fresh, "{what}");
                    assert_eq!(again, fresh, "{what}, remembered");
                    hits += usize::from(kept);
                }
            }
        }
        // Service names are decided per query and never remembered.
        for zone in zones.iter() {
            for name in zone.names() {
                if zone.node(name).is_none_or(|n| n.service.is_none()) {
                    continue;
                }
                for qtype in [RecordType::A, RecordType::AAAA] {
                    for packet in variants(name, qtype) {
                        remembered(&handler, &mut view, &mut memo, &packet);
                        let generation = view.load().generation;
                        let key = WireKey::new(name);
                        let filed = Filed::new(Stamp::unsigned(generation), &key, qtype);
                        assert!(memo.get(&filed).is_none());
                    }
                }
            }
        }
    }
    assert!(hits > 500, "only {hits} replies were remembered");
}

#[test]
fn a_new_zone_snapshot_is_answered_from_not_the_remembered_reply() {
    let handler = handler_for("zones");
    let mut view = handler.view();
    let mut memo = Memo::default();
    let name = Name::from_ascii("gslb.example.com.").unwrap();
    let packet = &variants(&name, RecordType::SOA)[0];
    for _ in 0..2 {
        let reply = Message::from_vec(&remembered(&handler, &mut view, &mut memo, packet)).unwrap();
        assert_eq!(reply.answers.len(), 1);
    }
    let other = meridian::config::load_zones(Path::new("tests/fixtures/good")).unwrap();
    handler.snapshots().zones.store(Arc::new(other));
    let reply = Message::from_vec(&remembered(&handler, &mut view, &mut memo, packet)).unwrap();
    assert_eq!(
        reply.response_code,
        hickory_proto::op::ResponseCode::Refused
    );
}
