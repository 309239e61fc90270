//! Table tests for the geo policy, including the ECS scopes it reports and the trace.

use rustc_hash::FxHashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::geo::Continent;
use crate::health::HealthSnapshot;
use crate::policy::fixtures::evaluate;
use crate::policy::fixtures::*;
use crate::policy::geo::GeoMap;
use crate::policy::geo_map::Subdivision;
use crate::policy::service::{Policy, Service};
use crate::policy::{CidrMap, Outcome, PoolList, Want};

fn geo_service() -> Service {
    let list = |ids: &[usize]| PoolList::from(ids);
    let cidr = CidrMap::from_prefixes([
        ("10.3.0.128/25".parse().unwrap(), vec![0]),
        ("10.9.0.0/16".parse().unwrap(), vec![0, 2]),
        ("2001:db8:2:ff00::/56".parse().unwrap(), vec![0]),
    ])
    .unwrap();
    let map = GeoMap {
        cidr: Some(Arc::new(cidr)),
        asn: FxHashMap::from_iter([(64502, list(&[3]))]),
        subdivision: FxHashMap::from_iter([
            (Subdivision::parse("US-IL").unwrap(), list(&[1])),
            (Subdivision::parse("us-ca").unwrap(), list(&[2])),
        ]),
        country: FxHashMap::from_iter([(*b"CA", list(&[2, 1])), (*b"US", list(&[2]))]),
        continent: FxHashMap::from_iter([(Continent::EU, list(&[1, 2]))]),
        default: list(&[2]),
    };
    service(Policy::Geo(map), four_pools())
}

#[test]
fn geo_match_order_and_scopes() {
    let s = geo_service();
    let up = HealthSnapshot::empty();
    // (client, source prefix, want, answers, scope, outcome, GeoIP lookups)
    #[rustfmt::skip]
    let cases = [
        ("10.2.0.0", 24, Want::V4, vec!["203.0.113.10"], 20, Outcome::Primary, 1), // ASN beats US-CA
        ("10.3.0.0", 24, Want::V4, vec!["192.0.2.10", "192.0.2.11"], 24, Outcome::Primary, 1), // US-IL; /25 needed, capped
        ("10.3.0.5", 32, Want::V4, vec!["192.0.2.10", "192.0.2.11"], 25, Outcome::Primary, 1), // excludes 10.3.0.128/25
        ("10.3.0.200", 32, Want::V4, vec!["192.0.2.50"], 25, Outcome::Primary, 0), // CIDR: no GeoIP lookup
        ("10.9.1.0", 24, Want::V4, vec!["192.0.2.50"], 16, Outcome::Primary, 0),
        ("10.9.1.0", 24, Want::V6, vec!["2001:db8::20"], 16, Outcome::Primary, 0), // internal has no IPv6
        ("10.4.0.0", 24, Want::V4, vec!["198.51.100.10"], 16, Outcome::Primary, 1), // country CA
        ("10.1.2.0", 24, Want::V4, vec!["192.0.2.10", "192.0.2.11"], 16, Outcome::Primary, 1), // continent EU
        ("10.5.0.0", 24, Want::V4, vec!["198.51.100.10"], 16, Outcome::Primary, 1), // default
        ("10.6.0.0", 24, Want::V4, vec!["198.51.100.10"], 16, Outcome::Primary, 1), // default
        ("10.200.0.0", 24, Want::V4, vec!["198.51.100.10"], 24, Outcome::Primary, 1), // unlocated
        ("0.0.0.0", 0, Want::V4, vec!["198.51.100.10"], 0, Outcome::Primary, 1),
        ("2001:db8:1::", 56, Want::V6, vec!["2001:db8::10"], 48, Outcome::Primary, 1),
        ("2001:db8:2:ff00::", 64, Want::V4, vec!["192.0.2.50"], 56, Outcome::Primary, 0),
        ("2001:db8:2:ff00::", 64, Want::V6, vec![], 56, Outcome::NoData, 0),
        ("2001:db8:2:fe00::", 56, Want::V6, vec!["2001:db8::20"], 56, Outcome::Primary, 1), // next to the /56
        ("::", 0, Want::V6, vec!["2001:db8::20"], 0, Outcome::Primary, 1),
    ];
    for (addr, prefix, want, expect, scope, outcome, lookups) in cases {
        let geo = world();
        let mut rng = StdRng::seed_from_u64(3);
        let d = evaluate(&s, want, &client(addr, prefix), &geo, &up, &mut rng, None);
        let what = format!("{addr}/{prefix} {want:?}");
        assert_eq!(texts(&d), expect, "{what}");
        assert_eq!((d.ecs_scope, d.outcome), (scope, outcome), "{what}");
        assert_eq!(geo.lookups.load(Ordering::Relaxed), lookups, "{what}");
    }
}

