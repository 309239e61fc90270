//! Table tests for the latency policy: measured ranking, ties and tolerance, fallback, scope, health.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::super::fixtures::*;
use super::super::rtt::LatencyView;
use super::super::service::{Policy, Service};
use super::super::{Client, Decision, Inputs, Outcome, Trace, Want, evaluate_with};
use super::*;
use crate::health::HealthSnapshot;
use crate::latency::{LatencyTable, TableConfig};

const NOW: u64 = 1_800_000_000;
const EU: [&str; 2] = ["192.0.2.10", "192.0.2.11"];
const US: [&str; 1] = ["198.51.100.10"];

fn latency(pools: Vec<usize>, tweak: impl FnOnce(&mut LatencyPolicy)) -> Service {
    let mut p = LatencyPolicy::new(pools);
    tweak(&mut p);
    service(Policy::Latency(p), four_pools())
}

fn table(rows: &[(&str, &str, f64, u32)]) -> LatencyTable {
    let mut t = LatencyTable::new(TableConfig {
        max_age_secs: 3600,
        ..TableConfig::default()
    });
    for &(addr, dc, rtt, samples) in rows {
        let key = t.prefixes().key(addr.parse().unwrap());
        t.record(key, dc, rtt, samples, NOW - 10, NOW).unwrap();
    }
    t
}

fn decide_with(
    s: &Service,
    want: Want,
    c: &Client,
    t: &LatencyTable,
    health: &HealthSnapshot,
    trace: Option<&mut Trace>,
) -> (Decision, usize) {
    let geo = world();
    let inputs = Inputs {
        geo: &geo,
        health,
        latency: LatencyView { table: t, now: NOW },
        load: crate::load::LoadSnapshot::none(),
    };
    let d = evaluate_with(s, want, c, &inputs, &mut StdRng::seed_from_u64(3), trace);
    (d, geo.lookups.load(Ordering::Relaxed))
}

fn decide(s: &Service, c: &Client, t: &LatencyTable) -> Decision {
    decide_with(s, Want::V4, c, t, &HealthSnapshot::empty(), None).0
}

fn explained(s: &Service, c: &Client, t: &LatencyTable) -> (Decision, String) {
    let mut trace = Trace::new();
    let d = decide_with(
        s,
        Want::V4,
        c,
        t,
        &HealthSnapshot::empty(),
        Some(&mut trace),
    )
    .0;
    (d, trace.to_string())
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(ToString::to_string).collect()
}

#[test]
fn without_measurements_it_is_nearest_by_estimate() {
    let s = latency(vec![1, 2, 3], |_| {});
    let (d, text) = explained(
        &s,
        &client("10.1.0.0", 24),
        &LatencyTable::new(TableConfig::default()),
    );
    assert_eq!(
        (texts(&d), d.ecs_scope, d.outcome),
        (strs(&EU), 16, Outcome::Primary)
    );
    assert_eq!(d.rtt_source, Some(RttSource::Estimated));
    assert!(text.contains("0 datacenter(s) measured"), "{text}");
    assert!(
        text.contains("datacenter fra: 12.2 ms estimated from 478 km"),
        "{text}"
    );
    assert!(text.contains("steered by estimated RTT"), "{text}");
    // Chicago and Singapore too, like nearest.
    let empty = LatencyTable::new(TableConfig::default());
    assert_eq!(
        texts(&decide(&s, &client("10.3.0.0", 24), &empty)),
        strs(&US)
    );
    assert_eq!(
        texts(&decide(&s, &client("10.5.0.0", 24), &empty)),
        ["203.0.113.10"]
    );
}

#[test]
fn measured_rtt_beats_geography_and_needs_no_location() {
    let s = latency(vec![1, 2, 3], |_| {});
    let t = table(&[
        ("10.1.0.0", "fra", 80.0, 4),
        ("10.1.0.0", "iad", 20.0, 4),
        ("10.1.0.0", "sin", 200.0, 4),
    ]);
    let (d, lookups) = decide_with(
        &s,
        Want::V4,
        &client("10.1.0.0", 24),
        &t,
        &HealthSnapshot::empty(),
        None,
    );
    assert_eq!(
        (texts(&d), d.ecs_scope, d.outcome),
        (strs(&US), 24, Outcome::Primary)
    );
    assert_eq!(d.rtt_source, Some(RttSource::Measured));
    assert_eq!(lookups, 0, "every datacenter measured: no GeoIP lookup");
    let (_, text) = explained(&s, &client("10.1.0.77", 32), &t);
    assert!(
        text.contains("client network 10.1.0.0/24, 3 datacenter(s) measured"),
        "{text}"
    );
    assert!(
        text.contains("datacenter iad: 20.0 ms measured (4 samples, age 10 s)"),
        "{text}"
    );
    assert!(
        text.contains("scope needs /24: the latency table's client network"),
        "{text}"
    );
    // The neighbouring /24 in the same GeoIP network is unmeasured: nearest by estimate.
    let d = decide(&s, &client("10.1.1.0", 24), &t);
    assert_eq!((texts(&d), d.ecs_scope), (strs(&EU), 24));
    assert_eq!(d.rtt_source, Some(RttSource::Estimated));
}

