//! Incremental aggregates equal a full build: random sequences of samples, expiry and eviction, and the million-network timing.

use std::net::{IpAddr, Ipv4Addr};

use proptest::prelude::*;

use super::super::latency_build::build;
use super::super::latency_build::tests::{Synthetic, million};
use super::*;
use crate::geo::Location;
use crate::latency::TableConfig;

const NOW: u64 = 1_800_000_000;
const DCS: [&str; 4] = ["a", "b", "c", "nowhere"];
const COORDS: [Option<(f64, f64)>; 4] = [
    Some((50.1, 8.7)),
    Some((39.0, -77.5)),
    Some((1.3, 103.8)),
    None,
];

/// A locator with overlapping groups over 10.0.0.0/14: the third octet decides the AS,
/// country and subdivision; some networks are unknown or have no coordinates.
struct Mixed;

impl Locate for Mixed {
    fn locate(&self, addr: IpAddr) -> Option<Location> {
        let IpAddr::V4(a) = addr else { return None };
        let n = u32::from(a) >> 8 & 0x3ff;
        if n % 13 == 5 {
            return None;
        }
        let sub = ["BE", "BY", "HH"][(n / 5 % 3) as usize];
        Some(Location {
            country: Some([b'A' + (n % 3) as u8, b'Z']),
            subdivision: (n % 4 != 0).then(|| std::sync::Arc::from(sub)),
            coordinates: (n % 11 != 3).then(|| (f64::from(n % 60), f64::from(n % 90))),
            asn: Some(64_500 + n % 7),
            ..Location::default()
        })
    }
}

/// One step: a sample, time passing (with expiry), or an update of the index.
#[derive(Clone, Debug)]
enum Step {
    Sample {
        net: u32,
        dc: usize,
        rtt: f64,
        samples: u32,
        age: u64,
    },
    Pass(u64),
    Update,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (0..200u32, 0..4usize, 1.0..300.0f64, 1..40u32, 0..20_000u64).prop_map(
            |(net, dc, rtt, samples, age)| Step::Sample { net, dc, rtt, samples, age }
        ),
        1 => (1..30_000u64).prop_map(Step::Pass),
        2 => Just(Step::Update),
    ]
}

fn key(t: &LatencyTable, net: u32) -> NetKey {
    // Networks in 10.0/16 and 10.1/16, crossing /20 and /16 boundaries.
    let n = (net % 100) * 7 + (net / 100) * 256;
    t.prefixes()
        .key(Ipv4Addr::from((10 << 24) | (n << 8)).into())
}

/// The same groups with the same estimates (floats within rounding).
fn assert_same(incremental: &Aggregates, full: &Aggregates) {
    assert_eq!(incremental.placed, full.placed, "placed networks");
    assert_eq!(incremental.len(), full.len(), "groups");
    assert_eq!(
        incremental.len(),
        incremental.groups().count(),
        "counted groups"
    );
    for (group, want) in full.groups() {
        let got = incremental
            .get(group)
            .unwrap_or_else(|| panic!("{group:?} missing"));
        assert_eq!(got.len(), want.len(), "{group:?}");
        for (g, w) in got.iter().zip(want.iter()) {
            assert_eq!(
                (g.dc, g.networks, g.samples),
                (w.dc, w.networks, w.samples),
                "{group:?}"
            );
            assert!(
                (g.residual_ms - w.residual_ms).abs() < 1e-3,
                "{group:?}: {g:?} vs {w:?}"
            );
            assert!(
                g.updated.abs_diff(w.updated) <= 1,
                "{group:?}: {g:?} vs {w:?}"
            );
        }
    }
}

fn run(steps: &[Step], max_networks: usize) {
    let config = TableConfig {
        max_networks,
        max_age_secs: 40_000,
        ..TableConfig::default()
    };
    let mut t = LatencyTable::new(config);
    let mut now = NOW;
    let mut index = NeighbourIndex::build(&t, &Mixed, &COORDS, now);
    for s in steps {
        match *s {
            Step::Sample {
                net,
                dc,
                rtt,
                samples,
                age,
            } => {
                let k = key(&t, net);
                t.record(k, DCS[dc], rtt, samples, now - age, now).unwrap();
            }
            Step::Pass(secs) => {
                now += secs;
                t.expire(now);
            }
            Step::Update => {
                index
                    .update(&t, &Mixed, now)
                    .expect("the log holds every change");
                assert!(!index.behind(&t));
                assert_same(&index.aggregates(), &build(&t, &Mixed, &COORDS, now));
            }
        }
    }
    index
        .update(&t, &Mixed, now)
        .expect("the log holds every change");
    assert_same(&index.aggregates(), &build(&t, &Mixed, &COORDS, now));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn incremental_updates_equal_a_full_build(
        steps in prop::collection::vec(step(), 1..300),
        cap in prop_oneof![Just(1_000_000usize), 20..80usize],
    ) {
        run(&steps, cap);
    }
}

