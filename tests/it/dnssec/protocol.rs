//! Protocol behaviour with DO=1: RRSIGs only then, DNSKEY at the apex, compact denial, the
//! CO flag, NXNAME, TC over UDP and the full answer over TCP, DO=0 replies unchanged.

use std::sync::atomic::Ordering;
use std::time::Duration;

use hickory_proto::dnssec::rdata::DNSSECRData;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use meridian::dnssec::Algorithm;

use super::{ask, dnskeys, has_rrsig, over_tcp, over_udp, rrsets, verify, world};
use crate::support::dns::udp_raw;
use crate::support::wait::eventually;

fn nsec_types(m: &Message, owner: &str) -> Vec<RecordType> {
    m.authorities
        .iter()
        .find_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::NSEC(n)) if r.name == Name::from_ascii(owner).unwrap() => {
                assert_eq!(
                    n.next_domain_name(),
                    &Name::from_ascii(owner)
                        .unwrap()
                        .prepend_label(&b"\0"[..])
                        .unwrap(),
                    "next name is \\000.<name>"
                );
                Some(n.type_bit_maps().collect())
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no NSEC at {owner}: {m:?}"))
}

#[tokio::test]
async fn rrsigs_only_with_do_and_dnskey_at_the_apex() {
    let w = world(true, Algorithm::EcdsaP256Sha256).await;
    let keys = dnskeys(&w, "example.test.").await;
    assert_eq!(keys.len(), 1);
    assert!(keys[0].secure_entry_point() && keys[0].zone_key());
    for (name, qtype) in [
        ("www.example.test.", RecordType::A),
        ("example.test.", RecordType::DNSKEY),
        ("example.test.", RecordType::CDS),
        ("fo.steer.test.", RecordType::A),
        ("nope.example.test.", RecordType::A),
    ] {
        let plain = over_udp(&w, &ask(name, qtype, false, false, None)).await;
        assert!(!has_rrsig(&plain), "{name} {qtype}: no RRSIG with DO=0");
        for reply in [
            over_udp(&w, &ask(name, qtype, true, false, None)).await,
            over_tcp(&w, &ask(name, qtype, true, false, None)).await,
        ] {
            assert!(has_rrsig(&reply), "{name} {qtype}");
            let keys = if name.ends_with("steer.test.") {
                dnskeys(&w, "steer.test.").await
            } else {
                keys.clone()
            };
            let signed = verify(&[&reply.answers, &reply.authorities], &keys);
            for set in rrsets(&reply.answers)
                .into_iter()
                .chain(rrsets(&reply.authorities))
            {
                assert!(signed.contains(&set), "{name} {qtype}: {set:?} unsigned");
            }
        }
    }
    // A tampered answer does not verify: the check is real.
    let mut tampered = over_udp(
        &w,
        &ask("www.example.test.", RecordType::A, true, false, None),
    )
    .await;
    if let RData::A(a) = &mut tampered.answers[0].data {
        a.0 = std::net::Ipv4Addr::new(192, 0, 2, 254);
    }
    let keys_now = keys.clone();
    let failed = std::panic::catch_unwind(move || verify(&[&tampered.answers], &keys_now));
    assert!(failed.is_err(), "a changed address must fail verification");
    let dnskey = over_udp(
        &w,
        &ask("example.test.", RecordType::DNSKEY, true, false, None),
    )
    .await;
    assert_eq!(
        dnskey
            .answers
            .iter()
            .filter(|r| r.record_type() == RecordType::RRSIG)
            .count(),
        1
    );
}