#[test]
fn partial_measurements_mix_with_estimates() {
    let s = latency(vec![1, 2, 3], |_| {});
    // Paris: iad is estimated at ≈ 98 ms, sin ≈ 165 ms.
    let t = table(&[("10.1.0.0", "fra", 80.0, 2)]);
    let d = decide(&s, &client("10.1.0.0", 24), &t);
    assert_eq!(
        (texts(&d), d.rtt_source),
        (strs(&EU), Some(RttSource::Measured))
    );
    let t = table(&[("10.1.0.0", "fra", 120.0, 2)]);
    let d = decide(&s, &client("10.1.0.0", 24), &t);
    assert_eq!(
        (texts(&d), d.rtt_source),
        (strs(&US), Some(RttSource::Estimated))
    );
    assert_eq!(d.ecs_scope, 24, "max of the table /24 and the GeoIP /16");
}

#[test]
fn near_ties_spread_by_network_hash_and_stay_stable() {
    let s = latency(vec![1, 2], |_| {});
    let mut rows = Vec::new();
    let addrs: Vec<String> = (0..64).map(|i| format!("10.1.{i}.0")).collect();
    for a in &addrs {
        rows.push((a.as_str(), "fra", 20.0, 1));
        rows.push((a.as_str(), "iad", 23.0, 1));
    }
    let t = table(&rows);
    let mut seen = HashSet::new();
    for a in &addrs {
        let first = decide(&s, &client(a, 24), &t);
        assert_eq!(decide(&s, &client(a, 24), &t), first, "stable for {a}");
        assert_eq!(first.ecs_scope, 24);
        seen.insert(texts(&first));
    }
    assert_eq!(seen.len(), 2, "ties spread over both datacenters");
    // Configuration order instead: always fra.
    let s = latency(vec![1, 2], |p| p.ties = Ties::Order);
    for a in &addrs {
        assert_eq!(texts(&decide(&s, &client(a, 24), &t)), strs(&EU));
    }
    // No tolerance: the lower RTT wins everywhere.
    let s = latency(vec![2, 1], |p| {
        p.tolerance_ms = 0.0;
        p.tolerance_percent = 0.0;
    });
    for a in &addrs {
        assert_eq!(texts(&decide(&s, &client(a, 24), &t)), strs(&EU));
    }
}

#[test]
fn relative_tolerance_scales_with_the_best_rtt() {
    let order = |fra: f64, iad: f64| {
        let s = latency(vec![2, 1], |p| {
            p.ties = Ties::Order;
            p.tolerance_ms = 1.0;
        });
        let t = table(&[("10.1.0.0", "fra", fra, 1), ("10.1.0.0", "iad", iad, 1)]);
        texts(&decide(&s, &client("10.1.0.0", 24), &t))
    };
    // iad is listed first, so it wins ties; 10 % of 100 ms = 10 ms.
    assert_eq!(order(100.0, 108.0), strs(&US));
    assert_eq!(order(100.0, 111.0), strs(&EU));
    // Below 10 ms the absolute 1 ms applies.
    assert_eq!(order(5.0, 5.9), strs(&US));
    assert_eq!(order(5.0, 6.5), strs(&EU));
}

#[test]
fn down_members_fail_over_in_rtt_order() {
    let s = latency(vec![1, 2, 3], |_| {});
    let t = table(&[
        ("10.5.0.0", "fra", 30.0, 1),
        ("10.5.0.0", "iad", 90.0, 1),
        ("10.5.0.0", "sin", 200.0, 1),
    ]);
    let health = down(&EU);
    let (d, _) = decide_with(&s, Want::V4, &client("10.5.0.0", 24), &t, &health, None);
    assert_eq!((texts(&d), d.outcome), (strs(&US), Outcome::Failover));
    assert_eq!(d.rtt_source, Some(RttSource::Measured));
    let health = down(&["192.0.2.10", "192.0.2.11", "198.51.100.10", "203.0.113.10"]);
    let (d, _) = decide_with(&s, Want::V4, &client("10.5.0.0", 24), &t, &health, None);
    assert_eq!((texts(&d), d.outcome), (strs(&EU), Outcome::FailOpen));
}

