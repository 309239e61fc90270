//! Replies a UDP socket thread remembers (`dns::memo`) with DO=1, over one socket so that a
//! second query meets the first one's reply: the CO flag echoed, and signed steered answers
//! filed by what the decision chose: the records and signatures of a fresh reply (TCP),
//! this query's ECS scope, a health change answered with the new records, signed.

use std::sync::atomic::Ordering;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::{RData, RecordType};
use meridian::dnssec::Algorithm;

use super::{World, ask, dnskeys, has_rrsig, over_tcp, over_udp, verify, world_with};
use crate::support::wait::eventually;

/// Ed25519 signatures are deterministic: a fresh reply's are byte for byte a remembered one's.
async fn one_socket() -> World {
    world_with(true, Algorithm::Ed25519, |c| c.udp_sockets_per_address = 1).await
}

fn scope(m: &Message) -> Option<u8> {
    match m
        .edns
        .as_ref()
        .and_then(|e: &Edns| e.option(EdnsCode::Subnet))?
    {
        EdnsOption::Subnet(s) => Some(s.scope_prefix()),
        _ => None,
    }
}

/// The address or CNAME target of the first answer record.
fn first_answer(m: &Message) -> String {
    match m.answers.first().map(|r| &r.data) {
        Some(RData::A(a)) => a.to_string(),
        Some(RData::CNAME(c)) => c.0.to_ascii(),
        other => format!("{other:?}"),
    }
}

#[tokio::test]
async fn signed_steered_answers_are_remembered_per_decision_with_their_own_scope() {
    let w = one_socket().await;
    let keys = dnskeys(&w, "steer.test.").await;
    // (ECS, answer, scope): the first two share a decision, not a scope.
    let cases = [
        ("198.51.100.0/24", "198.51.100.10", 24),
        ("198.51.100.77/32", "198.51.100.10", 26),
        ("203.0.113.5/32", "203.0.113.10", 25),
        ("8.8.8.0/24", "192.0.2.10", 24),
    ];
    for round in 0..3 {
        for (ecs, addr, want_scope) in cases {
            let m = ask("geo.steer.test.", RecordType::A, true, false, Some(ecs));
            let (udp, tcp) = (over_udp(&w, &m).await, over_tcp(&w, &m).await);
            let what = format!("{ecs} round {round}");
            assert_eq!(udp.metadata.response_code, ResponseCode::NoError, "{what}");
            assert_eq!(first_answer(&udp), addr, "{what}");
            assert_eq!(udp.answers, tcp.answers, "{what}: as written afresh");
            assert_eq!(udp.authorities, tcp.authorities, "{what}");
            assert_eq!(scope(&udp), Some(want_scope), "{what}: this query's scope");
            assert_eq!(scope(&tcp), Some(want_scope), "{what}");
            let signed = verify(&[&udp.answers], &keys);
            assert_eq!(
                signed,
                [("geo.steer.test.".into(), RecordType::A)],
                "{what}"
            );
        }
    }
    // A weighted draw: every answer carries its own set's signature.
    let m = ask("api.steer.test.", RecordType::A, true, false, None);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..40 {
        let reply = over_udp(&w, &m).await;
        assert_eq!(verify(&[&reply.answers], &keys).len(), 1, "{reply:?}");
        seen.insert(first_answer(&reply));
    }
    assert!(seen.len() > 1, "the draw varies: {seen:?}");
}

#[tokio::test]
async fn a_health_change_is_answered_with_the_new_records_signed() {
    let w = one_socket().await;
    let keys = dnskeys(&w, "steer.test.").await;
    let m = ask("cdn.steer.test.", RecordType::A, true, false, None);
    let answer = |reply: &Message| {
        verify(&[&reply.answers], &keys);
        first_answer(reply)
    };
    for _ in 0..3 {
        assert_eq!(answer(&over_udp(&w, &m).await), "edge.cdn-a.example.net.");
    }
    // cdn-a (probed at US_PROBE, the second backend) goes down: failover to cdn-b, and back.
    for (up, want) in [
        (false, "edge.cdn-b.example.net."),
        (true, "edge.cdn-a.example.net."),
    ] {
        w.up[1].store(up, Ordering::Relaxed);
        eventually("failover moves", Duration::from_secs(10), || async {
            first_answer(&over_udp(&w, &m).await) == want
        })
        .await;
        for _ in 0..3 {
            let reply = over_udp(&w, &m).await;
            assert_eq!(answer(&reply), want);
            assert!(has_rrsig(&reply));
        }
    }
}

/// RFC 9824: a reply to a DO=1 query with CO echoes CO, also when the socket thread answers
/// it from its remembered replies.
#[tokio::test]
async fn the_co_flag_is_echoed_by_remembered_replies_too() {
    let w = one_socket().await;
    let cases = [
        ("www.example.test.", RecordType::A, ResponseCode::NoError),
        ("www.example.test.", RecordType::TXT, ResponseCode::NoError),
        ("nope.example.test.", RecordType::A, ResponseCode::NXDomain),
    ];
    for (name, qtype, rcode_co) in cases {
        for co in [true, false, true] {
            let m = ask(name, qtype, true, co, None);
            let rcode = if co { rcode_co } else { ResponseCode::NoError };
            let flag = if co { 0x4000 } else { 0 };
            for (i, reply) in [
                over_udp(&w, &m).await,
                over_udp(&w, &m).await,
                over_tcp(&w, &m).await,
            ]
            .into_iter()
            .enumerate()
            {
                let what = format!("{name} {qtype} co={co} reply {i}");
                assert_eq!(reply.metadata.response_code, rcode, "{what}");
                let z = reply.edns.as_ref().expect("OPT").flags().z;
                assert_eq!(z & 0x4000, flag, "{what}: CO echoed exactly when asked");
                assert!(has_rrsig(&reply), "{what}");
            }
        }
    }
}