#[tokio::test]
async fn compact_denial_nxdomain_nodata_co_flag_and_nxname() {
    let w = world(true, Algorithm::Ed25519).await;
    let keys = dnskeys(&w, "example.test.").await;
    // NXDOMAIN becomes NOERROR with an NSEC at the name: NSEC RRSIG NXNAME.
    let nx = over_udp(
        &w,
        &ask("nope.example.test.", RecordType::A, true, false, None),
    )
    .await;
    assert_eq!(nx.metadata.response_code, ResponseCode::NoError);
    assert!(nx.answers.is_empty());
    let types = nsec_types(&nx, "nope.example.test.");
    assert_eq!(
        types,
        [
            RecordType::RRSIG,
            RecordType::NSEC,
            RecordType::Unknown(128)
        ]
    );
    let signed = verify(&[&nx.authorities], &keys);
    assert!(signed.contains(&("example.test.".into(), RecordType::SOA)));
    assert!(signed.contains(&("nope.example.test.".into(), RecordType::NSEC)));
    // The CO flag restores NXDOMAIN and is echoed.
    let co = over_udp(
        &w,
        &ask("nope.example.test.", RecordType::A, true, true, None),
    )
    .await;
    assert_eq!(co.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(co.edns.as_ref().unwrap().flags().z & 0x4000, 0x4000);
    let no_co = over_udp(
        &w,
        &ask("nope.example.test.", RecordType::A, true, false, None),
    )
    .await;
    assert_eq!(no_co.edns.as_ref().unwrap().flags().z & 0x4000, 0);
    // Without DO, NXDOMAIN as ever.
    let plain = over_udp(
        &w,
        &ask("nope.example.test.", RecordType::A, false, false, None),
    )
    .await;
    assert_eq!(plain.metadata.response_code, ResponseCode::NXDomain);
    // NODATA: the types that exist at the name, never the one asked.
    let nodata = over_udp(
        &w,
        &ask("www.example.test.", RecordType::TXT, true, false, None),
    )
    .await;
    assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
    let types = nsec_types(&nodata, "www.example.test.");
    assert!(
        types.contains(&RecordType::A) && !types.contains(&RecordType::TXT),
        "{types:?}"
    );
    verify(&[&nodata.authorities], &keys);
    // A service name: the types it answers.
    let service = over_udp(
        &w,
        &ask("fo.steer.test.", RecordType::MX, true, false, None),
    )
    .await;
    let types = nsec_types(&service, "fo.steer.test.");
    assert!(types.contains(&RecordType::A), "{types:?}");
    // An empty non-terminal: only RRSIG and NSEC.
    let ent = over_udp(
        &w,
        &ask("b.deep.example.test.", RecordType::A, true, false, None),
    )
    .await;
    assert_eq!(
        nsec_types(&ent, "b.deep.example.test."),
        [RecordType::RRSIG, RecordType::NSEC]
    );
    // Type NXNAME is FORMERR.
    let nxname = over_udp(
        &w,
        &ask(
            "www.example.test.",
            RecordType::Unknown(128),
            true,
            false,
            None,
        ),
    )
    .await;
    assert_eq!(nxname.metadata.response_code, ResponseCode::FormErr);
}

#[tokio::test]
async fn referrals_prove_no_ds_and_wildcards_carry_the_next_closer_proof() {
    let w = world(true, Algorithm::EcdsaP256Sha256).await;
    let keys = dnskeys(&w, "example.test.").await;
    let referral = over_udp(
        &w,
        &ask("www.sub.example.test.", RecordType::A, true, false, None),
    )
    .await;
    assert!(!referral.metadata.authoritative);
    let types = nsec_types(&referral, "sub.example.test.");
    assert_eq!(types, [RecordType::NS, RecordType::RRSIG, RecordType::NSEC]);
    let signed = verify(&[&referral.authorities], &keys);
    assert!(
        !signed.iter().any(|(_, t)| *t == RecordType::NS),
        "NS at a cut is not signed"
    );
    // *.apps: labels field of the wildcard, and an NSEC covering the next closer name.
    let wild = over_udp(
        &w,
        &ask("x.y.apps.example.test.", RecordType::A, true, false, None),
    )
    .await;
    let sig = wild
        .answers
        .iter()
        .find_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::RRSIG(s)) => Some(s.input().num_labels),
            _ => None,
        })
        .unwrap();
    assert_eq!(sig, 3, "labels of *.apps.example.test");
    verify(&[&wild.answers, &wild.authorities], &keys);
    assert!(
        wild.authorities
            .iter()
            .any(|r| r.record_type() == RecordType::NSEC)
    );
}

