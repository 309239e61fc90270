//! Steering end to end: real HTTP backends on 127.0.0.x probed by the health subsystem,
//! queries with ECS from several countries resolved through the test GeoIP database.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::{RData, RecordType};
use meridian::app::Running;

use crate::support::*;

struct World {
    server: Running,
    eu: Arc<AtomicBool>,
    us: Arc<AtomicBool>,
    ap: Arc<AtomicBool>,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let (eu_addr, eu) = backend("127.0.0.21").await;
    let (us_addr, us) = backend("127.0.0.22").await;
    let (ap_addr, ap) = backend("127.0.0.23").await;
    let zone = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/steer.toml"
    ))
    .replace("EU_PROBE", &eu_addr.to_string())
    .replace("US_PROBE", &us_addr.to_string())
    .replace("AP_PROBE", &ap_addr.to_string());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("steer.test.toml"), zone).unwrap();
    let zones = dir.path().to_str().unwrap().to_string();
    let server = start_with(&zones, |c| c.geoip = "geoip/test-city.mmdb".into()).await;
    tokio::time::timeout(Duration::from_secs(5), server.health.wait_ready())
        .await
        .expect("warm start finishes")
        .unwrap();
    World {
        server,
        eu,
        us,
        ap,
        _dir: dir,
    }
}

async fn ask(w: &World, name: &str, qtype: RecordType, ecs: Option<&str>) -> Message {
    let q = with_edns(query(name, qtype), 1232, ecs);
    udp(w.server.udp_addrs[0], &q).await
}

fn scope(m: &Message) -> Option<u8> {
    match m.edns.as_ref()?.option(EdnsCode::Subnet)? {
        EdnsOption::Subnet(s) => Some(s.scope_prefix()),
        _ => None,
    }
}

#[tokio::test]
async fn geo_answers_follow_the_client_country_with_exact_scopes() {
    let w = world().await;
    let cases = [
        // (ECS, expected answer, expected scope): scope = min(GeoIP network, source).
        ("198.51.100.0/24", "198.51.100.10", 24), // DE -> EU; DB network /26, source /24
        ("198.51.100.77/32", "198.51.100.10", 26), // FR /26 -> EU
        ("203.0.113.5/32", "203.0.113.10", 25),   // JP (203.0.113.0/25) -> AS
        ("203.0.113.130/32", "203.0.113.10", 26), // AU (OC) -> ap; SG /29 nested splits the /25
        ("8.8.8.0/24", "192.0.2.10", 24),         // US -> default (us first)
        ("41.1.0.0/16", "198.51.100.10", 11),     // ZA (AF) -> eu first; DB network /11
        ("0.0.0.0/0", "192.0.2.10", 0),           // source 0: no location, scope 0
    ];
    for (ecs, want, want_scope) in cases {
        let reply = ask(&w, "geo.steer.test.", RecordType::A, Some(ecs)).await;
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError, "{ecs}");
        assert_eq!(addrs(&reply), vec![ip(want)], "{ecs}");
        assert_eq!(scope(&reply), Some(want_scope), "scope for {ecs}");
        assert_eq!(reply.answers[0].ttl, 20);
    }
    // IPv6 ECS, AAAA answers.
    let reply = ask(
        &w,
        "geo.steer.test.",
        RecordType::AAAA,
        Some("2001:db8:2::/48"),
    )
    .await;
    assert_eq!(addrs(&reply), vec![ip("2001:db8:a::10")]);
    assert_eq!(scope(&reply), Some(48));
    // Without ECS the packet source (127.0.0.1, not in the database) picks the default.
    let plain = udp(
        w.server.udp_addrs[0],
        &query("geo.steer.test.", RecordType::A),
    )
    .await;
    assert_eq!(addrs(&plain), vec![ip("192.0.2.10")]);
}

