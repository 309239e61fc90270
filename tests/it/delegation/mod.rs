//! Meridian as users deploy it: a BIND 9 root and parent delegate to it, Unbound resolves with ECS and caches per scope and TTL.
//
// BIND 9 serves a local root and example.test, which delegates gslb.example.test to
// Meridian; clients ask Unbound, which resolves from the root, sends their ECS subnets to
// Meridian and caches each answer for the scope and TTL Meridian gave. Without bind9 or
// unbound each test is skipped, or fails under `CI=true`.

mod chain;
mod daemon;
mod dnssec;
mod lab;

use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::{RData, RecordType};
use lab::{Lab, ORIGIN, TTL, lab};

use crate::support::{addrs, ip};

/// How long Meridian may take to notice a backend change (interval 100 ms × fall 2 +
/// timeout 80 ms, plus slack for a loaded machine).
const DETECT: Duration = Duration::from_millis(100 * 2 + 80 + 1000);

fn geo() -> String {
    format!("geo.{ORIGIN}.")
}

/// The ECS scope of a reply, if it carried the option.
fn scope(m: &Message) -> Option<u8> {
    match m.edns.as_ref()?.option(EdnsCode::Subnet)? {
        EdnsOption::Subnet(s) => Some(s.scope_prefix()),
        _ => None,
    }
}

/// The window in which a resolver may drop an entry cached with `TTL`: Unbound counts whole
/// seconds, so an entry lives between TTL - 1 and TTL + 1 seconds; polling adds a little.
fn ttl_window() -> (Duration, Duration) {
    (
        Duration::from_secs(TTL - 1),
        Duration::from_secs(TTL + 1) + Duration::from_millis(800),
    )
}

#[tokio::test]
async fn resolver_follows_the_delegation_and_steers_each_ecs_subnet_to_its_region() {
    let Some(lab) = lab().await else {
        return;
    };
    // The chain root -> example.test -> Meridian: the NS set comes from Meridian itself.
    let ns = lab
        .resolve(&format!("{ORIGIN}."), RecordType::NS, None)
        .await;
    assert_eq!(
        ns.metadata.response_code,
        ResponseCode::NoError,
        "{ns:?}\n{}",
        lab.logs()
    );
    let ns1 = format!("ns1.{ORIGIN}.");
    assert!(
        ns.answers
            .iter()
            .any(|r| matches!(&r.data, RData::NS(n) if n.0.to_ascii() == ns1)),
        "{ns:?}"
    );
    let cases = [
        // (client ECS, answer, scope Meridian returns and the resolver passes on)
        ("198.51.100.0/24", "198.51.100.10", 24), // DE -> eu
        ("203.0.113.0/25", "203.0.113.10", 25),   // JP -> ap
        ("203.0.113.128/26", "203.0.113.10", 26), // AU (OC) -> ap
        ("8.8.8.0/24", "192.0.2.10", 24),         // US -> default, us first
        ("41.1.0.0/16", "198.51.100.10", 11),     // ZA (AF) -> eu; database network /11
        ("2001:db8:2::/48", "203.0.113.10", 48),  // JP over IPv6 ECS -> ap
    ];
    for (ecs, want, want_scope) in cases {
        let reply = lab.resolve(&geo(), RecordType::A, Some(ecs)).await;
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError, "{ecs}");
        assert!(
            reply.metadata.recursion_available,
            "{ecs}: from the resolver"
        );
        assert!(!reply.metadata.authoritative, "{ecs}: not from Meridian");
        assert_eq!(addrs(&reply), vec![ip(want)], "{ecs}");
        assert_eq!(u64::from(reply.answers[0].ttl), TTL, "{ecs}: fresh TTL");
        assert_eq!(scope(&reply), Some(want_scope), "{ecs}: resolver's scope");
        let direct = lab.direct(&geo(), RecordType::A, Some(ecs)).await;
        assert_eq!(scope(&direct), Some(want_scope), "{ecs}: Meridian's scope");
    }
    // An answer too big for UDP: Meridian truncates, the resolver retries over TCP.
    let big = format!("big.{ORIGIN}.");
    let tcp_before = lab.meridian_queries_over("TXT", "NOERROR", "tcp").await;
    let over_udp = lab.resolve(&big, RecordType::TXT, None).await;
    assert!(
        over_udp.metadata.truncation,
        "the resolver's UDP reply is truncated too"
    );
    let over_tcp = lab.resolve_tcp(&big, RecordType::TXT).await;
    let text: Vec<String> = over_tcp
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::TXT(t) => Some(String::from_utf8_lossy(&t.txt_data.concat()).into_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(text.len(), 1, "{over_tcp:?}");
    assert!(
        text[0].contains("chunk-00") && text[0].contains("chunk-27"),
        "{text:?}"
    );
    let tcp_after = lab.meridian_queries_over("TXT", "NOERROR", "tcp").await;
    assert!(
        tcp_after > tcp_before,
        "the resolver fetched it from Meridian over TCP"
    );
    lab.shutdown().await;
}

