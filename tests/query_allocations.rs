//! The UDP query path allocates nothing per query: every kind of question the reference
//! zone answers, with a country database and with a City database (subdivisions), counted
//! by a global allocator (no metrics recorder installed, so only Meridian's own code is
//! counted; `query_allocations_exported.rs` adds the recorder).

mod alloc_support;
// The integration harness's DNS helpers (query building), shared rather than copied.
#[allow(dead_code)]
#[path = "it/support/dns.rs"]
mod dns;

use alloc_support::{
    CITY_SUBNETS, COUNTRY_SUBNETS, Thread, allocations, handler, packet, questions,
};
use hickory_proto::rr::RecordType;
use meridian::dns::Handler;

fn allocations_per_question(geoip: &str, subnets: &[&str]) {
    let handler = handler("zones", geoip);
    assert_no_allocations(&handler, &questions(subnets), geoip);
}

fn assert_no_allocations(handler: &Handler, questions: &[Vec<u8>], what: &str) {
    let mut thread = Thread::new(handler);
    // Warm-up: metric handles, the memo, the decoded-GeoIP cache, the weighted draw.
    assert_eq!(thread.rounds(questions, 64), 64 * questions.len());
    // Each question on its own, then all of them interleaved.
    let mut allocating = Vec::new();
    for (i, q) in questions.iter().enumerate() {
        let before = allocations();
        for _ in 0..64 {
            thread.ask(q);
        }
        let n = allocations() - before;
        if n > 0 {
            allocating.push(format!("question {i}: {n} allocations in 64 replies"));
        }
    }
    assert!(allocating.is_empty(), "{what}: {allocating:#?}");
    let before = allocations();
    let replies = thread.rounds(questions, 256);
    let allocated = allocations() - before;
    assert_eq!(replies, 256 * questions.len());
    assert_eq!(
        allocated, 0,
        "{what}: {allocated} allocations over {replies} queries"
    );
}

#[test]
fn answering_allocates_nothing_per_query() {
    allocations_per_question("geoip/geo-whois-asn-country.mmdb", &COUNTRY_SUBNETS);
}

#[test]
fn answering_with_a_city_database_allocates_nothing_per_query() {
    allocations_per_question("geoip/test-city.mmdb", &CITY_SUBNETS);
}

#[test]
fn answering_while_load_sheds_allocates_nothing_per_query() {
    let handler = handler("zones", "geoip/geo-whois-asn-country.mmdb");
    let load = meridian::load::LoadSnapshot::from_shares(
        &[("192.0.2.10/web", 0.5)],
        &[("us-east", 0.5), ("eu-west", 0.3), ("ap-south", 1.0)],
    );
    handler.snapshots().load.store(std::sync::Arc::new(load));
    assert_no_allocations(&handler, &questions(&COUNTRY_SUBNETS), "load shedding");
}

#[test]
fn cname_services_allocate_nothing_per_query_in_or_out_of_the_zone() {
    let handler = handler(
        "tests/fixtures/cname_service",
        "geoip/geo-whois-asn-country.mmdb",
    );
    let questions: Vec<Vec<u8>> = ["inside.cname.test.", "outside.cname.test."]
        .iter()
        .map(|name| packet(name, RecordType::A, None))
        .collect();
    assert_no_allocations(&handler, &questions, "cname_service");
}

#[test]
fn signed_steered_answers_allocate_nothing_per_query_once_remembered() {
    use meridian::dnssec::{Algorithm, SigningKey};
    use std::os::unix::fs::PermissionsExt;
    // The reference zone, signed with a new key.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("keys")).unwrap();
    let key = dir.path().join("keys/csk.pem");
    std::fs::write(&key, SigningKey::generate_pem(Algorithm::Ed25519)).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let zone = std::fs::read_to_string("zones/gslb.example.com.toml").unwrap();
    let signed = format!("{zone}\n[dnssec]\nalgorithm = \"ed25519\"\ncsk = \"keys/csk.pem\"\n");
    std::fs::write(dir.path().join("gslb.example.com.toml"), signed).unwrap();
    let handler = handler(
        dir.path().to_str().unwrap(),
        "geoip/geo-whois-asn-country.mmdb",
    );
    let mut questions = Vec::new();
    for subnet in COUNTRY_SUBNETS {
        for service in ["geo", "near", "fast", "api", "login"] {
            let name = format!("{service}.gslb.example.com.");
            let mut m = dns::with_edns(dns::query(&name, RecordType::A), 1232, Some(subnet));
            m.edns.as_mut().unwrap().set_dnssec_ok(true);
            questions.push(m.to_vec().unwrap());
        }
    }
    // Sign every answer the draws give, then publish the signatures as the maintenance
    // task does each second.
    let mut thread = Thread::new(&handler);
    thread.rounds(&questions, 64);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as u32;
    handler.signatures().maintain(now);
    assert!(!handler.signatures().is_empty());
    assert_no_allocations(&handler, &questions, "signed steered answers");
}

#[test]
fn latency_estimates_from_neighbours_allocate_nothing_per_query() {
    let handler = handler("zones", "geoip/geo-whois-asn-country.mmdb");
    // Measured neighbours of the queried subnets (same AS and country, same /16), and
    // one measured subnet; the rest of each client's datacenters come from great-circle.
    let rows = "81.2.70.0/24,us-east,90,30\n81.2.71.0/24,us-east,110,30\n\
                8.8.4.0/24,eu-west,95,30\n8.8.9.0/24,eu-west,85,30\n\
                1.0.17.0/24,us-east,200,30\n1.0.18.0/24,us-east,210,30\n\
                203.0.113.0/24,ap-south,40,30\n";
    let (applied, groups) = meridian::app::publish_latency_rows(handler.snapshots(), rows);
    assert_eq!(applied, 7);
    assert!(groups >= 3, "{groups} neighbour groups");
    assert_no_allocations(&handler, &questions(&COUNTRY_SUBNETS), "latency neighbours");
}
