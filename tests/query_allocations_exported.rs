//! With the Prometheus recorder a server installs, answering allocates only the exporter's
//! histogram storage: one query in 16 is timed, and the samples are kept in blocks of 64
//! until a scrape or the upkeep task folds them into buckets.

mod alloc_support;
// The integration harness's DNS helpers (query building), shared rather than copied.
#[allow(dead_code)]
#[path = "it/support/dns.rs"]
mod dns;

use alloc_support::{COUNTRY_SUBNETS, Thread, allocations, handler, questions};

#[test]
fn with_the_recorder_only_histogram_blocks_are_allocated() {
    // As `serve` does: the recorder first, so every metric handle is a real one.
    meridian::metrics::install().unwrap();
    let handler = handler("zones", "geoip/geo-whois-asn-country.mmdb");
    let questions = questions(&COUNTRY_SUBNETS);
    let mut thread = Thread::new(&handler);
    assert_eq!(thread.rounds(&questions, 64), 64 * questions.len());
    let before = allocations();
    let replies = thread.rounds(&questions, 1024);
    let allocated = allocations() - before;
    assert_eq!(replies, 1024 * questions.len());
    let timed = replies / 16;
    let most = timed / 64 + 1;
    assert!(
        allocated as usize <= most,
        "{allocated} allocations over {replies} queries ({timed} timed; at most {most})"
    );
    assert!(
        allocated > 0,
        "the timed samples reached the recorder's histogram"
    );
}
