//! Recording functions of the latency metrics (names and help texts are in `metrics.rs`).

use std::sync::OnceLock;

use metrics::{Counter, counter, gauge};

use super::{
    LATENCY_DECISIONS, LATENCY_ESTIMATES, LATENCY_EVICTIONS, LATENCY_NETWORKS, LATENCY_SAMPLES,
    LATENCY_TRACKED,
};

/// `source` label values of [`LATENCY_SAMPLES`]; anything else is `other`.
const SAMPLE_SOURCES: [&str; 4] = ["agent", "import", "api", "state"];
/// `source` label values of [`LATENCY_DECISIONS`].
const RTT_SOURCES: [&str; 2] = ["measured", "estimated"];

static DECISIONS: [OnceLock<Counter>; 2] = [const { OnceLock::new() }; 2];

/// Registers every latency series at 0 so a scrape shows them before the first event.
pub(super) fn zeroes() {
    latency_table(0, 0);
    latency_tracked(0);
    for source in SAMPLE_SOURCES {
        latency_samples(source, 0, 0);
    }
    latency_evicted(0);
    for (i, source) in RTT_SOURCES.iter().enumerate() {
        DECISIONS[i]
            .get_or_init(|| counter!(LATENCY_DECISIONS, "source" => *source))
            .increment(0);
    }
}

/// The size of the latency table just published.
pub(crate) fn latency_table(networks: usize, estimates: usize) {
    gauge!(LATENCY_NETWORKS).set(networks as f64);
    gauge!(LATENCY_ESTIMATES).set(estimates as f64);
}

/// A batch of measurements from `source` was applied.
pub(crate) fn latency_samples(source: &str, accepted: usize, rejected: usize) {
    let source = SAMPLE_SOURCES
        .iter()
        .find(|s| **s == source)
        .copied()
        .unwrap_or(super::labels::OTHER);
    counter!(LATENCY_SAMPLES, "source" => source, "result" => "accepted")
        .increment(accepted as u64);
    counter!(LATENCY_SAMPLES, "source" => source, "result" => "rejected")
        .increment(rejected as u64);
}

/// Networks evicted at the cap.
pub(crate) fn latency_evicted(n: usize) {
    counter!(LATENCY_EVICTIONS).increment(n as u64);
}

/// One latency decision (query path: a cached handle, no key built). `measured` is
/// whether the answering datacenter's RTT was measured rather than estimated.
pub(crate) fn latency_decision(measured: bool) {
    let i = usize::from(!measured);
    DECISIONS[i]
        .get_or_init(|| counter!(LATENCY_DECISIONS, "source" => RTT_SOURCES[i]))
        .increment(1);
}

/// Networks in the busiest-networks summary.
pub(crate) fn latency_tracked(n: usize) {
    gauge!(LATENCY_TRACKED).set(n as f64);
}
