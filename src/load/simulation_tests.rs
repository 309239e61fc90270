//! Closed-loop simulation: resolvers cache answers for the TTL, each datacenter's load is
//! the traffic of the client networks whose cached answer points at it, and that load is
//! reported back to the real feed (control rule, TTL) that the real policy reads. Checks
//! that an overloaded datacenter sheds, that the loop settles with both datacenters under
//! `shed_start`, and that it does not oscillate; prints the settle time and peak overshoot
//! (`cargo test --lib simulation -- --nocapture`; the figures are in docs/load.md).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::feed::{DcPlan, Feed, FeedConfig, Key, LoadPlan};
use super::read::Sample;
use super::share::{Control, Watermarks};
use super::snapshot::{LoadSnapshot, Source};
use crate::hash::mix;
use crate::health::HealthSnapshot;
use crate::policy::{
    AllDown, Answer, Client, Datacenter, Inputs, LatencyView, Member, Policy, Pool, Selection,
    Service, Want, evaluate_with,
};

const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const B: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);

struct Scenario {
    /// Client networks preferring A, then B (one unit of load each).
    prefer_a: u32,
    prefer_b: u32,
    capacity_a: f64,
    capacity_b: f64,
    ttl: u32,
    report_every: u64,
    control: Control,
    seconds: u64,
}

#[derive(Debug)]
struct Outcome {
    /// Utilisation of A and B (percent) and A's share, every second.
    series: Vec<(f64, f64, f64)>,
    /// First second from which both stay under shed_start and the shares stay unchanged.
    settled_at: Option<u64>,
    /// Highest utilisation of either datacenter once the first TTL has passed (before
    /// that, resolvers still hold the answers given before the overload was reported).
    peak: f64,
    /// Times A's share changed direction (up after down or down after up).
    reversals: u32,
}

fn service(order: [usize; 2]) -> Service {
    let dcs: Arc<[Datacenter]> = Arc::from(vec![
        Datacenter {
            name: Arc::from("a"),
            coordinates: (50.0, 8.0),
            country: None,
            continent: None,
            bias: 0,
        },
        Datacenter {
            name: Arc::from("b"),
            coordinates: (39.0, -77.0),
            country: None,
            continent: None,
            bias: 0,
        },
    ]);
    let pool = |name: &str, addr: Ipv4Addr, dc| {
        Arc::new(Pool {
            name: Arc::from(name),
            members: vec![Member {
                answer: Answer::Addr(IpAddr::V4(addr)),
                datacenter: Some(dc),
                weight: 1,
                target: None,
            }],
            selection: Selection::All,
            min_healthy: 1,
        })
    };
    Service {
        name: Arc::from("www.example.com."),
        policy: Policy::Failover {
            pools: order.to_vec(),
        },
        pools: vec![pool("a", A, 0), pool("b", B, 1)],
        datacenters: dcs,
        ttl: 30,
        max_answers: None,
        all_down: AllDown::FailOpen,
    }
}

