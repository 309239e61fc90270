//! Load-aware shedding under every policy: shares, stickiness, saturation and ECS scope.

use super::fixtures::{eu_us, service, texts};
use super::load_fixtures::{networks, run_loaded, shed};
use super::{Client, Outcome, Policy, PoolWeight, Selection, Want, WeightBy, WeightMode};
use crate::load::LoadSnapshot;

fn failover() -> super::Service {
    service(
        Policy::Failover { pools: vec![0, 1] },
        eu_us(Selection::All),
    )
}

fn in_us(s: &super::Service, c: &Client, load: &LoadSnapshot) -> bool {
    texts(&run_loaded(s, Want::V4, c, load, 1)) == ["198.51.100.10"]
}

#[test]
fn a_partial_share_moves_that_share_of_networks_and_always_the_same_ones() {
    let s = failover();
    let clients = networks(4000);
    let mut moved_before: Vec<bool> = vec![false; clients.len()];
    for share in [0.2, 0.5, 0.8] {
        let load = shed(&[], &[("fra", share)]);
        let moved: Vec<bool> = clients.iter().map(|c| in_us(&s, c, &load)).collect();
        let n = moved.iter().filter(|&&m| m).count();
        let got = n as f64 / clients.len() as f64;
        // Binomial: 4000 networks, σ ≤ 0.8 %; 3 % is about four σ.
        assert!((got - share).abs() < 0.03, "share {share}: moved {got}");
        assert!(
            moved_before.iter().zip(&moved).all(|(b, m)| !b || *m),
            "a network moved at a lower share stays moved at a higher one"
        );
        let again: Vec<bool> = clients.iter().map(|c| in_us(&s, c, &load)).collect();
        assert_eq!(moved, again, "the same networks move every time");
        moved_before = moved;
    }
    // Every moved answer depends on the client's /24: scope 24.
    let load = shed(&[], &[("fra", 0.5)]);
    let d = run_loaded(&s, Want::V4, &clients[0], &load, 1);
    assert_eq!(d.ecs_scope, 24);
    // Nothing shed: the policy's own scope (0 for failover).
    let d = run_loaded(&s, Want::V4, &clients[0], &shed(&[], &[("fra", 0.0)]), 1);
    assert_eq!(d.ecs_scope, 0);
}

#[test]
fn above_shed_full_everyone_moves_and_everyone_comes_back() {
    let s = failover();
    let clients = networks(500);
    let full = shed(&[], &[("fra", 1.0)]);
    assert!(clients.iter().all(|c| in_us(&s, c, &full)));
    let d = run_loaded(&s, Want::V4, &clients[0], &full, 1);
    assert_eq!((d.outcome, d.ecs_scope), (Outcome::Failover, 0));
    let none = LoadSnapshot::none();
    assert!(clients.iter().all(|c| !in_us(&s, c, none)));
}

#[test]
fn load_never_empties_an_answer() {
    let s = failover();
    let both = shed(&[], &[("fra", 1.0), ("iad", 1.0)]);
    let d = run_loaded(&s, Want::V4, &networks(1)[0], &both, 1);
    assert_eq!(
        texts(&d),
        ["192.0.2.10", "192.0.2.11"],
        "the policy without load"
    );
    assert_eq!(d.outcome, Outcome::Primary);
    // Member-level entries count too: both eu members saturated moves the pool.
    let members = shed(&[("192.0.2.10/web", 1.0), ("192.0.2.11/web", 1.0)], &[]);
    assert_eq!(
        texts(&run_loaded(&s, Want::V4, &networks(1)[0], &members, 1)),
        ["198.51.100.10"]
    );
    // One member saturated: the pool answers with the other.
    let one = shed(&[("192.0.2.10/web", 1.0)], &[]);
    assert_eq!(
        texts(&run_loaded(&s, Want::V4, &networks(1)[0], &one, 1)),
        ["192.0.2.11"]
    );
}

#[test]
fn nearest_goes_to_the_next_datacenter() {
    let s = service(Policy::Nearest { pools: vec![0, 1] }, eu_us(Selection::All));
    let paris: Vec<Client> = (0..256u32)
        .map(|i| super::fixtures::client(&format!("10.1.{i}.0"), 24))
        .collect();
    let none = LoadSnapshot::none();
    assert!(
        paris.iter().all(|c| !in_us(&s, c, none)),
        "Paris is nearest Frankfurt"
    );
    let full = shed(&[], &[("fra", 1.0)]);
    assert!(paris.iter().all(|c| in_us(&s, c, &full)));
    let half = shed(&[], &[("fra", 0.5)]);
    let n = paris.iter().filter(|c| in_us(&s, c, &half)).count();
    assert!((90..=166).contains(&n), "about half of 256 moved: {n}");
}

#[test]
fn weighted_scales_weights_by_the_share_kept() {
    let pools = eu_us(Selection::All);
    let s = service(
        Policy::Weighted {
            by: WeightBy::Member,
            mode: WeightMode::Random,
            pools: vec![
                PoolWeight { pool: 0, weight: 1 },
                PoolWeight { pool: 1, weight: 1 },
            ],
        },
        pools,
    );
    let c = &networks(1)[0];
    let count = |load: &LoadSnapshot| {
        (0..6000u64)
            .filter(|&seed| texts(&run_loaded(&s, Want::V4, c, load, seed)) == ["192.0.2.10"])
            .count() as f64
            / 6000.0
    };
    // Three IPv4 members of weight 1: a third each; .10 keeping half: 0.5 / 2.5 = 20 %.
    assert!((count(LoadSnapshot::none()) - 1.0 / 3.0).abs() < 0.03);
    let half = shed(&[("192.0.2.10/web", 0.5)], &[]);
    assert!((count(&half) - 0.2).abs() < 0.03, "{}", count(&half));
    let d = run_loaded(&s, Want::V4, c, &half, 1);
    assert_eq!(d.ecs_scope, 0, "weights do not depend on the client");
    let full = shed(&[("192.0.2.10/web", 1.0)], &[]);
    assert_eq!(count(&full), 0.0);
}

#[test]
fn explain_shows_the_load_and_whether_this_client_is_shed() {
    let s = failover();
    let load = shed(&[], &[("fra", 1.0)]);
    let health = crate::health::HealthSnapshot::empty();
    let geo = super::fixtures::world();
    let inputs = super::Inputs {
        geo: &geo,
        health: &health,
        latency: super::LatencyView::none(),
        load: &load,
    };
    let mut trace = super::Trace::new();
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1);
    let c = &networks(1)[0];
    super::evaluate_with(&s, Want::V4, c, &inputs, &mut rng, Some(&mut trace));
    let text = trace.to_string();
    assert!(text.contains("load datacenter fra"), "{text}");
    assert!(text.contains("from api"), "{text}");
    assert!(text.contains("shed_start 80 %, shed_full 95 %"), "{text}");
    assert!(text.contains("this client is shed"), "{text}");
}
