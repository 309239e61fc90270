//! Neighbour estimates in the latency policy: steering, explain, and the property tests (own measurements win, no measurements = great-circle, scopes never cover a differently answered measured network).

use std::sync::Arc;

use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::super::fixtures::*;
use super::super::latency_build::build;
use super::super::rtt::LatencyView;
use super::super::service::{Policy, Service};
use super::super::{Client, Decision, Inputs, Trace, Want, evaluate_with};
use super::*;
use crate::health::HealthSnapshot;
use crate::latency::{Aggregates, LatencyTable, TableConfig};

const NOW: u64 = 1_800_000_000;
const DCS: [&str; 3] = ["fra", "iad", "sin"];

fn svc(min_samples: u32) -> Service {
    let mut p = LatencyPolicy::new(vec![1, 2, 3]);
    p.min_samples = min_samples;
    service(Policy::Latency(p), four_pools())
}

/// (network, datacenter, RTT, samples)
fn table(rows: &[(String, &str, f64, u32)]) -> LatencyTable {
    let mut t = LatencyTable::new(TableConfig::default());
    for (net, dc, rtt, samples) in rows {
        let key = t.prefixes().key(net.parse().unwrap());
        t.record(key, dc, *rtt, *samples, NOW - 60, NOW).unwrap();
    }
    t
}

/// `t` with aggregates built from itself (the fixture datacenters' coordinates).
fn with_neighbours(mut t: LatencyTable) -> LatencyTable {
    let all = datacenters();
    let coords: Vec<Option<(f64, f64)>> = t
        .datacenters()
        .iter()
        .map(|n| all.iter().find(|d| d.name == *n).map(|d| d.coordinates))
        .collect();
    let a = build(&t, &world(), &coords, NOW);
    t.set_aggregates(Arc::new(a));
    t
}

fn decide(s: &Service, c: &Client, t: &LatencyTable, trace: Option<&mut Trace>) -> Decision {
    let geo = world();
    let inputs = Inputs {
        geo: &geo,
        health: &HealthSnapshot::empty(),
        latency: LatencyView { table: t, now: NOW },
        load: crate::load::LoadSnapshot::none(),
    };
    evaluate_with(
        s,
        Want::V4,
        c,
        &inputs,
        &mut StdRng::seed_from_u64(3),
        trace,
    )
}

fn detoured(nets: &[&str]) -> Vec<(String, &'static str, f64, u32)> {
    let mut rows = Vec::new();
    for n in nets {
        for (dc, rtt) in [("fra", 150.0), ("iad", 90.0), ("sin", 250.0)] {
            rows.push(((*n).to_string(), dc, rtt, 10));
        }
    }
    rows
}

#[test]
fn measured_neighbours_of_the_same_as_steer_an_unmeasured_network() {
    let s = svc(1);
    // Two measured Paris networks of AS64501 reach Frankfurt through a detour.
    let t = with_neighbours(table(&detoured(&["10.1.1.0", "10.1.2.0"])));
    let mut trace = Trace::new();
    let d = decide(&s, &client("10.1.3.0", 24), &t, Some(&mut trace));
    let text = trace.to_string();
    assert_eq!(texts(&d), ["198.51.100.10"], "{text}");
    assert_eq!(d.rtt_source, Some(RttSource::AsnCountry));
    assert_eq!(
        d.ecs_scope, 24,
        "the table's network, not the /16 GeoIP network"
    );
    assert!(
        text.contains("datacenter iad: 90.0 ms estimated from 2 measured network(s) of AS64501 in FR (asn_country; 20 samples, age 60 s)"),
        "{text}"
    );
    assert!(
        text.contains(
            "(asn_country; 20 samples, age 60 s): residual -7.8 ms over 6186 km great-circle"
        ),
        "{text}"
    );
    assert!(text.contains("level asn_country"), "{text}");
    // Without the aggregates it is today's great-circle answer: Frankfurt.
    let plain = table(&detoured(&["10.1.1.0", "10.1.2.0"]));
    let d = decide(&s, &client("10.1.3.0", 24), &plain, None);
    assert_eq!(texts(&d), ["192.0.2.10", "192.0.2.11"]);
    assert_eq!(d.rtt_source, Some(RttSource::Estimated));
}