#[tokio::test]
async fn a_signed_answer_too_big_for_udp_is_truncated_and_whole_over_tcp() {
    let w = world(true, Algorithm::EcdsaP256Sha256).await;
    let keys = dnskeys(&w, "example.test.").await;
    // `big`: 600 bytes of TXT fit 1232 unsigned; with its RRSIG and DO they still fit.
    // `huge`: 1600 bytes: TC over UDP, signed and whole over TCP.
    let m = ask("huge.example.test.", RecordType::TXT, true, false, None);
    let over = over_udp(&w, &m).await;
    assert!(over.metadata.truncation);
    assert!(over.answers.is_empty());
    let whole = over_tcp(&w, &m).await;
    assert!(!whole.metadata.truncation);
    let signed = verify(&[&whole.answers], &keys);
    assert_eq!(signed, [("huge.example.test.".into(), RecordType::TXT)]);
    let fits = over_udp(
        &w,
        &ask("big.example.test.", RecordType::TXT, true, false, None),
    )
    .await;
    assert!(!fits.metadata.truncation);
    verify(&[&fits.answers], &keys);
}

/// The raw bytes of a query (ID fixed), with EDNS or not.
fn raw(name: &str, qtype: RecordType, edns: bool, ecs: Option<&str>) -> Vec<u8> {
    let m = if edns {
        ask(name, qtype, false, false, ecs)
    } else {
        crate::support::dns::query(name, qtype)
    };
    m.to_vec().unwrap()
}

#[tokio::test]
async fn do0_replies_are_byte_for_byte_those_of_an_unsigned_zone() {
    let signed = world(true, Algorithm::EcdsaP256Sha256).await;
    let plain = world(false, Algorithm::EcdsaP256Sha256).await;
    let questions = [
        ("www.example.test.", RecordType::A, None),
        ("WwW.Example.TEST.", RecordType::AAAA, None),
        ("example.test.", RecordType::NS, None),
        ("example.test.", RecordType::SOA, None),
        ("example.test.", RecordType::ANY, None),
        ("nope.example.test.", RecordType::A, None),
        ("www.example.test.", RecordType::TXT, None),
        ("x.apps.example.test.", RecordType::A, None),
        ("www.sub.example.test.", RecordType::A, None),
        ("_sip._tcp.example.test.", RecordType::SRV, None),
        ("alias.example.test.", RecordType::A, None),
        ("huge.example.test.", RecordType::TXT, None),
        ("fo.steer.test.", RecordType::A, None),
        ("geo.steer.test.", RecordType::A, Some("198.51.100.0/24")),
        ("geo.steer.test.", RecordType::AAAA, Some("203.0.113.5/32")),
        ("cdn.steer.test.", RecordType::A, None),
        ("nope.steer.test.", RecordType::MX, None),
    ];
    for (name, qtype, ecs) in questions {
        for edns in [false, true] {
            let q = raw(name, qtype, edns, ecs);
            // Twice each: the second reply may come from a socket thread's remembered replies.
            for _ in 0..2 {
                let a = udp_raw(signed.server.udp_addrs[0], &q).await.unwrap();
                let b = udp_raw(plain.server.udp_addrs[0], &q).await.unwrap();
                assert_eq!(a, b, "{name} {qtype} edns={edns}");
            }
        }
    }
}

#[tokio::test]
async fn steered_answers_are_signed_after_a_health_change() {
    let w = world(true, Algorithm::EcdsaP256Sha256).await;
    let keys = dnskeys(&w, "steer.test.").await;
    let m = ask("cdn.steer.test.", RecordType::A, true, false, None);
    let before = over_udp(&w, &m).await;
    verify(&[&before.answers], &keys);
    // cdn-a (probed at US_PROBE, the second backend) goes down: failover to cdn-b.
    w.up[1].store(false, Ordering::Relaxed);
    eventually("failover moves", Duration::from_secs(10), || async {
        over_udp(&w, &m).await.answers != before.answers
    })
    .await;
    let after = over_udp(&w, &m).await;
    let signed = verify(&[&after.answers, &after.authorities], &keys);
    assert!(!signed.is_empty(), "{after:?}");
}
