//! Unit tests of the neighbour aggregates: one per level, each threshold, the weighted median and recency.

use std::sync::atomic::AtomicUsize;

use super::super::fixtures::FakeGeo;
use super::*;
use crate::geo::Location;
use crate::latency::TableConfig;
use crate::latency::aggregate::Estimate;

const NOW: u64 = 1_800_000_000;
const FRA: (f64, f64) = (50.11, 8.68);
/// Every test network sits here: its great-circle prediction to `fra` is the same.
const HERE: (f64, f64) = (52.52, 13.40);

/// (network /24, AS, country, subdivision)
type Net<'a> = (&'a str, u32, &'a str, Option<&'a str>);

fn geo(nets: &[Net<'_>]) -> FakeGeo {
    FakeGeo {
        table: nets
            .iter()
            .map(|&(net, asn, country, sub)| {
                let loc = Location {
                    country: Some(country.as_bytes().try_into().unwrap()),
                    subdivision: sub.map(std::sync::Arc::from),
                    coordinates: Some(HERE),
                    asn: Some(asn),
                    ..Location::default()
                };
                (format!("{net}/24").parse().unwrap(), loc)
            })
            .collect(),
        lookups: AtomicUsize::new(0),
    }
}

fn predicted() -> f64 {
    estimate_rtt_ms(haversine_km(HERE, FRA))
}

/// (network, RTT to fra, samples, age in seconds)
fn build_from(nets: &[Net<'_>], rows: &[(&str, f64, u32, u64)]) -> Aggregates {
    let mut t = LatencyTable::new(TableConfig::default());
    for &(net, rtt, samples, age) in rows {
        let key = t.prefixes().key(net.parse().unwrap());
        t.record(key, "fra", rtt, samples, NOW - age, NOW).unwrap();
    }
    build(&t, &geo(nets), &[Some(FRA)], NOW)
}

fn residual(a: &Aggregates, g: Group) -> Option<Estimate> {
    a.get(&g).and_then(|e| e.first().copied())
}

fn close(e: Option<Estimate>, want: f64) -> Estimate {
    let e = e.expect("an estimate");
    assert!(
        (f64::from(e.residual_ms) - want).abs() < 0.01,
        "{e:?} vs {want}"
    );
    e
}

#[test]
fn same_as_and_country_needs_one_network_and_twenty_samples() {
    let nets = [("10.1.0.0", 1, "DE", None), ("10.2.0.0", 1, "DE", None)];
    let p = predicted();
    let a = build_from(
        &nets,
        &[("10.1.0.0", p + 40.0, 10, 0), ("10.2.0.0", p + 60.0, 10, 0)],
    );
    let e = close(residual(&a, Group::AsnCountry(1, *b"DE")), 50.0);
    assert_eq!((e.networks, e.samples, e.updated), (2, 20, NOW as u32));
    // Two networks are too few for an AS, a covering prefix or a country.
    assert_eq!(residual(&a, Group::Asn(1)), None);
    assert_eq!(residual(&a, Group::Country(*b"DE")), None);
    assert_eq!(a.per_level(), [1, 0, 0, 0, 0, 0]);
    // Nineteen samples are too few.
    let a = build_from(&nets, &[("10.1.0.0", p, 10, 0), ("10.2.0.0", p, 9, 0)]);
    assert!(a.is_empty());
    // One network with twenty samples is enough for its AS in its country, nothing else.
    let a = build_from(&nets[..1], &[("10.1.0.0", p + 7.0, 20, 0)]);
    close(residual(&a, Group::AsnCountry(1, *b"DE")), 7.0);
    assert_eq!(a.per_level(), [1, 0, 0, 0, 0, 0]);
}

#[test]
fn covering_prefixes_group_neighbours_of_different_ases() {
    let nets = [
        ("10.1.0.0", 1, "DE", None),
        ("10.1.15.0", 2, "FR", None),
        ("10.1.16.0", 3, "GB", None),
    ];
    let p = predicted();
    let rows = [
        ("10.1.0.0", p + 10.0, 10, 0),
        ("10.1.15.0", p + 20.0, 10, 0),
        ("10.1.16.0", p + 30.0, 10, 0),
    ];
    let a = build_from(&nets, &rows);
    // 10.1.0.0/20 holds two networks; 10.1.16.0/20 one (too few).
    close(residual(&a, Group::Prefix(true, 20, 0x0a01_0000)), 15.0);
    assert_eq!(residual(&a, Group::Prefix(true, 20, 0x0a01_1000)), None);
    // The /16 holds all three (weighted median of 10, 20, 30).
    let e = close(residual(&a, Group::Prefix(true, 16, 0x0a01_0000)), 20.0);
    assert_eq!(e.networks, 3);
    // With 19 samples the /16 does not qualify (20 needed), the /20 still does.
    let rows = [
        ("10.1.0.0", p + 10.0, 5, 0),
        ("10.1.15.0", p + 20.0, 5, 0),
        ("10.1.16.0", p + 30.0, 9, 0),
    ];
    let a = build_from(&nets, &rows);
    assert!(residual(&a, Group::Prefix(true, 16, 0x0a01_0000)).is_none());
    assert!(residual(&a, Group::Prefix(true, 20, 0x0a01_0000)).is_some());
}

#[test]
fn an_as_spans_countries_subdivisions_and_countries_span_ases() {
    let nets = [
        ("10.1.0.0", 7, "DE", Some("BE")),
        ("10.2.0.0", 7, "FR", Some("BE")),
        ("10.3.0.0", 7, "NL", None),
        ("10.4.0.0", 8, "DE", Some("BE")),
        ("10.5.0.0", 9, "DE", Some("BE")),
    ];
    let p = predicted();
    let rows: Vec<(&str, f64, u32, u64)> = nets
        .iter()
        .enumerate()
        .map(|(i, n)| (n.0, p + 10.0 * i as f64, 10, 0))
        .collect();
    let a = build_from(&nets, &rows);
    // AS7: 10.1, 10.2, 10.3 (residuals 0, 10, 20).
    close(residual(&a, Group::Asn(7)), 10.0);
    assert_eq!(residual(&a, Group::AsnCountry(7, *b"DE")), None);
    // DE/BE: 10.1, 10.4, 10.5 (0, 30, 40); FR/BE is another subdivision.
    let be = crate::hash::bytes_hash(b"BE");
    close(residual(&a, Group::Subdivision(*b"DE", be)), 30.0);
    assert_eq!(residual(&a, Group::Subdivision(*b"FR", be)), None);
    // DE: the same three networks.
    close(residual(&a, Group::Country(*b"DE")), 30.0);
    assert_eq!(a.per_level(), [0, 0, 0, 1, 1, 1]);
}

#[test]
fn the_median_ignores_an_outlier_and_busy_networks_are_capped() {
    let nets: Vec<Net<'_>> = ["10.1.0.0", "10.2.0.0", "10.3.0.0", "10.4.0.0", "10.5.0.0"]
        .into_iter()
        .map(|n| (n, 1, "DE", None))
        .collect();
    let p = predicted();
    let mut rows: Vec<(&str, f64, u32, u64)> =
        nets[..4].iter().map(|n| (n.0, p + 10.0, 20, 0)).collect();
    // One network with a 500 ms detour and 10000 samples: capped at 50, still outvoted.
    rows.push(("10.5.0.0", p + 500.0, 10_000, 0));
    let a = build_from(&nets, &rows);
    let e = close(residual(&a, Group::AsnCountry(1, *b"DE")), 10.0);
    assert_eq!(e.samples, 10_080);
}

#[test]
fn older_measurements_weigh_less() {
    let nets = [("10.1.0.0", 1, "DE", None), ("10.2.0.0", 1, "DE", None)];
    let p = predicted();
    let old = (4.0 * HALF_LIFE_SECS) as u64;
    let a = build_from(
        &nets,
        &[
            ("10.1.0.0", p + 10.0, 10, 0),
            ("10.2.0.0", p + 90.0, 10, old),
        ],
    );
    close(residual(&a, Group::AsnCountry(1, *b"DE")), 10.0);
    let a = build_from(
        &nets,
        &[
            ("10.1.0.0", p + 10.0, 10, old),
            ("10.2.0.0", p + 90.0, 10, 0),
        ],
    );
    let e = close(residual(&a, Group::AsnCountry(1, *b"DE")), 90.0);
    // The reported time is the weighted mean of the two, near the fresh one.
    assert!(NOW as u32 - e.updated < old as u32 / 10, "{e:?}");
    // Equal weights: the mean of the two middle values.
    let a = build_from(
        &nets,
        &[("10.1.0.0", p + 10.0, 10, 0), ("10.2.0.0", p + 90.0, 10, 0)],
    );
    close(residual(&a, Group::AsnCountry(1, *b"DE")), 50.0);
}

#[test]
fn datacenters_without_coordinates_and_unlocated_networks_do_not_count() {
    let nets = [("10.1.0.0", 1, "DE", None), ("10.2.0.0", 1, "DE", None)];
    let mut t = LatencyTable::new(TableConfig::default());
    for net in ["10.1.0.0", "10.2.0.0", "10.9.0.0"] {
        let key = t.prefixes().key(net.parse().unwrap());
        t.record(key, "nowhere", 50.0, 10, NOW, NOW).unwrap();
    }
    let a = build(&t, &geo(&nets), &[None], NOW);
    assert!(a.is_empty());
    assert_eq!(a.placed, 2, "10.9.0.0 is not in the database");
    assert!(
        build(
            &LatencyTable::new(TableConfig::default()),
            &geo(&nets),
            &[],
            NOW
        )
        .is_empty()
    );
}

/// A locator for the memory test: 64 networks (/24) per AS, 40 ASes per country.
pub(crate) struct Synthetic;

impl Locate for Synthetic {
    fn locate(&self, addr: std::net::IpAddr) -> Option<Location> {
        let std::net::IpAddr::V4(a) = addr else {
            return None;
        };
        let n = u32::from(a) >> 8;
        let asn = n / 64;
        let country = asn / 40 % 200;
        let cc = [b'A' + (country / 26) as u8, b'A' + (country % 26) as u8];
        Some(Location {
            country: Some(cc),
            coordinates: Some((f64::from(country % 90), f64::from(asn % 180))),
            asn: Some(asn),
            ..Location::default()
        })
    }
}

/// 1M measured networks × 5 datacenters at `now` (networks from 1.0.0.0 upwards, 3 in
/// every 4 /24s measured) and the datacenters' coordinates.
pub(crate) fn million(now: u64) -> (LatencyTable, Vec<Option<(f64, f64)>>) {
    let mut t = LatencyTable::new(TableConfig::default());
    let dcs = ["a", "b", "c", "d", "e"];
    for i in 0..1_000_000u32 {
        let n = (1 << 16) + i + i / 3;
        let key = t.prefixes().key(std::net::Ipv4Addr::from(n << 8).into());
        for (d, dc) in dcs.iter().enumerate() {
            let rtt = 20.0 + f64::from((n * 7 + d as u32 * 13) % 200);
            t.record(key, dc, rtt, 5, now, now).unwrap();
        }
    }
    let coords = (0..5u8)
        .map(|d| Some((10.0 * f64::from(d), 20.0)))
        .collect();
    (t, coords)
}

/// The figure in docs/latency.md: 1M measured networks × 5 datacenters. Run with
/// `cargo test --release --lib aggregates_for_a_million_networks -- --ignored --nocapture`.
#[test]
#[ignore = "slow: builds a table of a million networks"]
fn aggregates_for_a_million_networks() {
    let (t, coords) = million(NOW);
    let started = std::time::Instant::now();
    let a = build(&t, &Synthetic, &coords, NOW);
    let took = started.elapsed();
    let per_level = a.per_level();
    println!(
        "1M networks: {} groups {per_level:?}, {:.1} MB, built in {took:?}",
        a.len(),
        a.heap_bytes() as f64 / 1e6
    );
    assert_eq!(a.placed, 1_000_000);
    assert!(a.heap_bytes() < 400_000_000);
}
