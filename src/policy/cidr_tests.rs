//! Tests for the CIDR map: table cases, a brute-force reference, and a 1M-prefix build.

use super::*;
use crate::policy::addr_bits::from_bits;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn map(entries: &[(&str, PoolId)]) -> CidrMap {
    CidrMap::from_prefixes(entries.iter().map(|(p, id)| (net(p), vec![*id]))).unwrap()
}

fn hit(m: &CidrMap, addr: &str) -> (Option<(u8, PoolId)>, u8) {
    let h = m.lookup(addr.parse().unwrap());
    (h.matched.map(|(len, l)| (len, l[0])), h.scope)
}

#[test]
fn longest_prefix_and_scope_table() {
    let m = map(&[
        ("10.0.0.0/8", 1),
        ("10.1.0.0/16", 2),
        ("10.1.2.0/24", 3),
        ("192.0.2.0/24", 4),
        ("2001:db8::/32", 5),
        ("2001:db8:ff00::/40", 6),
    ]);
    // Inside the /16 but away from the /24: scope must exclude 10.1.2.0/24.
    assert_eq!(hit(&m, "10.1.200.1"), (Some((16, 2)), 17));
    assert_eq!(hit(&m, "10.1.3.0"), (Some((16, 2)), 24));
    assert_eq!(hit(&m, "10.1.2.9"), (Some((24, 3)), 24));
    // In the /8, far from the /16: the /8 is uniform only down to the /15 boundary.
    assert_eq!(hit(&m, "10.200.0.1"), (Some((8, 1)), 9));
    assert_eq!(hit(&m, "10.0.0.1"), (Some((8, 1)), 16));
    assert_eq!(hit(&m, "192.0.2.200"), (Some((24, 4)), 24));
    // No match: the scope still has to exclude the nearest entries.
    assert_eq!(hit(&m, "192.0.3.1"), (None, 24));
    assert_eq!(hit(&m, "200.0.0.1"), (None, 5));
    assert_eq!(hit(&m, "2001:db8:1::1"), (Some((32, 5)), 33));
    assert_eq!(hit(&m, "2001:db8:ff00::1"), (Some((40, 6)), 40));
    assert_eq!(hit(&m, "2001:db9::1"), (None, 32));
}

#[test]
fn empty_and_default_route_maps() {
    let empty = CidrMap::default();
    assert_eq!(hit(&empty, "198.51.100.1"), (None, 0));
    assert_eq!(hit(&empty, "2001:db8::1"), (None, 0));
    let all = map(&[("0.0.0.0/0", 7), ("::/0", 8), ("255.255.255.255/32", 9)]);
    assert_eq!(hit(&all, "1.2.3.4"), (Some((0, 7)), 1));
    assert_eq!(hit(&all, "255.255.255.255"), (Some((32, 9)), 32));
    assert_eq!(hit(&all, "255.255.255.254"), (Some((0, 7)), 32));
    assert_eq!(hit(&all, "::1"), (Some((0, 8)), 0));
}

#[test]
fn duplicates_and_bad_lists_are_errors() {
    let err = CidrMap::from_prefixes([(net("10.0.0.0/8"), vec![1]), (net("10.0.0.0/8"), vec![2])]);
    assert!(matches!(err, Err(CidrBuildError::Duplicate { .. })));
    let bad = CidrMap::build(
        vec![CidrEntry {
            prefix: net("10.0.0.0/8"),
            list: 3,
            line: 9,
        }],
        vec![],
    );
    assert_eq!(
        bad.unwrap_err().to_string(),
        "line 9: pool list 3 does not exist"
    );
}

/// Reference: most specific containing entry, and the minimal uniform prefix.
fn reference(entries: &[(u128, u8, PoolId)], x: u128, width: u8) -> (Option<(u8, PoolId)>, u8) {
    let inside = |net: u128, len: u8, s: u8| len <= s && mask(x, width, len) == net;
    let matched = entries
        .iter()
        .filter(|(n, l, _)| inside(*n, *l, width))
        .max_by_key(|(_, l, _)| *l)
        .map(|(_, l, p)| (*l, *p));
    let uniform = |s: u8| {
        !entries
            .iter()
            .any(|&(n, l, _)| l > s && mask(n, width, s) == mask(x, width, s))
    };
    let scope = (0..=width).find(|&s| uniform(s)).unwrap_or(width);
    (matched, scope)
}