#[test]
fn geo_scope_does_not_change_when_health_changes_the_answer() {
    let s = geo_service();
    let c = client("10.4.7.0", 24);
    let before = run(&s, Want::V4, &c, &HealthSnapshot::empty());
    let after = run(&s, Want::V4, &c, &down(&["198.51.100.10"]));
    assert_eq!(texts(&after), ["192.0.2.10", "192.0.2.11"]);
    assert_eq!(after.outcome, Outcome::Failover);
    assert_eq!((before.ecs_scope, after.ecs_scope), (16, 16));
    let all = down(&["198.51.100.10", "192.0.2.10", "192.0.2.11"]);
    let open = run(&s, Want::V4, &c, &all);
    assert_eq!(
        (texts(&open), open.outcome, open.ecs_scope),
        (vec!["198.51.100.10".to_owned()], Outcome::FailOpen, 16)
    );
}

#[test]
fn explain_trace_reads_well() {
    let (d, text) = explain(
        &geo_service(),
        Want::V4,
        &client("10.4.7.0", 24),
        &down(&["198.51.100.10"]),
    );
    assert_eq!(d.outcome, Outcome::Failover);
    for line in [
        "query www.example.com. A from 10.4.7.0/24 (ECS), policy geo",
        "location: country CA continent NA subdivision ON coordinates 43.65,-79.38 AS64504 (database network /16)",
        "matched country CA -> pools [us, eu]",
        "pool us: 0/1 usable, needs 1 (Healthy pass) -> down",
        "pool eu: 2/2 usable, needs 1 (Healthy pass) -> up",
        "scope needs /16: the GeoIP database network",
        "ECS scope /16 (needed /16, source prefix /24)",
        "decision Failover: 2 answer(s), ttl 30",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

#[test]
fn explain_shows_only_the_scope_inputs_that_set_the_scope() {
    // 10.4.7.0 matches no CIDR entry; excluding the nearest entries needs a short prefix,
    // which the GeoIP network (/16) supersedes: that line would explain nothing.
    let (d, text) = explain(
        &geo_service(),
        Want::V4,
        &client("10.4.7.0", 24),
        &HealthSnapshot::empty(),
    );
    assert_eq!(d.ecs_scope, 16);
    assert!(!text.contains("no CIDR entry matched"), "{text}");
    let scope_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("scope needs"))
        .collect();
    assert_eq!(scope_lines, ["scope needs /16: the GeoIP database network"]);

    // With only a CIDR entry and a default, the nearest entry alone sets the scope: shown.
    let cidr = CidrMap::from_prefixes([("203.0.113.0/26".parse().unwrap(), vec![0])]).unwrap();
    let map = GeoMap {
        cidr: Some(Arc::new(cidr)),
        default: PoolList::from(&[2][..]),
        ..GeoMap::default()
    };
    let s = service(Policy::Geo(map), four_pools());
    let (d, text) = explain(
        &s,
        Want::V4,
        &client("127.0.0.1", 32),
        &HealthSnapshot::empty(),
    );
    assert_eq!(d.ecs_scope, 1);
    assert!(
        text.contains("scope needs /1: no CIDR entry matched; the nearest entries are excluded"),
        "{text}"
    );
}
