//! Test fixtures for policy tests: a table-driven fake `Locate`, datacenters, builders.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ipnet::IpNet;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::geo::{Continent, Locate, Location};
use crate::health::{HealthSnapshot, Status, TargetHealth};

use super::model::{AllDown, Answer, Datacenter, Member, Pool, Selection};
use super::service::{Policy, Service};
use super::{Client, Decision, Inputs, LatencyView, Trace, Want, evaluate_with};

pub(crate) const FRANKFURT: usize = 0;
pub(crate) const ASHBURN: usize = 1;
pub(crate) const SINGAPORE: usize = 2;

pub(crate) fn datacenters() -> Arc<[Datacenter]> {
    let dc = |name: &str, lat, lon, country: &[u8; 2], continent| Datacenter {
        name: Arc::from(name),
        coordinates: (lat, lon),
        country: Some(*country),
        continent: Some(continent),
        bias: 0,
    };
    Arc::from(vec![
        dc("fra", 50.11, 8.68, b"DE", Continent::EU),
        dc("iad", 39.04, -77.49, b"US", Continent::NA),
        dc("sin", 1.35, 103.82, b"SG", Continent::AS),
    ])
}

/// Longest-prefix table of locations; counts lookups.
#[derive(Default)]
pub(crate) struct FakeGeo {
    pub(crate) table: Vec<(IpNet, Location)>,
    pub(crate) lookups: AtomicUsize,
}

impl Locate for FakeGeo {
    fn locate(&self, addr: IpAddr) -> Option<Location> {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        let (net, loc) = self
            .table
            .iter()
            .filter(|(net, _)| net.contains(&addr))
            .max_by_key(|(net, _)| net.prefix_len())?;
        Some(Location {
            prefix_len: net.prefix_len(),
            ..loc.clone()
        })
    }
}

fn place(
    country: &[u8; 2],
    continent: Continent,
    sub: Option<&str>,
    coords: Option<(f64, f64)>,
    asn: u32,
) -> Location {
    Location {
        country: Some(*country),
        continent: Some(continent),
        subdivision: sub.map(std::sync::Arc::from),
        coordinates: coords,
        asn: Some(asn),
        prefix_len: 0,
    }
}

pub(crate) const PARIS: (f64, f64) = (48.8566, 2.3522);
pub(crate) const CHICAGO: (f64, f64) = (41.8781, -87.6298);

/// 10.1/16 Paris, 10.2.0/20 San Francisco, 10.3.0/24 Chicago, 10.4/16 Toronto,
/// 10.5/16 Singapore, 10.6/16 Antarctica without coordinates, 2001:db8:1::/48 Paris,
/// 2001:db8:2::/48 Chicago. Everything else is unknown.
pub(crate) fn world() -> FakeGeo {
    let rows = [
        (
            "10.1.0.0/16",
            place(b"FR", Continent::EU, Some("IDF"), Some(PARIS), 64501),
        ),
        (
            "10.2.0.0/20",
            place(
                b"US",
                Continent::NA,
                Some("CA"),
                Some((37.77, -122.42)),
                64502,
            ),
        ),
        (
            "10.3.0.0/24",
            place(b"US", Continent::NA, Some("IL"), Some(CHICAGO), 64500),
        ),
        (
            "10.4.0.0/16",
            place(
                b"CA",
                Continent::NA,
                Some("ON"),
                Some((43.65, -79.38)),
                64504,
            ),
        ),
        (
            "10.5.0.0/16",
            place(b"SG", Continent::AS, None, Some((1.29, 103.85)), 64505),
        ),
        (
            "10.6.0.0/16",
            Location {
                continent: Some(Continent::AN),
                ..Location::default()
            },
        ),
        (
            "2001:db8:1::/48",
            place(b"FR", Continent::EU, None, Some(PARIS), 64501),
        ),
        (
            "2001:db8:2::/48",
            place(b"US", Continent::NA, None, Some(CHICAGO), 64500),
        ),
    ];
    FakeGeo {
        table: rows
            .into_iter()
            .map(|(n, l)| (n.parse().unwrap(), l))
            .collect(),
        lookups: AtomicUsize::new(0),
    }
}

pub(crate) fn answer(text: &str) -> Answer {
    match text.parse::<IpAddr>() {
        Ok(addr) => Answer::Addr(addr),
        Err(_) => Answer::Name(Arc::from(text)),
    }
}

/// Target key of a member built by [`member`].
pub(crate) fn target(text: &str) -> String {
    format!("{text}/web")
}