#[tokio::test]
async fn resolver_caches_each_answer_for_the_ecs_scope_meridian_returned() {
    let Some(lab) = lab().await else {
        return;
    };
    // (client ECS, answer, reaches Meridian): a client inside a scope the resolver cached
    // is answered from its cache; a client outside it makes the resolver ask Meridian.
    let steps = [
        ("41.1.0.0/16", "198.51.100.10", true), // ZA: scope /11 = 41.0.0.0/11
        ("41.30.0.0/16", "198.51.100.10", false), // inside 41.0.0.0/11
        ("198.51.100.77/32", "198.51.100.10", true), // FR: scope /26 = .64/26
        ("198.51.100.100/32", "198.51.100.10", false), // inside .64/26
        ("198.51.100.5/32", "198.51.100.10", true), // DE, outside .64/26: scope .0/26
        ("198.51.100.30/32", "198.51.100.10", false), // inside .0/26
        ("8.8.8.0/24", "192.0.2.10", true),     // US: scope /24
        ("8.8.8.128/25", "192.0.2.10", false),  // inside 8.8.8.0/24
        ("203.0.113.200/30", "203.0.113.10", true), // SG /29 inside AU /25: another scope
    ];
    let hits_before = lab.unbound_stat("num.query.subnet_cache");
    let mut hits = 0;
    for (ecs, want, reaches) in steps {
        let before = lab.meridian_queries("A", "NOERROR").await;
        let reply = lab.resolve(&geo(), RecordType::A, Some(ecs)).await;
        let after = lab.meridian_queries("A", "NOERROR").await;
        assert_eq!(addrs(&reply), vec![ip(want)], "{ecs}\n{}", lab.logs());
        assert_eq!(
            after - before,
            u64::from(reaches),
            "{ecs}: queries reaching Meridian"
        );
        hits += u64::from(!reaches);
    }
    let cache_hits = lab.unbound_stat("num.query.subnet_cache") - hits_before;
    assert_eq!(cache_hits, hits, "Unbound's own count of ECS cache answers");
    lab.shutdown().await;
}

