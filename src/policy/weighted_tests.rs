//! Table tests for the weighted policy: weight shares, sticky hashing and its scope.

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::geo::Nowhere;
use crate::health::HealthSnapshot;
use crate::policy::fixtures::evaluate;
use crate::policy::fixtures::*;
use crate::policy::model::*;
use crate::policy::service::{Policy, Service};
use crate::policy::{Outcome, Want};

fn five_three_two(by_pool: bool, mode: WeightMode) -> Service {
    let weights = [("192.0.2.5", 5), ("192.0.2.3", 3), ("192.0.2.2", 2)];
    if by_pool {
        let pools = weights
            .iter()
            .map(|(a, _)| pool(a, Selection::All, vec![member(a, None, 1)]))
            .collect();
        let pools_w = (0..3)
            .map(|i| PoolWeight {
                pool: i,
                weight: weights[i].1,
            })
            .collect();
        service(
            Policy::Weighted {
                by: WeightBy::Pool,
                mode,
                pools: pools_w,
            },
            pools,
        )
    } else {
        let members = weights.iter().map(|(a, w)| member(a, None, *w)).collect();
        let pools = vec![pool("all", Selection::All, members)];
        service(
            Policy::Weighted {
                by: WeightBy::Member,
                mode,
                pools: vec![PoolWeight { pool: 0, weight: 1 }],
            },
            pools,
        )
    }
}

/// Shares of each answer over `n` evaluations with distinct clients.
fn shares(s: &Service, n: u32, client_of: impl Fn(u32) -> crate::policy::Client) -> [f64; 3] {
    let mut rng = StdRng::seed_from_u64(20240601);
    let mut counts = [0u32; 3];
    for i in 0..n {
        let d = evaluate(
            s,
            Want::V4,
            &client_of(i),
            &Nowhere,
            &HealthSnapshot::empty(),
            &mut rng,
            None,
        );
        assert_eq!(d.answers.len(), 1);
        let idx = ["192.0.2.5", "192.0.2.3", "192.0.2.2"]
            .iter()
            .position(|a| answer(a) == d.answers[0])
            .unwrap();
        counts[idx] += 1;
    }
    counts.map(|c| f64::from(c) / f64::from(n))
}

fn assert_shares(got: [f64; 3], what: &str) {
    for (g, want) in got.iter().zip([0.5, 0.3, 0.2]) {
        assert!((g - want).abs() < 0.015, "{what}: {got:?}");
    }
}

#[test]
fn weights_5_3_2_are_honoured_within_1_5_percent() {
    let fixed = |_| client("10.1.0.0", 16);
    assert_shares(
        shares(&five_three_two(false, WeightMode::Random), 100_000, fixed),
        "members, random",
    );
    assert_shares(
        shares(&five_three_two(true, WeightMode::Random), 100_000, fixed),
        "pools, random",
    );
    let subnet = |i: u32| client(&std::net::Ipv4Addr::from(i << 8).to_string(), 24);
    assert_shares(
        shares(&five_three_two(false, WeightMode::Hash), 100_000, subnet),
        "members, hash",
    );
    assert_shares(
        shares(&five_three_two(true, WeightMode::Hash), 100_000, subnet),
        "pools, hash",
    );
}

fn ten_members(mode: WeightMode, weight_of_3: u32) -> Service {
    let members = (0..10)
        .map(|i| {
            member(
                &format!("192.0.2.{i}"),
                None,
                if i == 3 { weight_of_3 } else { 1 + i % 3 },
            )
        })
        .collect();
    let pools = vec![pool("p", Selection::All, members)];
    service(
        Policy::Weighted {
            by: WeightBy::Member,
            mode,
            pools: vec![PoolWeight { pool: 0, weight: 1 }],
        },
        pools,
    )
}

#[test]
fn consistent_hash_moves_only_the_lost_members_clients() {
    let before_s = ten_members(WeightMode::Hash, 2);
    let drained = ten_members(WeightMode::Hash, 0);
    let gone = answer("192.0.2.3");
    let (mut moved, mut had) = (0, 0);
    for i in 0..20_000u32 {
        let c = client(
            &std::net::Ipv6Addr::from(u128::from(i) << 72).to_string(),
            56,
        );
        let before = run(&before_s, Want::V4, &c, &HealthSnapshot::empty());
        assert_eq!(before.ecs_scope, 56);
        for after in [
            run(&drained, Want::V4, &c, &HealthSnapshot::empty()),
            run(&before_s, Want::V4, &c, &down(&["192.0.2.3"])),
        ] {
            if before.answers[0] == gone {
                assert_ne!(after.answers[0], gone);
            } else {
                assert_eq!(after.answers, before.answers, "client {i} moved needlessly");
            }
            moved += usize::from(after.answers != before.answers);
        }
        had += usize::from(before.answers[0] == gone);
    }
    assert_eq!(moved, 2 * had);
    assert!(had > 20_000 / 20, "member 3 had {had} clients");
}

#[test]
fn weighted_random_has_scope_zero_and_hash_scope_follows_the_source_prefix() {
    let random = five_three_two(false, WeightMode::Random);
    assert_eq!(
        run(
            &random,
            Want::V4,
            &client("10.1.2.0", 24),
            &HealthSnapshot::empty()
        )
        .ecs_scope,
        0
    );
    let hash = five_three_two(false, WeightMode::Hash);
    for (addr, prefix, scope) in [
        ("10.1.2.3", 32, 24),
        ("10.1.2.0", 24, 24),
        ("10.1.0.0", 20, 20),
        ("0.0.0.0", 0, 0),
    ] {
        assert_eq!(
            run(
                &hash,
                Want::V4,
                &client(addr, prefix),
                &HealthSnapshot::empty()
            )
            .ecs_scope,
            scope
        );
    }
    let same = |a: &str| run(&hash, Want::V4, &client(a, 32), &HealthSnapshot::empty()).answers;
    assert_eq!(same("10.1.2.3"), same("10.1.2.200"));
}

#[test]
fn weighted_by_pool_skips_down_pools() {
    let s = five_three_two(true, WeightMode::Random);
    let c = client("10.1.0.0", 16);
    for seed in 0..50 {
        let mut rng = StdRng::seed_from_u64(seed);
        let d = evaluate(
            &s,
            Want::V4,
            &c,
            &Nowhere,
            &down(&["192.0.2.5", "192.0.2.3"]),
            &mut rng,
            None,
        );
        assert_eq!(
            (texts(&d), d.outcome),
            (vec!["192.0.2.2".to_owned()], Outcome::Failover)
        );
    }
}