#[test]
fn an_index_built_from_scratch_equals_a_full_build_and_follows_removals() {
    let mut t = LatencyTable::new(TableConfig::default());
    for net in 0..200 {
        let k = key(&t, net);
        for dc in DCS {
            t.record(k, dc, 20.0 + f64::from(net % 50), 10, NOW, NOW)
                .unwrap();
        }
    }
    let mut index = NeighbourIndex::build(&t, &Mixed, &COORDS, NOW);
    assert_same(&index.aggregates(), &build(&t, &Mixed, &COORDS, NOW));
    assert!(!index.aggregates().is_empty());
    assert!(index.built_for(&COORDS, 0));
    assert!(!index.built_for(&COORDS[..3], 0));
    // Everything expires: every group goes, and the slots are reused afterwards.
    let later = NOW + TableConfig::default().max_age_secs + 1;
    t.expire(later);
    let done = index.update(&t, &Mixed, later).unwrap();
    assert_eq!(done.networks, 200);
    assert!(index.aggregates().is_empty());
    assert_eq!(index.group_id.len(), 0);
    let slots = index.slots.len();
    let k = key(&t, 7);
    t.record(k, "a", 30.0, 30, later, later).unwrap();
    index.update(&t, &Mixed, later).unwrap();
    assert_same(&index.aggregates(), &build(&t, &Mixed, &COORDS, later));
    assert_eq!(index.slots.len(), slots, "a freed slot is reused");
    assert_eq!(index.update(&t, &Mixed, later).unwrap().networks, 0);
}

/// The figures in docs/latency.md: an incremental update of 1 000 changed networks on
/// the 1M-network table, and the index's memory. Run with `cargo test --release --lib
/// incremental_aggregates_for_a_million_networks -- --ignored --nocapture`.
#[test]
#[ignore = "slow: builds a table of a million networks"]
fn incremental_aggregates_for_a_million_networks() {
    let (mut t, coords) = million(NOW);
    let started = std::time::Instant::now();
    let mut index = NeighbourIndex::build(&t, &Synthetic, &coords, NOW);
    let full = started.elapsed();
    let a = index.aggregates();
    println!(
        "full index build: {full:?}; index {:.1} MB, aggregates {:.1} MB, {} groups",
        index.heap_bytes() as f64 / 1e6,
        a.heap_bytes() as f64 / 1e6,
        a.len()
    );
    for changed in [1u32, 1000, 10_000] {
        let now = NOW + u64::from(changed);
        for i in 0..changed {
            // Spread over the whole table (a stride coprime with its size).
            let j = i * 7919 % 1_000_000;
            let n = (1 << 16) + j + j / 3;
            let k = t.prefixes().key(Ipv4Addr::from(n << 8).into());
            t.record(k, "c", 300.0, 50, now, now).unwrap();
        }
        let started = std::time::Instant::now();
        let done = index.update(&t, &Synthetic, now).unwrap();
        let took = started.elapsed();
        let published = std::time::Instant::now();
        let copy = index.aggregates();
        println!(
            "{changed} changed networks: {done:?} in {took:?} (publishing copy {:?}, {} groups)",
            published.elapsed(),
            copy.len()
        );
    }
    let now = NOW + 10_000;
    assert_same(&index.aggregates(), &build(&t, &Synthetic, &coords, now));
    assert!(index.heap_bytes() < 200_000_000);
    lookups(&index.aggregates());
}

/// Query-path cost: the sharded lookup against one flat map of the same groups (what the
/// aggregates were before sharding), over every group and as many absent ones.
fn lookups(a: &Aggregates) {
    let flat: std::collections::HashMap<Group, Box<[crate::latency::aggregate::Estimate]>> = a
        .groups()
        .map(|(g, e)| (*g, e.to_vec().into_boxed_slice()))
        .collect();
    let mut probes: Vec<Group> = a.groups().map(|(g, _)| *g).collect();
    probes.extend((0..probes.len() as u32).map(|i| Group::Asn(4_000_000 + i)));
    // In group order: unrelated to either map's layout.
    probes.sort_unstable();
    let time = |f: &dyn Fn(&Group) -> usize| {
        let started = std::time::Instant::now();
        let mut found = 0;
        for _ in 0..10 {
            found += probes.iter().map(f).sum::<usize>();
        }
        (
            started.elapsed().as_nanos() as f64 / (10 * probes.len()) as f64,
            found,
        )
    };
    let (sharded, n1) = time(&|g| a.get(g).map_or(0, <[_]>::len));
    let (single, n2) = time(&|g| flat.get(g).map_or(0, |e| e.len()));
    assert_eq!(n1, n2);
    println!("lookup: sharded {sharded:.1} ns, one map {single:.1} ns (per lookup, half absent)");
}

#[test]
fn a_network_changed_again_after_an_update_is_updated_again() {
    // Found by the property test: the log once skipped a repeat of its newest entry,
    // which the index had already read.
    let mut t = LatencyTable::new(TableConfig::default());
    let k = key(&t, 51);
    t.record(k, "b", 36.0, 20, NOW, NOW).unwrap();
    let mut index = NeighbourIndex::build(&t, &Mixed, &COORDS, NOW);
    t.record(k, "b", 1.0, 29, NOW, NOW).unwrap();
    assert_eq!(index.update(&t, &Mixed, NOW).unwrap().networks, 1);
    assert_same(&index.aggregates(), &build(&t, &Mixed, &COORDS, NOW));
    assert!(!index.aggregates().is_empty());
}