fn check_against_reference(raw: &[(u128, u8)], probes: &[u128], width: u8) {
    let mut entries: Vec<(u128, u8, PoolId)> = Vec::new();
    for (i, &(bits, len)) in raw.iter().enumerate() {
        let n = mask(bits, width, len);
        if !entries.iter().any(|&(m, l, _)| m == n && l == len) {
            entries.push((n, len, i));
        }
    }
    let m = CidrMap::from_prefixes(
        entries
            .iter()
            .map(|&(n, l, p)| (IpNet::new(from_bits(n, width), l).unwrap(), vec![p])),
    )
    .unwrap();
    for &x in probes.iter().chain(entries.iter().map(|e| &e.0)) {
        let h = m.lookup(from_bits(x, width));
        let got = (h.matched.map(|(l, list)| (l, list[0])), h.scope);
        assert_eq!(
            got,
            reference(&entries, x, width),
            "probe {}",
            from_bits(x, width)
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn v4_matches_reference(
        raw in prop::collection::vec((0u128..1 << 20, 12u8..=32), 0..40),
        probes in prop::collection::vec(0u128..1 << 20, 1..40),
    ) {
        // Everything inside 10.0.0.0/12 so prefixes nest and touch often.
        let base = 10u128 << 24;
        let raw: Vec<_> = raw.iter().map(|&(b, l)| (base | b, l)).collect();
        let probes: Vec<_> = probes.iter().map(|&b| base | b).collect();
        check_against_reference(&raw, &probes, 32);
    }

    #[test]
    fn v6_matches_reference(
        raw in prop::collection::vec((0u128..1 << 24, 24u8..=64), 0..40),
        probes in prop::collection::vec(0u128..1 << 24, 1..40),
    ) {
        // Prefixes differ in bits 32..56 of 2001:db8::/32.
        let base = 0x2001_0db8u128 << 96;
        let raw: Vec<_> = raw.iter().map(|&(b, l)| (base | b << 72, l)).collect();
        let probes: Vec<_> = probes.iter().map(|&b| base | b << 72 | 1).collect();
        check_against_reference(&raw, &probes, 128);
    }
}

/// `n` distinct pseudo-random prefixes (3/4 IPv4 /8–/24, 1/4 IPv6 /16–/64), cheap in debug builds.
fn random_prefixes(n: usize, seed: u64) -> Vec<IpNet> {
    use crate::hash::mix;
    let mut keys: Vec<(u128, u8, u8)> = Vec::with_capacity(n + n / 8);
    let mut i = seed << 32;
    while keys.len() < n {
        while keys.len() < n + n / 16 {
            i += 1;
            let r = mix(i);
            keys.push(if i % 4 == 3 {
                let len = (r % 49 + 16) as u8;
                (mask(u128::from(mix(!i)) << 64, 128, len), len, 128)
            } else {
                let len = (r % 17 + 8) as u8;
                (mask(u128::from(r >> 32), 32, len), len, 32)
            });
        }
        keys.sort_unstable();
        keys.dedup();
    }
    keys.truncate(n);
    keys.iter()
        .map(|&(bits, len, width)| IpNet::new(from_bits(bits, width), len).unwrap())
        .collect()
}

#[test]
fn a_million_random_prefixes_build_and_answer() {
    let mut rng = StdRng::seed_from_u64(42);
    let lists: Vec<PoolList> = (0..16).map(|i| PoolList::from(vec![i, 15 - i])).collect();
    let prefixes = random_prefixes(1_000_000, 1);
    let probe = prefixes[123_456];
    let entries = prefixes
        .into_iter()
        .enumerate()
        .map(|(i, prefix)| CidrEntry {
            prefix,
            list: (i % 16) as u32,
            line: 0,
        })
        .collect();
    let m = CidrMap::build(entries, lists).unwrap();
    assert_eq!(m.len(), 1_000_000);
    assert!(m.memory_bytes() < 64 << 20, "{} bytes", m.memory_bytes());
    let h = m.lookup(probe.addr());
    let (len, _) = h.matched.unwrap();
    assert!(len >= probe.prefix_len() && h.scope >= len);
    for _ in 0..1000 {
        let h = m.lookup(from_bits(u128::from(rng.next_u32()), 32));
        assert!(h.matched.is_none_or(|(len, _)| h.scope >= len) && h.scope <= 32);
    }
}

/// Build-time check for a million-line file: `cargo test --release --lib -- --ignored --nocapture million`.
#[test]
#[ignore = "timing; run in release"]
fn million_line_file_parses_and_builds_quickly() {
    use std::fmt::Write;
    let mut text = String::with_capacity(40_000_000);
    for (i, prefix) in random_prefixes(1_000_000, 9).iter().enumerate() {
        let _ = writeln!(text, "{prefix} p{},p{}", i % 7, i % 3);
    }
    let start = std::time::Instant::now();
    let file = crate::policy::cidr_file::parse(&text).unwrap();
    let parsed = start.elapsed();
    let map = file.resolve(|name| name[1..].parse().ok()).unwrap();
    let total = start.elapsed();
    println!(
        "parse {parsed:?}, parse+build {total:?}, {} MiB",
        map.memory_bytes() >> 20
    );
    assert_eq!(map.len(), 1_000_000);
}
