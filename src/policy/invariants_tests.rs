//! Invariants checked against every policy over random services, health, clients and latency tables.

use rustc_hash::FxHashMap;
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU16;
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::addr_bits::{from_bits, mask, to_bits};
use super::fixtures::{client, datacenters, world};
use super::model::*;
use super::service::{Policy, PolicyKind, Service};
use super::{
    CidrMap, Client, Decision, GeoMap, Inputs, LatencyPolicy, LatencyView, Outcome, PoolList, Ties,
    Trace, Want, evaluate_with,
};
use crate::geo::Continent;
use crate::health::{HealthSnapshot, Status, TargetHealth};
use crate::latency::{LatencyTable, TableConfig};

/// The clock of the latency tables; a case reads them at `NOW` or an hour after (all stale).
const NOW: u64 = 1_800_000_000;
const MAX_AGE: u64 = 3600;

fn pick<T: Clone>(rng: &mut StdRng, items: &[T]) -> T {
    items[(rng.next_u32() as usize) % items.len()].clone()
}

fn chance(rng: &mut StdRng, percent: u32) -> bool {
    rng.next_u32() % 100 < percent
}

/// One to four pools of `members.0` up to `members.1` members each.
fn random_pools(rng: &mut StdRng, members: (u32, u32)) -> Vec<Arc<Pool>> {
    let mut next = 0;
    (0..=(rng.next_u32() % 4))
        .map(|p| {
            let members = (0..members.0 + rng.next_u32() % (members.1 - members.0 + 1))
                .map(|_| {
                    next += 1;
                    let answer = match rng.next_u32() % 5 {
                        0 | 1 => Answer::Addr(format!("192.0.2.{next}").parse().unwrap()),
                        2 | 3 => Answer::Addr(format!("2001:db8::{next}").parse().unwrap()),
                        _ => Answer::Name(Arc::from(format!("h{next}.example.net."))),
                    };
                    let target = chance(rng, 85).then(|| Arc::from(format!("{answer}/web")));
                    Member {
                        answer,
                        datacenter: pick(rng, &[None, Some(0), Some(1), Some(2), Some(9)]),
                        weight: if chance(rng, 15) {
                            0
                        } else {
                            1 + rng.next_u32() % 5
                        },
                        target,
                    }
                })
                .collect();
            Arc::new(Pool {
                name: Arc::from(format!("p{p}")),
                members,
                selection: pick(rng, &[Selection::All, Selection::Weighted, Selection::Hash]),
                min_healthy: rng.next_u32() % 3,
            })
        })
        .collect()
}

fn random_list(rng: &mut StdRng, n: usize) -> Vec<PoolId> {
    // Mostly valid ids; occasionally one past the end (must be ignored, never panic).
    (0..=(rng.next_u32() % 3))
        .map(|_| (rng.next_u32() as usize) % (n + 1))
        .collect()
}

fn random_geo(rng: &mut StdRng, n: usize) -> GeoMap {
    let list = |rng: &mut StdRng| PoolList::from(random_list(rng, n));
    let prefixes = (0..rng.next_u32() % 8).map(|_| {
        let (net, len) = if chance(rng, 50) {
            (
                format!("10.{}.{}.0", rng.next_u32() % 8, rng.next_u32() % 4),
                14 + rng.next_u32() % 11,
            )
        } else {
            (
                format!("2001:db8:{}::", rng.next_u32() % 4),
                40 + rng.next_u32() % 25,
            )
        };
        let net = ipnet::IpNet::new(net.parse().unwrap(), len as u8)
            .unwrap()
            .trunc();
        (net, random_list(rng, n))
    });
    let prefixes: HashMap<_, _> = prefixes.collect();
    GeoMap {
        cidr: Some(Arc::new(CidrMap::from_prefixes(prefixes).unwrap())),
        asn: FxHashMap::from_iter([(64500 + rng.next_u32() % 6, list(rng))]),
        subdivision: FxHashMap::default(),
        country: FxHashMap::from_iter([(pick(rng, &[*b"FR", *b"US", *b"CA"]), list(rng))]),
        continent: FxHashMap::from_iter([(pick(rng, &[Continent::EU, Continent::NA]), list(rng))]),
        default: list(rng),
    }
}