#[test]
fn a_network_in_another_as_falls_back_to_wider_levels_or_great_circle() {
    let s = svc(1);
    // Three measured Toronto networks (AS64504): a /16 and an AS group, country CA.
    let t = with_neighbours(table(&detoured(&["10.4.1.0", "10.4.2.0", "10.4.3.0"])));
    let d = decide(&s, &client("10.4.200.0", 24), &t, None);
    assert_eq!(d.rtt_source, Some(RttSource::AsnCountry));
    // Singapore's own network: nothing measured near it: great-circle.
    let d = decide(&s, &client("10.5.0.0", 24), &t, None);
    assert_eq!(d.rtt_source, Some(RttSource::Estimated));
    assert_eq!(texts(&d), ["203.0.113.10"]);
}

/// Random measurements of networks in 10.1/16 (Paris) and 10.4/16 (Toronto).
fn rows() -> impl Strategy<Value = Vec<(String, &'static str, f64, u32)>> {
    let row = (
        prop::sample::select(vec![1u8, 4]),
        0u8..24,
        prop::sample::select(DCS.to_vec()),
        1.0f64..300.0,
        1u32..30,
    );
    prop::collection::vec(row, 0..60).prop_map(|v| {
        v.into_iter()
            .map(|(b, c, dc, rtt, n)| (format!("10.{b}.{c}.0"), dc, rtt, n))
            .collect()
    })
}

fn clients() -> impl Strategy<Value = Vec<(u8, u8, u8)>> {
    prop::collection::vec(
        (prop::sample::select(vec![1u8, 4, 5]), 0u8..32, 0u8..=255),
        1..12,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn an_estimate_never_overrides_a_sufficient_own_measurement(
        rows in rows(), min in 1u32..20, cs in clients()
    ) {
        let s = svc(min);
        let plain = table(&rows);
        let t = with_neighbours(plain.clone());
        let mut only_own = plain.clone();
        only_own.set_aggregates(Aggregates::empty());
        for (b, c, h) in cs {
            let addr: std::net::IpAddr = format!("10.{b}.{c}.{h}").parse().unwrap();
            let key = t.prefixes().key(addr);
            let own = DCS.iter().filter(|dc| {
                let i = t.dc_index(dc);
                i.and_then(|i| t.rtt(key, i, NOW)).is_some_and(|r| r.samples >= min)
            }).count();
            if own < DCS.len() {
                continue;
            }
            let cl = client(&addr.to_string(), 32);
            let a = decide(&s, &cl, &t, None);
            let b = decide(&s, &cl, &only_own, None);
            prop_assert_eq!(texts(&a), texts(&b));
            prop_assert_eq!(a.rtt_source, Some(RttSource::Measured));
        }
    }

    #[test]
    fn without_measurements_it_is_exactly_great_circle(rows in rows(), cs in clients()) {
        let s = svc(1);
        let mut t = table(&rows);
        t.expire(NOW + 10 * 86_400);
        let t = with_neighbours(t);
        prop_assert!(t.aggregates().is_empty());
        let empty = LatencyTable::new(TableConfig::default());
        for (b, c, h) in cs {
            let cl = client(&format!("10.{b}.{c}.{h}"), 24);
            let a = decide(&s, &cl, &t, None);
            let e = decide(&s, &cl, &empty, None);
            prop_assert_eq!((texts(&a), a.ecs_scope, a.rtt_source), (texts(&e), e.ecs_scope, e.rtt_source));
        }
    }

    #[test]
    fn a_scope_never_covers_a_differently_answered_measured_network(
        rows in rows(), min in 1u32..5, cs in clients(), source in 24u8..=32
    ) {
        let s = svc(min);
        let t = with_neighbours(table(&rows));
        let measured: Vec<std::net::IpAddr> =
            t.keys().map(|k| t.prefixes().network(k).addr()).collect();
        for (b, c, h) in cs {
            let cl = client(&format!("10.{b}.{c}.{h}"), source);
            let d = decide(&s, &cl, &t, None);
            let scope = ipnet::IpNet::new(cl.addr, d.ecs_scope).unwrap().trunc();
            for m in measured.iter().filter(|m| scope.contains(*m)) {
                let other = decide(&s, &client(&m.to_string(), 24), &t, None);
                prop_assert_eq!(texts(&other), texts(&d), "scope {} covers {}", scope, m);
            }
        }
    }
}
