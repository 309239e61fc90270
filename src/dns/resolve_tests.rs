//! Table tests for `resolve()` over the good fixture zones.

use std::path::Path;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, RecordType};

use super::{Context, Resolved, resolve};
use crate::dns::qname::QName;
use crate::geo::Nowhere;
use crate::health::HealthSnapshot;
use crate::policy::Client;
use crate::zone::ZoneSet;
use rand::SeedableRng;

fn zones() -> ZoneSet {
    crate::config::load_zones(Path::new("tests/fixtures/good")).expect("good fixtures")
}

fn ask(zones: &ZoneSet, name: &str, qtype: RecordType) -> Resolved {
    let health = HealthSnapshot::empty();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut cx = Context {
        client: Client {
            addr: "127.0.0.1".parse().unwrap(),
            source_prefix: 32,
            from_ecs: false,
        },
        geo: &Nowhere,
        health: &health,
        latency: crate::policy::LatencyView::none().table,
        now: 0,
        load: crate::load::LoadSnapshot::none(),
        rng: &mut rng,
        trace: None,
    };
    let name = Name::from_ascii(name).unwrap();
    resolve(zones, &QName::from_name(&name), qtype, &mut cx).resolved(&name)
}

fn types(records: &[hickory_proto::rr::Record]) -> Vec<RecordType> {
    records
        .iter()
        .map(hickory_proto::rr::Record::record_type)
        .collect()
}

#[test]
fn static_answer_is_authoritative_and_keeps_question_case() {
    let z = zones();
    let a = ask(&z, "WwW.Example.TEST.", RecordType::A);
    assert_eq!(a.rcode, ResponseCode::NoError);
    assert!(a.authoritative);
    assert_eq!(a.answer.len(), 2);
    assert!(
        a.answer
            .iter()
            .all(|r| r.name.to_ascii() == "WwW.Example.TEST." && r.ttl == 60)
    );
}

#[test]
fn negatives_carry_soa_with_negative_ttl() {
    let z = zones();
    for (name, qtype, rcode) in [
        ("nope.example.test.", RecordType::A, ResponseCode::NXDomain),
        ("www.example.test.", RecordType::MX, ResponseCode::NoError),
        ("b.deep.example.test.", RecordType::A, ResponseCode::NoError),
        ("deep.example.test.", RecordType::TXT, ResponseCode::NoError),
    ] {
        let a = ask(&z, name, qtype);
        assert_eq!(a.rcode, rcode, "{name}");
        assert!(a.answer.is_empty(), "{name}");
        assert_eq!(types(&a.authority), vec![RecordType::SOA], "{name}");
        assert_eq!(a.authority[0].ttl, 60, "min(600, 60)");
    }
}

#[test]
fn outside_every_zone_is_refused() {
    let a = ask(&zones(), "example.org.", RecordType::A);
    assert_eq!(a.rcode, ResponseCode::Refused);
    assert!(!a.authoritative);
}

#[test]
fn longest_suffix_picks_the_child_zone() {
    let a = ask(&zones(), "www.child.example.test.", RecordType::A);
    assert_eq!(a.rcode, ResponseCode::NoError);
    assert!(matches!(a.answer[0].data, RData::A(ip) if ip.0.octets() == [192, 0, 2, 200]));
}

#[test]
fn cname_chains_are_followed_in_zone_only() {
    let z = zones();
    let a = ask(&z, "chain.example.test.", RecordType::A);
    assert_eq!(
        types(&a.answer),
        vec![
            RecordType::CNAME,
            RecordType::CNAME,
            RecordType::A,
            RecordType::A
        ]
    );
    let a = ask(&z, "out.example.test.", RecordType::A);
    assert_eq!(types(&a.answer), vec![RecordType::CNAME]);
    assert!(a.authority.is_empty());
    let a = ask(&z, "chain.example.test.", RecordType::CNAME);
    assert_eq!(types(&a.answer), vec![RecordType::CNAME]);
}

#[test]
fn cname_services_continue_in_zone_and_stop_outside() {
    let z = crate::config::load_zones(Path::new("tests/fixtures/cname_service")).unwrap();
    let target = |r: &hickory_proto::rr::Record| match &r.data {
        RData::CNAME(c) => c.0.to_ascii(),
        other => other.to_string(),
    };
    // Inside the zone: the service's CNAME, then the target's addresses.
    let a = ask(&z, "INSIDE.cname.test.", RecordType::A);
    assert_eq!(
        types(&a.answer),
        [RecordType::CNAME, RecordType::A, RecordType::A]
    );
    assert_eq!(a.answer[0].name.to_ascii(), "INSIDE.cname.test.");
    assert_eq!(target(&a.answer[0]), "Edge.cname.test.");
    assert_eq!(a.answer[0].ttl, 45);
    // Asked for the CNAME itself, the chain stops there.
    let a = ask(&z, "inside.cname.test.", RecordType::CNAME);
    assert_eq!(types(&a.answer), [RecordType::CNAME]);
    // Outside the zone: the CNAME alone, for the resolver to follow.
    let a = ask(&z, "outside.cname.test.", RecordType::A);
    assert_eq!(types(&a.answer), [RecordType::CNAME]);
    assert_eq!(target(&a.answer[0]), "edge.cdn.example.net.");
    // Reached through a static CNAME: the service's record is owned by its own name.
    let a = ask(&z, "via.cname.test.", RecordType::A);
    let owners: Vec<String> = a.answer.iter().map(|r| r.name.to_ascii()).collect();
    assert_eq!(
        owners,
        [
            "via.cname.test.",
            "inside.cname.test.",
            "edge.cname.test.",
            "edge.cname.test."
        ]
    );
}