fn random_service(rng: &mut StdRng) -> Service {
    let kind = rng.next_u32() % 5;
    // A latency service ranks only between two or more datacenters: more members.
    let pools = random_pools(rng, if kind == 4 { (3, 10) } else { (0, 4) });
    let n = pools.len();
    let policy = match kind {
        0 => Policy::Failover {
            pools: random_list(rng, n),
        },
        1 => Policy::Weighted {
            by: pick(rng, &[WeightBy::Member, WeightBy::Pool]),
            mode: pick(rng, &[WeightMode::Random, WeightMode::Hash]),
            pools: random_list(rng, n)
                .into_iter()
                .map(|pool| PoolWeight {
                    pool,
                    weight: rng.next_u32() % 4,
                })
                .collect(),
        },
        2 => Policy::Geo(random_geo(rng, n)),
        3 => Policy::Nearest {
            pools: random_list(rng, n),
        },
        _ => Policy::Latency(LatencyPolicy {
            pools: random_list(rng, n),
            tolerance_ms: pick(rng, &[0.0, 5.0, 30.0]),
            tolerance_percent: pick(rng, &[0.0, 10.0, 50.0]),
            ties: pick(rng, &[Ties::Hash, Ties::Order]),
            min_samples: pick(rng, &[1, 1, 2, 3]),
        }),
    };
    let fallback = vec![
        Answer::Addr("203.0.113.9".parse().unwrap()),
        Answer::Name(Arc::from("fb.example.net.")),
    ];
    Service {
        name: Arc::from("svc.example.com."),
        policy,
        pools,
        datacenters: datacenters(),
        ttl: 30,
        max_answers: if chance(rng, 50) {
            None
        } else {
            NonZeroU16::new(1 + (rng.next_u32() % 4) as u16)
        },
        all_down: pick(
            rng,
            &[
                AllDown::FailOpen,
                AllDown::FailOpen,
                AllDown::NoData,
                AllDown::ServFail,
                AllDown::Fallback(fallback),
            ],
        ),
    }
}

fn random_health(rng: &mut StdRng, service: &Service) -> HealthSnapshot {
    let mut targets = HashMap::new();
    for m in service.pools.iter().flat_map(|p| p.members.iter()) {
        let status = pick(
            rng,
            &[
                None,
                Some(Status::Up),
                Some(Status::Down),
                Some(Status::Down),
                Some(Status::Drained),
            ],
        );
        if let (Some(t), Some(status)) = (&m.target, status) {
            targets.insert(
                t.clone(),
                TargetHealth {
                    status,
                    forced: false,
                },
            );
        }
    }
    HealthSnapshot::new(1, targets)
}

/// Measurements for the networks the random clients come from (10.0-11.0-3.x/24 and
/// 2001:db8:0-3::/48), none, some or most of them, to the three datacenters and one the
/// services do not know; some too old or with too few samples to count.
fn random_table(rng: &mut StdRng) -> LatencyTable {
    let mut table = LatencyTable::new(TableConfig {
        max_age_secs: MAX_AGE,
        ..TableConfig::default()
    });
    let v4 = (0..12 * 4).map(|i| format!("10.{}.{}.0", i / 4, i % 4));
    let v6 = (0..4).map(|i| format!("2001:db8:{i}::"));
    let density = pick(rng, &[0, 50, 90]);
    for net in v4.chain(v6) {
        let key = table.prefixes().key(net.parse().unwrap());
        for dc in ["fra", "iad", "sin", "nowhere"] {
            if chance(rng, density) {
                let rtt = pick(rng, &[1.0, 4.0, 20.0, 21.0, 25.0, 80.0, 200.0]);
                let age = pick(rng, &[10, 600, 600, MAX_AGE + 60]);
                let _ = table.record(key, dc, rtt, 1 + rng.next_u32() % 3, NOW - age, NOW);
            }
        }
    }
    table
}

