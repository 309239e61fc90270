//! Unit tests of the latency table: EWMA, aging, the cap and copy-on-write snapshots.

use super::*;

const NOW: u64 = 1_800_000_000;

fn key(addr: &str) -> NetKey {
    Prefixes::default().key(addr.parse().unwrap())
}

fn table(max_networks: usize) -> LatencyTable {
    LatencyTable::new(TableConfig {
        max_networks,
        max_age_secs: 3600,
        alpha: 0.5,
        ..TableConfig::default()
    })
}

fn rtt(t: &LatencyTable, addr: &str, dc: &str, now: u64) -> Option<Rtt> {
    t.rtt(key(addr), t.dc_index(dc)?, now)
}

#[test]
fn first_sample_sets_then_ewma_moves_by_alpha() {
    let mut t = table(10);
    t.record(key("198.51.100.7"), "fra", 40.0, 1, NOW, NOW)
        .unwrap();
    assert_eq!(
        rtt(&t, "198.51.100.200", "fra", NOW),
        Some(Rtt {
            rtt_ms: 40.0,
            samples: 1,
            updated: NOW
        })
    );
    t.record(key("198.51.100.7"), "fra", 20.0, 1, NOW + 5, NOW + 5)
        .unwrap();
    let r = rtt(&t, "198.51.100.1", "fra", NOW + 5).unwrap();
    assert_eq!((r.rtt_ms, r.samples, r.updated), (30.0, 2, NOW + 5));
    // Weight 2 at alpha 0.5 moves 75 % of the way, like two single samples.
    t.record(key("198.51.100.7"), "fra", 10.0, 2, NOW + 6, NOW + 6)
        .unwrap();
    let r = rtt(&t, "198.51.100.1", "fra", NOW + 6).unwrap();
    assert_eq!((r.rtt_ms, r.samples), (15.0, 4));
    // An older sample still counts but does not move `updated` back.
    t.record(key("198.51.100.7"), "fra", 15.0, 1, NOW, NOW + 6)
        .unwrap();
    assert_eq!(
        rtt(&t, "198.51.100.1", "fra", NOW + 6).unwrap().updated,
        NOW + 6
    );
    assert_eq!((t.networks(), t.cells()), (1, 1));
}

#[test]
fn datacenters_and_families_are_separate() {
    let mut t = table(10);
    t.record(key("198.51.100.7"), "fra", 40.0, 1, NOW, NOW)
        .unwrap();
    t.record(key("198.51.100.7"), "iad", 90.0, 3, NOW, NOW)
        .unwrap();
    t.record(key("2001:db8:1::9"), "iad", 70.0, 1, NOW, NOW)
        .unwrap();
    assert_eq!((t.networks(), t.cells()), (2, 3));
    assert!(t.has_family(true) && t.has_family(false));
    let mut m = t.measured(key("198.51.100.0"), NOW);
    m.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(m.len(), 2);
    assert_eq!((&*m[1].0, m[1].1.rtt_ms, m[1].1.samples), ("iad", 90.0, 3));
    assert_eq!(rtt(&t, "198.51.101.7", "fra", NOW), None);
    assert_eq!(t.datacenters().len(), 2);
    assert_eq!(t.iter().count(), 3);
}

#[test]
fn invalid_samples_are_refused() {
    let mut t = table(10);
    let k = key("192.0.2.1");
    let err = |t: &mut LatencyTable, rtt: f64, w: u32, dc: &str, at: u64| {
        t.record(k, dc, rtt, w, at, NOW).unwrap_err()
    };
    assert!(matches!(
        err(&mut t, f64::NAN, 1, "fra", NOW),
        SampleError::BadRtt(_)
    ));
    assert!(matches!(
        err(&mut t, -1.0, 1, "fra", NOW),
        SampleError::BadRtt(_)
    ));
    assert!(matches!(
        err(&mut t, 1e9, 1, "fra", NOW),
        SampleError::BadRtt(_)
    ));
    assert_eq!(err(&mut t, 5.0, 0, "fra", NOW), SampleError::NoSamples);
    assert_eq!(
        err(&mut t, 5.0, 1, "fra", NOW - 7200),
        SampleError::Stale(7200)
    );
    assert!(matches!(
        err(&mut t, 5.0, 1, "a,b", NOW),
        SampleError::BadDatacenter(_)
    ));
    assert_eq!(t.networks(), 0);
    // A time far in the future is clamped to now.
    t.record(k, "fra", 5.0, 1, NOW + 86_400, NOW).unwrap();
    assert_eq!(rtt(&t, "192.0.2.1", "fra", NOW).unwrap().updated, NOW);
}

#[test]
fn datacenter_names_are_bounded() {
    let mut t = table(10);
    for i in 0..MAX_DATACENTERS {
        t.record(key("192.0.2.1"), &format!("dc{i}"), 1.0, 1, NOW, NOW)
            .unwrap();
    }
    assert_eq!(
        t.record(key("192.0.2.1"), "one-more", 1.0, 1, NOW, NOW),
        Err(SampleError::TooManyDatacenters)
    );
}