fn run(s: &Scenario) -> Outcome {
    let wm = |capacity| Watermarks {
        capacity,
        ..Watermarks::default()
    };
    let mut plan = LoadPlan::default();
    for (name, capacity) in [("a", s.capacity_a), ("b", s.capacity_b)] {
        plan.datacenters.insert(
            Arc::from(name),
            DcPlan {
                watermarks: wm(capacity),
                query: None,
                configured: true,
            },
        );
    }
    let mut feed = Feed::new(FeedConfig {
        control: s.control,
        ttl: Duration::from_mins(1),
    });
    feed.set_plan(Arc::new(plan));
    let services = [service([0, 1]), service([1, 0])];
    let health = HealthSnapshot::empty();
    let total = s.prefer_a + s.prefer_b;
    // Each network: which service it asks, its cached answer (true = A) and expiry second.
    let mut nets: Vec<(usize, Client, bool, u64)> = (0..total)
        .map(|i| {
            let svc = usize::from(i >= s.prefer_a);
            let client = Client {
                addr: IpAddr::V4(Ipv4Addr::from(0x0A00_0000 + (i << 8))),
                source_prefix: 24,
                from_ecs: true,
            };
            let phase = mix(u64::from(i)) % u64::from(s.ttl);
            (svc, client, svc == 0, phase)
        })
        .collect();
    let mut snapshot = LoadSnapshot::default();
    let mut rng = StdRng::seed_from_u64(1);
    let mut out = Outcome {
        series: Vec::new(),
        settled_at: None,
        peak: 0.0,
        reversals: 0,
    };
    let (mut last_share, mut last_dir) = (0.0, 0i8);
    for t in 0..s.seconds {
        for net in &mut nets {
            if net.3 <= t {
                let inputs = Inputs {
                    geo: &crate::geo::Nowhere,
                    health: &health,
                    latency: LatencyView::none(),
                    load: &snapshot,
                };
                let d = evaluate_with(&services[net.0], Want::V4, &net.1, &inputs, &mut rng, None);
                net.2 = d.answers.first() == Some(&Answer::Addr(IpAddr::V4(A)));
                net.3 = t + u64::from(s.ttl);
            }
        }
        let on_a = nets.iter().filter(|n| n.2).count() as f64;
        let on_b = f64::from(total) - on_a;
        let now_ms = t * 1000;
        if t % s.report_every == 0 {
            for (name, load) in [("a", on_a), ("b", on_b)] {
                feed.report(
                    Key::Datacenter(Arc::from(name)),
                    Sample::Value(load),
                    Source::Probe,
                    now_ms,
                );
            }
        }
        snapshot = feed.tick(now_ms);
        let share = snapshot.datacenter("a").map_or(0.0, |e| e.share);
        let (ua, ub) = (100.0 * on_a / s.capacity_a, 100.0 * on_b / s.capacity_b);
        out.series.push((ua, ub, share));
        if t >= u64::from(s.ttl) {
            out.peak = out.peak.max(ua).max(ub);
        }
        let dir = if share > last_share {
            1
        } else if share < last_share {
            -1
        } else {
            0
        };
        if dir != 0 {
            if last_dir != 0 && dir != last_dir {
                out.reversals += 1;
            }
            last_dir = dir;
        }
        last_share = share;
    }
    let start = Watermarks::default().shed_start;
    let last = *out.series.last().expect("a series");
    out.settled_at = (0..s.seconds).find(|&t| {
        out.series[t as usize..]
            .iter()
            .all(|&(ua, ub, sh)| ua < start && ub < start && sh == last.2)
    });
    out
}

fn report(name: &str, s: &Scenario, o: &Outcome) {
    println!(
        "{name}: settled at {:?} s, peak after one TTL {:.1} %, share reversals {}, final A {:.1} % B {:.1} % share {:.2}",
        o.settled_at,
        o.peak,
        o.reversals,
        o.series.last().unwrap().0,
        o.series.last().unwrap().1,
        o.series.last().unwrap().2
    );
    for (t, (ua, ub, sh)) in o
        .series
        .iter()
        .enumerate()
        .step_by(30)
        .take((s.seconds / 30) as usize)
    {
        println!(
            "  t={t:4}s  A {ua:6.1} %  B {ub:6.1} %  A sheds {:5.1} %",
            sh * 100.0
        );
    }
}

fn defaults(seconds: u64) -> Scenario {
    Scenario {
        prefer_a: 900,
        prefer_b: 200,
        capacity_a: 1000.0,
        capacity_b: 1000.0,
        ttl: 30,
        report_every: 5,
        control: Control::default(),
        seconds,
    }
}

/// The loop settles within `limit` seconds, nobody is above shed_start after one TTL, and
/// the share changes direction at most once.
fn assert_settles(o: &Outcome, limit: u64) {
    let settled = o.settled_at.expect("the loop settles");
    assert!(settled <= limit, "settled at {settled} s");
    assert!(
        o.peak <= 80.0,
        "no datacenter above shed_start after one TTL: {}",
        o.peak
    );
    assert!(
        o.reversals <= 1,
        "the share does not oscillate: {} reversals",
        o.reversals
    );
}

#[test]
fn an_overloaded_datacenter_settles_under_shed_start_without_oscillating() {
    // A at 90 % of capacity (between the watermarks), B at 20 %.
    let s = defaults(900);
    let o = run(&s);
    report("A at 90 %", &s, &o);
    assert_settles(&o, 400);
}

#[test]
fn a_datacenter_above_shed_full_settles_when_the_other_has_room() {
    // A at 120 % (above shed_full: every client sheds at once), B twice as large at 20 %.
    let s = Scenario {
        prefer_a: 1200,
        prefer_b: 400,
        capacity_b: 2000.0,
        ..defaults(1200)
    };
    let o = run(&s);
    report("A at 120 %", &s, &o);
    assert_settles(&o, 900);
    let (ua, ub, _) = *o.series.last().unwrap();
    assert!(ua < 80.0 && ub < 80.0 && ua > 60.0, "A {ua} B {ub}");
}