/// Queries sent back to back reach the UDP loop as batches, which it parses whole before
/// answering (prefetching GeoIP data): every reply still goes to its own query, with the
/// answer and scope of its own subnet.
#[tokio::test]
async fn a_burst_of_geo_queries_gets_each_its_own_answer_and_scope() {
    let w = world().await;
    let cases = [
        ("198.51.100.0/24", "198.51.100.10", 24),
        ("203.0.113.5/32", "203.0.113.10", 25),
        ("8.8.8.0/24", "192.0.2.10", 24),
        ("41.1.0.0/16", "198.51.100.10", 11),
        ("203.0.113.130/32", "203.0.113.10", 26),
    ];
    // One client socket per case, sends interleaved: a reply sent to the wrong query's
    // address lands on a socket expecting another answer.
    let mut sockets = Vec::new();
    for _ in cases {
        sockets.push(tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
    }
    let rounds = 40u16;
    for id in 0..rounds {
        for ((ecs, _, _), socket) in cases.iter().zip(&sockets) {
            let mut q = with_edns(query("geo.steer.test.", RecordType::A), 1232, Some(ecs));
            q.metadata.id = id;
            let packet = q.to_vec().unwrap();
            socket
                .send_to(&packet, w.server.udp_addrs[0])
                .await
                .unwrap();
        }
    }
    let mut buf = vec![0u8; 4096];
    for ((ecs, want, want_scope), socket) in cases.iter().zip(&sockets) {
        let mut seen = vec![false; usize::from(rounds)];
        for _ in 0..rounds {
            let (len, _) = tokio::time::timeout(Duration::from_secs(5), socket.recv_from(&mut buf))
                .await
                .expect("every query is answered")
                .unwrap();
            let reply = Message::from_vec(&buf[..len]).unwrap();
            let id = usize::from(reply.metadata.id);
            assert!(
                !std::mem::replace(&mut seen[id], true),
                "one reply per query"
            );
            assert_eq!(addrs(&reply), vec![ip(want)], "{ecs}");
            assert_eq!(scope(&reply), Some(*want_scope), "scope for {ecs}");
        }
    }
}

#[tokio::test]
async fn failed_datacenter_leaves_answers_and_returns_with_correct_scope() {
    let w = world().await;
    let de = Some("198.51.100.0/24");
    assert_eq!(
        addrs(&ask(&w, "geo.steer.test.", RecordType::A, de).await),
        vec![ip("198.51.100.10")]
    );
    // interval 100ms x fall 2 + timeout 80ms + 1s is the bound the issue sets.
    let bound = Duration::from_millis(100 * 2 + 80 + 1000);
    w.eu.store(false, Ordering::SeqCst);
    let left = wait_for_answer(&w, de, "192.0.2.10", bound).await;
    println!("eu left answers after {left:?} (bound {bound:?})");
    let reply = ask(&w, "geo.steer.test.", RecordType::A, de).await;
    assert_eq!(
        scope(&reply),
        Some(24),
        "scope still from the client location"
    );
    w.eu.store(true, Ordering::SeqCst);
    let back = wait_for_answer(&w, de, "198.51.100.10", bound).await;
    println!("eu came back after {back:?}");
}

async fn wait_for_answer(w: &World, ecs: Option<&str>, want: &str, bound: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let reply = ask(w, "geo.steer.test.", RecordType::A, ecs).await;
        if addrs(&reply) == vec![ip(want)] {
            return start.elapsed();
        }
        assert!(start.elapsed() < bound, "no {want} within {bound:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn everything_down_uses_the_fallback_and_failover_order_holds() {
    let w = world().await;
    let reply = ask(&w, "fo.steer.test.", RecordType::A, None).await;
    assert_eq!(addrs(&reply), vec![ip("192.0.2.10")]);
    for b in [&w.eu, &w.us, &w.ap] {
        b.store(false, Ordering::SeqCst);
    }
    let start = Instant::now();
    loop {
        let reply = ask(&w, "geo.steer.test.", RecordType::A, Some("8.8.8.0/24")).await;
        if addrs(&reply) == vec![ip("192.0.2.99")] {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "fallback never answered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A fail-open service keeps answering its members when nothing is up.
    let reply = ask(&w, "fo.steer.test.", RecordType::A, None).await;
    assert!(!addrs(&reply).is_empty());
}

#[tokio::test]
async fn service_names_answer_nodata_for_other_types_and_families() {
    let w = world().await;
    for qtype in [RecordType::AAAA, RecordType::MX] {
        let reply = ask(&w, "fo.steer.test.", qtype, None).await;
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
        assert!(reply.answers.is_empty(), "{qtype}");
        assert_eq!(reply.authorities[0].record_type(), RecordType::SOA);
    }
    let reply = ask(&w, "cdn.steer.test.", RecordType::A, None).await;
    assert_eq!(reply.answers.len(), 1);
    assert!(
        matches!(&reply.answers[0].data, RData::CNAME(c) if c.0.to_ascii() == "edge.cdn-a.example.net.")
    );
}

#[tokio::test]
async fn weighted_service_honours_weights() {
    let w = world().await;
    let mut counts = std::collections::HashMap::new();
    let n = 2000;
    for _ in 0..n {
        let reply = ask(&w, "api.steer.test.", RecordType::A, None).await;
        assert_eq!(reply.answers.len(), 1);
        *counts.entry(addrs(&reply)[0]).or_insert(0u32) += 1;
    }
    for (addr, share) in [
        ("192.0.2.20", 0.5),
        ("198.51.100.20", 0.3),
        ("203.0.113.20", 0.2),
    ] {
        let got = f64::from(counts.get(&ip(addr)).copied().unwrap_or(0)) / f64::from(n);
        assert!((got - share).abs() < 0.06, "{addr}: {got} vs {share}");
    }
    let reply = ask(
        &w,
        "api.steer.test.",
        RecordType::A,
        Some("198.51.100.0/24"),
    )
    .await;
    assert_eq!(
        scope(&reply),
        Some(0),
        "random weights do not depend on the client"
    );
}