#[test]
fn too_few_samples_and_stale_measurements_are_not_used() {
    let t = table(&[("10.1.0.0", "iad", 1.0, 2)]);
    let s = latency(vec![1, 2], |p| p.min_samples = 3);
    assert_eq!(texts(&decide(&s, &client("10.1.0.0", 24), &t)), strs(&EU));
    let s = latency(vec![1, 2], |_| {});
    assert_eq!(texts(&decide(&s, &client("10.1.0.0", 24), &t)), strs(&US));
    let mut old = LatencyTable::new(TableConfig {
        max_age_secs: 60,
        ..TableConfig::default()
    });
    let key = old.prefixes().key("10.1.0.0".parse().unwrap());
    old.record(key, "iad", 1.0, 5, NOW - 61, NOW - 61).unwrap();
    let d = decide(&s, &client("10.1.0.0", 24), &old);
    assert_eq!(
        (texts(&d), d.rtt_source),
        (strs(&EU), Some(RttSource::Estimated))
    );
}

#[test]
fn scope_is_the_table_prefix_capped_by_the_source() {
    let s = latency(vec![1, 2], |_| {});
    let t = table(&[
        ("10.3.0.0", "fra", 10.0, 1),
        ("10.3.0.0", "iad", 90.0, 1),
        ("2001:db8:2::", "fra", 10.0, 1),
        ("2001:db8:2::", "iad", 90.0, 1),
    ]);
    let d = decide(&s, &client("10.3.0.0", 20), &t);
    assert_eq!((texts(&d), d.ecs_scope), (strs(&EU), 20));
    let (d, _) = decide_with(
        &s,
        Want::V6,
        &client("2001:db8:2::", 56),
        &t,
        &HealthSnapshot::empty(),
        None,
    );
    assert_eq!(
        (texts(&d), d.ecs_scope),
        (vec!["2001:db8::10".to_string()], 48)
    );
    // Unlocated and unmeasured: the whole source prefix, like nearest.
    let d = decide(&s, &client("10.200.0.0", 24), &t);
    assert_eq!(
        (d.ecs_scope, d.rtt_source),
        (24, Some(RttSource::Estimated))
    );
    // One candidate datacenter: nothing about the client matters.
    let one = latency(vec![1], |_| {});
    let d = decide(&one, &client("10.3.0.0", 24), &t);
    assert_eq!((texts(&d), d.ecs_scope, d.rtt_source), (strs(&EU), 0, None));
}

#[test]
fn estimate_formula_is_as_documented() {
    assert_eq!(estimate_rtt_ms(0.0), 5.0);
    assert!((estimate_rtt_ms(1000.0) - 20.0).abs() < 1e-9);
}

#[test]
fn scope_covers_every_address_that_gets_the_same_answer() {
    use rand::RngExt;
    let mut rng = StdRng::seed_from_u64(42);
    for case in 0..300 {
        let mut rows = Vec::new();
        let nets: Vec<String> = (0..6)
            .map(|_| format!("10.{}.{}.0", rng.random_range(1..7), rng.random_range(0..4)))
            .collect();
        for n in &nets {
            for dc in ["fra", "iad", "sin"] {
                if rng.random_bool(0.6) {
                    rows.push((n.as_str(), dc, rng.random_range(1.0..150.0), 1));
                }
            }
        }
        let t = table(&rows);
        let s = latency(vec![1, 2, 3], |p| {
            p.ties = if rng.random_bool(0.5) {
                Ties::Hash
            } else {
                Ties::Order
            };
            p.tolerance_ms = rng.random_range(0.0..30.0);
        });
        let c = client(
            &format!(
                "10.{}.{}.{}",
                rng.random_range(1..7),
                rng.random_range(0..4),
                rng.random_range(0..256)
            ),
            [16, 20, 24, 28, 32][rng.random_range(0..5)],
        );
        let d = decide(&s, &c, &t);
        assert!(d.ecs_scope <= c.source_prefix);
        if d.ecs_scope == c.source_prefix {
            continue;
        }
        for _ in 0..4 {
            let bits = u32::from(match c.addr {
                std::net::IpAddr::V4(a) => a,
                std::net::IpAddr::V6(_) => unreachable!(),
            });
            let keep = u32::MAX
                .checked_shl(32 - u32::from(d.ecs_scope))
                .unwrap_or(0);
            let other = (bits & keep) | (rng.random::<u32>() & !keep);
            let n = client(
                &std::net::Ipv4Addr::from(other).to_string(),
                c.source_prefix,
            );
            assert_eq!(
                texts(&decide(&s, &n, &t)),
                texts(&d),
                "case {case}: {c:?} scope {} vs {n:?}",
                d.ecs_scope
            );
        }
    }
}
