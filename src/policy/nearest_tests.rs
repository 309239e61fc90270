//! Table tests for the nearest policy: ranking, bias, failover and scope.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::{EARTH_RADIUS_KM, biased_km, haversine_km};
use crate::health::HealthSnapshot;
use crate::policy::fixtures::evaluate;
use crate::policy::fixtures::*;
use crate::policy::service::{Policy, Service};
use crate::policy::{Outcome, Want};

fn nearest(pool_ids: Vec<usize>) -> Service {
    service(Policy::Nearest { pools: pool_ids }, four_pools())
}

#[test]
fn nearest_table() {
    let s = nearest(vec![1, 2, 3]);
    let up = HealthSnapshot::empty();
    #[rustfmt::skip]
    let cases = [
        ("10.1.0.0", 24, Want::V4, vec!["192.0.2.10", "192.0.2.11"], 16, Outcome::Primary), // Paris
        ("10.3.0.0", 24, Want::V4, vec!["198.51.100.10"], 24, Outcome::Primary), // Chicago
        ("10.5.0.0", 24, Want::V4, vec!["203.0.113.10"], 16, Outcome::Primary), // Singapore
        ("10.6.0.0", 24, Want::V4, vec!["192.0.2.10", "192.0.2.11"], 16, Outcome::Primary), // no coordinates
        ("10.200.0.0", 24, Want::V4, vec!["192.0.2.10", "192.0.2.11"], 24, Outcome::Primary), // unlocated
        ("2001:db8:2::", 56, Want::V6, vec!["2001:db8::20"], 48, Outcome::Primary), // Chicago
        ("2001:db8:2::", 0, Want::V6, vec!["2001:db8::10"], 0, Outcome::Primary), // unlocated ::
    ];
    for (addr, prefix, want, expect, scope, outcome) in cases {
        let d = run(&s, want, &client(addr, prefix), &up);
        assert_eq!(
            (texts(&d), d.ecs_scope, d.outcome),
            (
                expect.iter().map(ToString::to_string).collect(),
                scope,
                outcome
            ),
            "{addr}"
        );
    }
    let d = run(
        &s,
        Want::V4,
        &client("10.1.0.0", 24),
        &down(&["192.0.2.10", "192.0.2.11"]),
    );
    assert_eq!(
        (texts(&d), d.ecs_scope, d.outcome),
        (vec!["198.51.100.10".to_owned()], 16, Outcome::Failover)
    );
}

#[test]
fn nearest_bias_pulls_clients_from_farther_away() {
    let mut s = nearest(vec![1, 2]);
    let c = client("10.1.0.0", 24);
    let mut dcs = datacenters().to_vec();
    dcs[ASHBURN].bias = 90; // ≈6200 km × 0.1 ≈ 620 km: Frankfurt (≈480 km) still wins.
    s.datacenters = Arc::from(dcs.clone());
    assert_eq!(
        texts(&run(&s, Want::V4, &c, &HealthSnapshot::empty())),
        ["192.0.2.10", "192.0.2.11"]
    );
    dcs[ASHBURN].bias = 99; // ≈62 km.
    s.datacenters = Arc::from(dcs.clone());
    assert_eq!(
        texts(&run(&s, Want::V4, &c, &HealthSnapshot::empty())),
        ["198.51.100.10"]
    );
    dcs[ASHBURN].bias = 0;
    dcs[FRANKFURT].bias = -99; // ≈955 km: still nearer than Ashburn.
    s.datacenters = Arc::from(dcs);
    assert_eq!(
        texts(&run(&s, Want::V4, &c, &HealthSnapshot::empty())),
        ["192.0.2.10", "192.0.2.11"]
    );
}

#[test]
fn nearest_with_one_datacenter_needs_no_location_and_no_scope() {
    let s = nearest(vec![1]);
    let geo = world();
    let mut rng = StdRng::seed_from_u64(1);
    let d = evaluate(
        &s,
        Want::V4,
        &client("10.1.0.0", 24),
        &geo,
        &HealthSnapshot::empty(),
        &mut rng,
        None,
    );
    assert_eq!(
        (
            d.answers.len(),
            d.ecs_scope,
            geo.lookups.load(Ordering::Relaxed)
        ),
        (2, 0, 0)
    );
}

#[test]
fn nearest_ranks_members_without_a_datacenter_last() {
    let s = nearest(vec![0, 2]);
    let c = client("10.1.0.0", 24);
    assert_eq!(
        texts(&run(&s, Want::V4, &c, &HealthSnapshot::empty())),
        ["198.51.100.10"]
    );
    let d = run(&s, Want::V4, &c, &down(&["198.51.100.10"]));
    assert_eq!(
        (texts(&d), d.outcome),
        (vec!["192.0.2.50".to_owned()], Outcome::Failover)
    );
}

#[test]
fn haversine_matches_known_distances() {
    let paris = (48.8566, 2.3522);
    let new_york = (40.7128, -74.0060);
    let d = haversine_km(paris, new_york);
    assert!((d - 5837.0).abs() < 10.0, "{d}");
    assert_eq!(haversine_km(paris, paris), 0.0);
    let antipode = haversine_km((0.0, 0.0), (0.0, 180.0));
    assert!((antipode - std::f64::consts::PI * EARTH_RADIUS_KM).abs() < 1e-6);
}

#[test]
fn bias_scales_distance_and_is_clamped() {
    assert_eq!(biased_km(1000.0, 0), 1000.0);
    assert_eq!(biased_km(1000.0, 50), 500.0);
    assert_eq!(biased_km(1000.0, -50), 1500.0);
    assert_eq!(biased_km(1000.0, 127), biased_km(1000.0, 99));
    assert!(biased_km(1000.0, 99) > 0.0);
}