fn random_client(rng: &mut StdRng) -> Client {
    if chance(rng, 60) {
        let addr = format!(
            "10.{}.{}.{}",
            rng.next_u32() % 12,
            rng.next_u32() % 4,
            rng.next_u32() % 256
        );
        client(&addr, pick(rng, &[0, 8, 16, 20, 22, 24, 25, 28, 32]))
    } else {
        let addr = format!(
            "2001:db8:{}:{:x}::1",
            rng.next_u32() % 4,
            rng.next_u32() % 0x10000
        );
        client(&addr, pick(rng, &[0, 32, 44, 48, 56, 64, 128]))
    }
}

/// What a decision depends on besides the service and the client (and the fake GeoIP).
struct Conditions<'a> {
    health: &'a HealthSnapshot,
    table: &'a LatencyTable,
    now: u64,
}

fn decide(
    s: &Service,
    want: Want,
    c: &Client,
    w: &Conditions<'_>,
    seed: u64,
    trace: Option<&mut Trace>,
) -> Decision {
    let geo = world();
    let inputs = Inputs {
        geo: &geo,
        health: w.health,
        latency: LatencyView {
            table: w.table,
            now: w.now,
        },
        load: crate::load::LoadSnapshot::none(),
    };
    evaluate_with(s, want, c, &inputs, &mut StdRng::seed_from_u64(seed), trace)
}

fn usable(s: &Service, health: &HealthSnapshot, a: &Answer) -> bool {
    s.pools.iter().flat_map(|p| p.members.iter()).any(|m| {
        &m.answer == a
            && m.weight > 0
            && m.target
                .as_deref()
                .is_none_or(|t| health.status(t).usable())
    })
}

/// Pool lists the policy can end up using for some client.
fn reachable_lists(s: &Service) -> Vec<Vec<PoolId>> {
    match &s.policy {
        Policy::Failover { pools } | Policy::Nearest { pools } => vec![pools.clone()],
        Policy::Latency(p) => vec![p.pools.clone()],
        Policy::Weighted { pools, .. } => vec![pools.iter().map(|p| p.pool).collect()],
        Policy::Geo(map) => {
            let mut lists: Vec<Vec<PoolId>> = vec![map.default.to_vec()];
            lists.extend(
                map.asn
                    .values()
                    .chain(map.country.values())
                    .chain(map.continent.values())
                    .map(|l| l.to_vec()),
            );
            lists.extend(map.cidr.iter().flat_map(|c| c.lists()).map(|l| l.to_vec()));
            lists
        }
    }
}

