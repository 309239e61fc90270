//! The chain of trust end to end: Unbound validates every kind of Meridian answer from the local root's trust anchor (AD=1), a key the parent does not vouch for is bogus (SERVFAIL), and delv agrees.

use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

use super::chain::{BOGUS, TAMPERED, delv};
use super::lab::{Lab, ORIGIN, TTL, signed_lab};
use super::{DETECT, ttl_window};
use crate::support::{addrs, ip};

fn name(label: &str) -> String {
    if label == "@" {
        format!("{ORIGIN}.")
    } else {
        format!("{label}.{ORIGIN}.")
    }
}

/// Validated by Unbound (AD=1) with `rcode`, the signatures passed on to a DO=1 client.
fn assert_secure(lab: &Lab, reply: &Message, rcode: ResponseCode, what: &str) {
    assert_eq!(
        reply.metadata.response_code,
        rcode,
        "{what}: {reply:?}\n{}",
        lab.logs()
    );
    assert!(
        reply.metadata.authentic_data,
        "{what}: not validated (AD=0): {reply:?}\n{}",
        lab.logs()
    );
    let signed = reply
        .answers
        .iter()
        .chain(&reply.authorities)
        .any(|r| r.record_type() == RecordType::RRSIG);
    assert!(signed, "{what}: no RRSIG passed on: {reply:?}");
}

fn has(reply: &Message, qtype: RecordType) -> bool {
    reply.answers.iter().any(|r| r.record_type() == qtype)
}

#[tokio::test]
async fn unbound_validates_every_answer_kind_as_secure() {
    let Some(lab) = signed_lab().await else {
        return;
    };
    // (name, type, client ECS, addresses wanted: empty = any, or none for negative answers)
    let positive: [(&str, RecordType, Option<&str>, &[&str]); 10] = [
        ("www", RecordType::A, None, &["192.0.2.80"]),
        ("x1.apps", RecordType::A, None, &["192.0.2.81"]), // wildcard
        (
            "geo",
            RecordType::A,
            Some("198.51.100.0/24"),
            &["198.51.100.10"],
        ), // DE -> eu
        (
            "geo",
            RecordType::A,
            Some("203.0.113.0/25"),
            &["203.0.113.10"],
        ), // JP -> ap
        ("geo", RecordType::A, Some("8.8.8.0/24"), &["192.0.2.10"]), // US -> us
        ("geo", RecordType::A, None, &[]),
        ("weighted", RecordType::A, Some("8.8.8.0/24"), &[]),
        ("login", RecordType::A, None, &["198.51.100.10"]), // failover: eu first
        ("@", RecordType::SOA, None, &[]),
        ("@", RecordType::NS, None, &[]),
    ];
    for (label, qtype, ecs, want) in positive {
        let what = format!("{label} {qtype} ecs {ecs:?}");
        let reply = lab.resolve_signed(&name(label), qtype, ecs, false).await;
        assert_secure(&lab, &reply, ResponseCode::NoError, &what);
        assert!(has(&reply, qtype), "{what}: {reply:?}");
        if !want.is_empty() {
            let want: Vec<_> = want.iter().map(|a| ip(a)).collect();
            assert_eq!(addrs(&reply), want, "{what}");
        }
    }
    let dnskey = lab
        .resolve_signed(&name("@"), RecordType::DNSKEY, None, false)
        .await;
    assert_secure(&lab, &dnskey, ResponseCode::NoError, "apex DNSKEY");
    assert!(has(&dnskey, RecordType::DNSKEY), "{dnskey:?}");
    // A CNAME service: the CNAME and the in-zone A it leads to, both validated.
    let edge = lab
        .resolve_signed(&name("edge"), RecordType::A, None, false)
        .await;
    assert_secure(&lab, &edge, ResponseCode::NoError, "CNAME service");
    let cname = edge.answers.iter().find_map(|r| match &r.data {
        RData::CNAME(c) => Some(c.0.to_ascii()),
        _ => None,
    });
    assert_eq!(cname.as_deref(), Some(name("www").as_str()), "{edge:?}");
    assert_eq!(addrs(&edge), vec![ip("192.0.2.80")], "{edge:?}");
    // Compact denial: a nonexistent name is a secure NODATA at the name (RFC 9824), and so
    // is a type the name does not have.
    for (label, qtype) in [("nope", RecordType::A), ("www", RecordType::TXT)] {
        let what = format!("{label} {qtype} (denial)");
        let reply = lab.resolve_signed(&name(label), qtype, None, false).await;
        assert_secure(&lab, &reply, ResponseCode::NoError, &what);
        assert!(reply.answers.is_empty(), "{what}: {reply:?}");
        assert!(
            reply
                .authorities
                .iter()
                .any(|r| r.record_type() == RecordType::NSEC),
            "{what}: {reply:?}"
        );
    }
    failover_stays_secure_across_a_health_change(&lab).await;
    lab.shutdown().await;
}

/// eu goes down: the resolver moves to us once its cached answer expires, still validated.
async fn failover_stays_secure_across_a_health_change(lab: &Lab) {
    Lab::set_up(&lab.eu, false);
    let (_, ttl_bound) = ttl_window();
    let bound = ttl_bound + DETECT;
    let start = Instant::now();
    loop {
        let reply = lab
            .resolve_signed(&name("login"), RecordType::A, None, false)
            .await;
        if addrs(&reply) == vec![ip("192.0.2.10")] {
            assert_secure(lab, &reply, ResponseCode::NoError, "failover after eu fell");
            println!("failover moved, validated, after {:?}", start.elapsed());
            break;
        }
        assert!(
            start.elapsed() < bound,
            "no failover within {bound:?} (TTL {TTL} s): {reply:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Lab::set_up(&lab.eu, true);
}

#[tokio::test]
async fn keys_the_parent_does_not_vouch_for_are_bogus_and_delv_agrees() {
    let Some(lab) = signed_lab().await else {
        return;
    };
    // Unpublished: the parent's DS is another key's. Tampered: the parent's DS is the digest
    // of the zone's DNSKEY with its first character changed.
    for zone in [BOGUS, TAMPERED] {
        let bogus = format!("www.{zone}.");
        let reply = lab.resolve_signed(&bogus, RecordType::A, None, false).await;
        assert_eq!(
            reply.metadata.response_code,
            ResponseCode::ServFail,
            "{zone}: signed with a key the parent's DS does not match: {reply:?}\n{}",
            lab.logs()
        );
        // With checking disabled the same data comes back: validation is what failed.
        let unchecked = lab.resolve_signed(&bogus, RecordType::A, None, true).await;
        assert_eq!(unchecked.metadata.response_code, ResponseCode::NoError);
        assert!(!unchecked.metadata.authentic_data);
        assert_eq!(addrs(&unchecked), vec![ip("192.0.2.90")], "{unchecked:?}");
        assert!(
            has(&unchecked, RecordType::RRSIG),
            "Meridian signed it: {unchecked:?}"
        );
        let (valid, out) = delv(lab.dir(), &bogus, "A");
        assert!(!valid, "delv must not validate {bogus}:\n{out}");
    }
    // delv validates by itself from the same anchor.
    for (label, qtype) in [("www", "A"), ("geo", "A"), ("@", "DNSKEY"), ("edge", "A")] {
        let (valid, out) = delv(lab.dir(), &name(label), qtype);
        assert!(valid, "delv {label} {qtype}:\n{out}");
    }
    lab.shutdown().await;
}