#[test]
fn stale_estimates_are_ignored_then_expired() {
    let mut t = table(10);
    t.record(key("192.0.2.1"), "fra", 10.0, 1, NOW, NOW)
        .unwrap();
    t.record(key("192.0.2.1"), "iad", 10.0, 1, NOW + 1000, NOW + 1000)
        .unwrap();
    t.record(key("198.51.100.1"), "fra", 10.0, 1, NOW, NOW)
        .unwrap();
    let later = NOW + 3601;
    assert!(rtt(&t, "192.0.2.1", "fra", later).is_none());
    assert!(rtt(&t, "192.0.2.1", "iad", later).is_some());
    assert_eq!(t.measured(key("192.0.2.1"), later).len(), 1);
    let snapshot = t.clone();
    assert_eq!(t.expire(later), 2);
    assert_eq!((t.networks(), t.cells()), (1, 1));
    assert!(!t.has_family(true) || t.networks() == 1);
    // The snapshot taken before is untouched.
    assert_eq!((snapshot.networks(), snapshot.cells()), (2, 3));
    assert!(rtt(&snapshot, "198.51.100.1", "fra", NOW).is_some());
    assert_eq!(t.expire(later), 0);
}

#[test]
fn the_cap_evicts_the_least_useful_first() {
    let mut t = table(100);
    // 100 networks: 10.0.i.0/24 updated at NOW + i; network 0 has many samples.
    for i in 0..100u64 {
        let weight = if i == 0 { 50 } else { 1 };
        t.record(
            key(&format!("10.0.{i}.1")),
            "fra",
            5.0,
            weight,
            NOW + i,
            NOW + 100,
        )
        .unwrap();
    }
    assert_eq!(t.networks(), 100);
    // One more goes past the cap: the table shrinks to 95, dropping the oldest.
    let evicted = t
        .record(key("10.1.0.1"), "fra", 5.0, 1, NOW + 100, NOW + 100)
        .unwrap();
    assert_eq!(evicted, 6);
    assert_eq!(t.networks(), 95);
    for i in 0..6 {
        assert!(
            rtt(&t, &format!("10.0.{i}.1"), "fra", NOW + 100).is_none(),
            "{i}"
        );
    }
    assert!(rtt(&t, "10.0.6.1", "fra", NOW + 100).is_some());
    assert!(rtt(&t, "10.1.0.1", "fra", NOW + 100).is_some());
}

#[test]
fn equal_age_evicts_fewest_samples_first() {
    let mut t = table(20);
    for i in 0..21u32 {
        t.record(key(&format!("10.0.{i}.1")), "fra", 5.0, 21 - i, NOW, NOW)
            .unwrap();
    }
    // 21 > 20: evict down to 19, i.e. the two with the fewest samples (i = 20, 19).
    assert_eq!(t.networks(), 19);
    assert!(rtt(&t, "10.0.20.1", "fra", NOW).is_none());
    assert!(rtt(&t, "10.0.19.1", "fra", NOW).is_none());
    assert!(rtt(&t, "10.0.18.1", "fra", NOW).is_some());
}

#[test]
fn snapshots_are_isolated_from_later_writes() {
    let mut t = table(10);
    t.record(key("192.0.2.1"), "fra", 10.0, 1, NOW, NOW)
        .unwrap();
    let published = t.clone();
    t.record(key("192.0.2.1"), "fra", 30.0, 1, NOW, NOW)
        .unwrap();
    t.record(key("198.51.100.1"), "iad", 30.0, 1, NOW, NOW)
        .unwrap();
    assert_eq!(
        rtt(&published, "192.0.2.1", "fra", NOW).unwrap().rtt_ms,
        10.0
    );
    assert_eq!(published.networks(), 1);
    assert_eq!(published.dc_index("iad"), None);
    assert_eq!(rtt(&t, "192.0.2.1", "fra", NOW).unwrap().rtt_ms, 20.0);
}

#[test]
fn a_million_networks_fit_and_publish_cheaply() {
    let mut t = LatencyTable::new(TableConfig {
        max_networks: 1_000_000,
        ..TableConfig::default()
    });
    for i in 0..1_000_000u32 {
        let addr = std::net::IpAddr::from((i << 8).to_be_bytes());
        let k = t.prefixes().key(addr);
        t.record(k, "fra", f64::from(i % 200), 1, NOW, NOW).unwrap();
    }
    assert_eq!(t.networks(), 1_000_000);
    let published = t.clone();
    let start = std::time::Instant::now();
    for i in 0..100u32 {
        let addr = std::net::IpAddr::from((i << 8).to_be_bytes());
        t.record(t.prefixes().key(addr), "iad", 1.0, 1, NOW, NOW)
            .unwrap();
    }
    // 100 writes after a publish copy at most 100 of the 1024 shards.
    assert!(start.elapsed() < std::time::Duration::from_secs(2));
    assert_eq!(published.cells(), 1_000_000);
    assert_eq!(t.cells(), 1_000_100);
}