#[test]
fn invariants_hold_for_every_policy() {
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let mut outcomes: HashMap<(PolicyKind, Outcome), u32> = HashMap::new();
    let tables: Vec<LatencyTable> = (0..16).map(|_| random_table(&mut rng)).collect();
    let mut measured = 0;
    for case in 0..5000u64 {
        let s = random_service(&mut rng);
        let health = random_health(&mut rng, &s);
        let c = random_client(&mut rng);
        let want = pick(&mut rng, &[Want::V4, Want::V6, Want::Name]);
        let w = Conditions {
            health: &health,
            table: &tables[case as usize % tables.len()],
            now: if chance(&mut rng, 90) {
                NOW
            } else {
                NOW + MAX_AGE
            },
        };
        let d = decide(&s, want, &c, &w, case, None);
        let ctx = format!("case {case}: {want:?} {c:?} {:?} -> {d:?}", s.policy.kind());
        measured += u32::from(d.rtt_source == Some(super::RttSource::Measured));
        *outcomes.entry((s.policy.kind(), d.outcome)).or_default() += 1;

        // Determinism, with and without a trace.
        assert_eq!(decide(&s, want, &c, &w, case, None), d, "{ctx}");
        let mut trace = Trace::new();
        assert_eq!(decide(&s, want, &c, &w, case, Some(&mut trace)), d, "{ctx}");
        assert!(!trace.to_string().is_empty());

        // Answers: of the wanted family, distinct, capped, empty only for NoData/ServFail.
        assert!(d.answers.iter().all(|a| want.accepts(a)), "{ctx}");
        let distinct: std::collections::HashSet<&Answer> = d.answers.iter().collect();
        assert_eq!(distinct.len(), d.answers.len(), "{ctx}");
        if want == Want::Name {
            assert!(d.answers.len() <= 1, "{ctx}");
        }
        if let Some(n) = s.max_answers {
            assert!(d.answers.len() <= usize::from(n.get()), "{ctx}");
        }
        let empty_outcome = matches!(d.outcome, Outcome::NoData | Outcome::ServFail);
        assert_eq!(d.answers.is_empty(), empty_outcome, "{ctx}");

        // No unusable member while the healthy pass answered.
        if matches!(d.outcome, Outcome::Primary | Outcome::Failover) {
            assert!(d.answers.iter().all(|a| usable(&s, &health, a)), "{ctx}");
        }

        // Fail-open never leaves a client empty-handed when its pools have the family.
        let has = |id: &PoolId| {
            s.pool(*id)
                .is_some_and(|p| p.members.iter().any(|m| want.accepts(&m.answer)))
        };
        if s.all_down == AllDown::FailOpen && reachable_lists(&s).iter().all(|l| l.iter().any(has))
        {
            assert!(!d.answers.is_empty(), "{ctx}");
        }

        // Scope: never more than the source prefix.
        assert!(d.ecs_scope <= c.source_prefix, "{ctx}");
        check_scope_covers_same_answer(&s, want, &c, &w, case, &d, &mut rng, &ctx);
    }
    assert!(
        measured >= 50,
        "latency: only {measured} answers by measured RTT"
    );
    for policy in [
        PolicyKind::Failover,
        PolicyKind::Weighted,
        PolicyKind::Geo,
        PolicyKind::Nearest,
        PolicyKind::Latency,
    ] {
        for outcome in [
            Outcome::Primary,
            Outcome::Failover,
            Outcome::FailOpen,
            Outcome::NoData,
        ] {
            assert!(
                outcomes.contains_key(&(policy, outcome)),
                "{policy} never produced {outcome:?}: {outcomes:?}"
            );
        }
    }
}

/// Any client sharing the first `ecs_scope` bits gets the same answer set, when the
/// scope was not capped by the source prefix (then it is exactly what was needed).
#[allow(clippy::too_many_arguments)]
fn check_scope_covers_same_answer(
    s: &Service,
    want: Want,
    c: &Client,
    w: &Conditions<'_>,
    seed: u64,
    d: &Decision,
    rng: &mut StdRng,
    ctx: &str,
) {
    if d.ecs_scope >= c.source_prefix {
        return;
    }
    let (bits, width) = to_bits(c.addr);
    for _ in 0..3 {
        let noise = u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64());
        let other = mask(bits, width, d.ecs_scope)
            | (noise
                & !mask(u128::MAX, width, d.ecs_scope)
                & (u128::MAX >> (128 - u32::from(width))));
        let addr: IpAddr = from_bits(other, width);
        let neighbour = client(&addr.to_string(), c.source_prefix);
        let e = decide(s, want, &neighbour, w, seed, None);
        let sorted = |d: &Decision| {
            let mut v: Vec<String> = d.answers.iter().map(ToString::to_string).collect();
            v.sort();
            v
        };
        assert_eq!(
            (sorted(&e), e.outcome),
            (sorted(d), d.outcome),
            "{ctx}; neighbour {neighbour:?}"
        );
    }
}