#[test]
fn dangling_and_looping_cnames_end_cleanly() {
    let z = zones();
    let a = ask(&z, "dangling.example.test.", RecordType::A);
    assert_eq!(a.rcode, ResponseCode::NXDomain);
    assert_eq!(types(&a.answer), vec![RecordType::CNAME]);
    let a = ask(&z, "loop1.example.test.", RecordType::A);
    assert_eq!(a.rcode, ResponseCode::NoError);
    assert!(a.answer.len() <= super::MAX_CNAME_CHAIN + 1);
}

#[test]
fn wildcards_synthesize_and_existing_names_block_them() {
    let z = zones();
    let a = ask(&z, "x.y.apps.example.test.", RecordType::A);
    assert_eq!(a.answer[0].name.to_ascii(), "x.y.apps.example.test.");
    let a = ask(&z, "exists.apps.example.test.", RecordType::A);
    assert!(a.answer.is_empty(), "NODATA, not the wildcard");
    let a = ask(&z, "any.cn.example.test.", RecordType::A);
    assert_eq!(
        types(&a.answer),
        vec![RecordType::CNAME, RecordType::A, RecordType::A]
    );
    assert_eq!(a.answer[0].name.to_ascii(), "any.cn.example.test.");
}

#[test]
fn delegations_answer_with_referrals_and_glue() {
    let z = zones();
    for name in ["sub.example.test.", "a.b.sub.example.test."] {
        let a = ask(&z, name, RecordType::A);
        assert!(!a.authoritative, "{name}");
        assert!(a.is_referral());
        assert_eq!(types(&a.authority), vec![RecordType::NS, RecordType::NS]);
        assert_eq!(types(&a.additional), vec![RecordType::A]);
    }
    let ds = ask(&z, "sub.example.test.", RecordType::DS);
    assert!(ds.authoritative, "DS at the cut is answered by the parent");
    assert_eq!(types(&ds.authority), vec![RecordType::SOA]);
}

#[test]
fn apex_ns_and_mx_get_additional_addresses() {
    let z = zones();
    let a = ask(&z, "example.test.", RecordType::NS);
    assert_eq!(a.answer.len(), 2);
    assert_eq!(
        types(&a.additional),
        vec![RecordType::A, RecordType::A, RecordType::AAAA]
    );
    let a = ask(&z, "example.test.", RecordType::MX);
    assert_eq!(types(&a.additional), vec![RecordType::A]);
}

#[test]
fn any_returns_one_rrset_or_hinfo() {
    let z = zones();
    let a = ask(&z, "www.example.test.", RecordType::ANY);
    let first = a.answer[0].record_type();
    assert!(a.answer.iter().all(|r| r.record_type() == first));
    let a = ask(&z, "deep.example.test.", RecordType::ANY);
    assert!(a.answer.is_empty());
    assert_eq!(types(&a.authority), vec![RecordType::SOA]);
}

#[test]
fn transfers_are_refused() {
    let z = zones();
    for t in [RecordType::AXFR, RecordType::IXFR] {
        assert_eq!(ask(&z, "example.test.", t).rcode, ResponseCode::Refused);
    }
}

#[test]
fn apex_soa_is_answered() {
    let a = ask(&zones(), "example.test.", RecordType::SOA);
    assert_eq!(types(&a.answer), vec![RecordType::SOA]);
    assert_eq!(a.answer[0].ttl, 600);
    assert!(a.authority.is_empty());
}

#[test]
fn a_zone_without_cuts_finds_wildcards_and_nxdomain_below_its_apex() {
    let z = zones();
    let a = ask(&z, "X.w.child.example.test.", RecordType::A);
    assert_eq!(a.rcode, ResponseCode::NoError);
    assert_eq!(a.answer.len(), 1);
    assert_eq!(a.answer[0].name.to_ascii(), "X.w.child.example.test.");
    assert_eq!(a.answer[0].data, RData::A("192.0.2.201".parse().unwrap()));
    for name in ["x.child.example.test.", "x.y.child.example.test."] {
        let a = ask(&z, name, RecordType::A);
        assert_eq!(a.rcode, ResponseCode::NXDomain, "{name}");
        assert_eq!(types(&a.authority), vec![RecordType::SOA], "{name}");
    }
    let a = ask(&z, "w.child.example.test.", RecordType::A);
    assert_eq!(a.rcode, ResponseCode::NoError, "an empty non-terminal");
    assert!(a.answer.is_empty());
    let a = ask(&z, "www.child.example.test.", RecordType::A);
    assert_eq!(a.answer.len(), 1);
}