pub(crate) fn member(text: &str, dc: Option<usize>, weight: u32) -> Member {
    Member {
        answer: answer(text),
        datacenter: dc,
        weight,
        target: Some(Arc::from(target(text))),
    }
}

pub(crate) fn pool(name: &str, selection: Selection, members: Vec<Member>) -> Arc<Pool> {
    Arc::new(Pool {
        name: Arc::from(name),
        members,
        selection,
        min_healthy: 1,
    })
}

pub(crate) fn service(policy: Policy, pools: Vec<Arc<Pool>>) -> Service {
    Service {
        name: Arc::from("www.example.com."),
        policy,
        pools,
        datacenters: datacenters(),
        ttl: 30,
        max_answers: None,
        all_down: AllDown::FailOpen,
    }
}

/// `pool eu` (fra: .10, .11, 2001:db8::10) and `pool us` (iad: 198.51.100.10, 2001:db8::20).
pub(crate) fn eu_us(selection: Selection) -> Vec<Arc<Pool>> {
    vec![
        pool(
            "eu",
            selection,
            vec![
                member("192.0.2.10", Some(FRANKFURT), 1),
                member("192.0.2.11", Some(FRANKFURT), 1),
                member("2001:db8::10", Some(FRANKFURT), 1),
            ],
        ),
        pool(
            "us",
            selection,
            vec![
                member("198.51.100.10", Some(ASHBURN), 1),
                member("2001:db8::20", Some(ASHBURN), 1),
            ],
        ),
    ]
}

/// Pools: 0 internal, 1 eu, 2 us, 3 asia.
pub(crate) fn four_pools() -> Vec<Arc<Pool>> {
    let mut p = vec![pool(
        "internal",
        Selection::All,
        vec![member("192.0.2.50", None, 1)],
    )];
    p.extend(eu_us(Selection::All));
    p.push(pool(
        "asia",
        Selection::All,
        vec![
            member("203.0.113.10", Some(SINGAPORE), 1),
            member("2001:db8::30", Some(SINGAPORE), 1),
        ],
    ));
    p
}

/// A client; ECS when `prefix` is shorter than the family, address truncated to it.
pub(crate) fn client(text: &str, prefix: u8) -> Client {
    let addr: IpAddr = text.parse().unwrap();
    let net = IpNet::new(addr, prefix).unwrap();
    Client {
        addr: net.network(),
        source_prefix: prefix,
        from_ecs: prefix < net.max_prefix_len(),
    }
}

/// A snapshot where the members named are down (everything else unknown = up).
pub(crate) fn down(members: &[&str]) -> HealthSnapshot {
    with_status(members, Status::Down)
}

pub(crate) fn with_status(members: &[&str], status: Status) -> HealthSnapshot {
    let targets: HashMap<Arc<str>, TargetHealth> = members
        .iter()
        .map(|m| {
            (
                Arc::from(target(m)),
                TargetHealth {
                    status,
                    forced: false,
                },
            )
        })
        .collect();
    HealthSnapshot::new(1, targets)
}

/// Evaluates `service` for one query without latency measurements (`latency` services use
/// their distance estimates) through the real entry point, [`evaluate_with`].
pub(crate) fn evaluate<R: rand::Rng + ?Sized>(
    service: &Service,
    want: Want,
    client: &Client,
    geo: &dyn Locate,
    health: &HealthSnapshot,
    rng: &mut R,
    trace: Option<&mut Trace>,
) -> Decision {
    let inputs = Inputs {
        geo,
        health,
        latency: LatencyView::none(),
        load: crate::load::LoadSnapshot::none(),
    };
    evaluate_with(service, want, client, &inputs, rng, trace)
}

/// Evaluates with a fixed seed and the fake world.
pub(crate) fn run(
    service: &Service,
    want: Want,
    client: &Client,
    health: &HealthSnapshot,
) -> Decision {
    let mut rng = StdRng::seed_from_u64(7);
    evaluate(service, want, client, &world(), health, &mut rng, None)
}

/// Like [`run`], also returning the rendered trace.
pub(crate) fn explain(
    service: &Service,
    want: Want,
    client: &Client,
    health: &HealthSnapshot,
) -> (Decision, String) {
    let mut rng = StdRng::seed_from_u64(7);
    let mut trace = Trace::new();
    let d = evaluate(
        service,
        want,
        client,
        &world(),
        health,
        &mut rng,
        Some(&mut trace),
    );
    (d, trace.to_string())
}

pub(crate) fn texts(d: &Decision) -> Vec<String> {
    let mut v: Vec<String> = d.answers.iter().map(ToString::to_string).collect();
    v.sort();
    v
}