/// Ask the resolver until it answers `want`; the time since `since`.
async fn resolver_answers(lab: &Lab, ecs: &str, want: &str, since: Instant) -> Duration {
    let (_, bound) = ttl_window();
    loop {
        let reply = lab.resolve(&geo(), RecordType::A, Some(ecs)).await;
        if addrs(&reply) == vec![ip(want)] {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < bound,
            "resolver: no {want} within {bound:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Ask Meridian until it answers `want`; how long that took.
async fn meridian_answers(lab: &Lab, ecs: &str, want: &str) -> Duration {
    let start = Instant::now();
    loop {
        let reply = lab.direct(&geo(), RecordType::A, Some(ecs)).await;
        if addrs(&reply) == vec![ip(want)] {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < DETECT,
            "Meridian: no {want} within {DETECT:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Fill the resolver's cache with `from`, flip eu, and watch the resolver move to `to`.
async fn resolver_moves(lab: &Lab, eu_up: bool, from: &str, to: &str) -> (Duration, Duration) {
    let ecs = "198.51.100.0/24";
    let (floor, _) = ttl_window();
    let filled = Instant::now();
    let fill = lab.resolve(&geo(), RecordType::A, Some(ecs)).await;
    assert_eq!(addrs(&fill), vec![ip(from)]);
    Lab::set_up(&lab.eu, eu_up);
    let moved = meridian_answers(lab, ecs, to).await;
    // While the entry must still be alive, the resolver serves it without asking Meridian.
    // TTL leaves room for the fill and DETECT: were the entry already due, the cache could
    // not be observed, and that is a failure, not a reason to skip the check.
    let before = lab.meridian_queries("A", "NOERROR").await;
    let cached = lab.resolve(&geo(), RecordType::A, Some(ecs)).await;
    let asked = filled.elapsed();
    assert!(
        asked < floor,
        "the cache check came {asked:?} after the fill (Meridian moved in {moved:?}), \
         past the {floor:?} an entry surely lives: the machine is too slow for TTL {TTL} s"
    );
    assert_eq!(addrs(&cached), vec![ip(from)], "served from the cache");
    assert_eq!(lab.meridian_queries("A", "NOERROR").await, before);
    let seen = resolver_answers(lab, ecs, to, filled).await;
    assert!(
        seen >= floor,
        "resolver moved after {seen:?}, before the TTL"
    );
    (moved, seen)
}

#[tokio::test]
async fn a_failed_backend_leaves_resolver_answers_after_the_service_ttl() {
    let Some(lab) = lab().await else {
        return;
    };
    let (moved, seen) = resolver_moves(&lab, false, "198.51.100.10", "192.0.2.10").await;
    println!("eu down: Meridian moved after {moved:?}, the resolver {seen:?} after its fill");
    let (moved, seen) = resolver_moves(&lab, true, "192.0.2.10", "198.51.100.10").await;
    println!("eu up: Meridian moved after {moved:?}, the resolver {seen:?} after its fill");
    lab.shutdown().await;
}

/// Ask the resolver for a negative answer until the query reaches Meridian again; how long
/// the resolver kept it. `counter` is Meridian's (qtype, rcode) label pair for the query.
async fn negative_lifetime(
    lab: &Lab,
    name: &str,
    qtype: RecordType,
    rcode: ResponseCode,
    counter: (&str, &str),
) -> Duration {
    let ecs = Some("198.51.100.0/24");
    let count = || lab.meridian_queries(counter.0, counter.1);
    let before = count().await;
    let first = lab.resolve(name, qtype, ecs).await;
    let filled = Instant::now();
    assert_eq!(first.metadata.response_code, rcode, "{name}");
    assert!(first.answers.is_empty(), "{name}");
    let soa = first
        .authorities
        .iter()
        .find(|r| r.record_type() == RecordType::SOA);
    assert_eq!(
        soa.map(|r| u64::from(r.ttl)),
        Some(TTL),
        "{name}: {first:?}"
    );
    assert_eq!(count().await, before + 1, "{name}: asked Meridian once");
    let again = lab.resolve(name, qtype, ecs).await;
    assert_eq!(again.metadata.response_code, rcode);
    assert_eq!(count().await, before + 1, "{name}: repeated within the TTL");
    let (_, bound) = ttl_window();
    loop {
        let again = lab.resolve(name, qtype, ecs).await;
        assert_eq!(again.metadata.response_code, rcode, "{name}");
        if count().await > before + 1 {
            return filled.elapsed();
        }
        assert!(
            filled.elapsed() < bound,
            "{name}: still cached after {bound:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn nxdomain_and_nodata_are_cached_for_the_negative_ttl() {
    let Some(lab) = lab().await else {
        return;
    };
    let nx = format!("nope.{ORIGIN}.");
    let www = format!("www.{ORIGIN}.");
    let (nxdomain, nodata) = tokio::join!(
        negative_lifetime(
            &lab,
            &nx,
            RecordType::A,
            ResponseCode::NXDomain,
            ("A", "NXDOMAIN")
        ),
        negative_lifetime(
            &lab,
            &www,
            RecordType::TXT,
            ResponseCode::NoError,
            ("TXT", "NOERROR")
        ),
    );
    println!("NXDOMAIN cached {nxdomain:?}, NODATA {nodata:?} (negative TTL {TTL} s)");
    let (floor, _) = ttl_window();
    assert!(nxdomain >= floor, "NXDOMAIN cached only {nxdomain:?}");
    assert!(nodata >= floor, "NODATA cached only {nodata:?}");
    lab.shutdown().await;
}
