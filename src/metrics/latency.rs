//! Recording functions of the latency metrics (names and help texts are in `metrics.rs`).

use std::sync::OnceLock;

use metrics::{Counter, counter, gauge};

use crate::policy::RttSource;

use super::{
    LATENCY_DECISIONS, LATENCY_ESTIMATES, LATENCY_EVICTIONS, LATENCY_NEIGHBOUR_BYTES,
    LATENCY_NEIGHBOUR_GROUPS, LATENCY_NETWORKS, LATENCY_SAMPLES, LATENCY_TRACKED,
};
use crate::latency::aggregate::Level;

/// `source` label values of [`LATENCY_SAMPLES`]; anything else is `other`.
const SAMPLE_SOURCES: [&str; 4] = ["agent", "import", "api", "state"];
/// One counter per `source` label value of [`LATENCY_DECISIONS`] (a closed set).
static DECISIONS: [OnceLock<Counter>; RttSource::ALL.len()] =
    [const { OnceLock::new() }; RttSource::ALL.len()];

/// Registers every latency series at 0 so a scrape shows them before the first event.
pub(super) fn zeroes() {
    latency_table(0, 0);
    latency_tracked(0);
    for source in SAMPLE_SOURCES {
        latency_samples(source, 0, 0);
    }
    latency_evicted(0);
    for source in RttSource::ALL {
        decision_counter(source).increment(0);
    }
    latency_aggregates([0; 6], 0);
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

fn decision_counter(source: RttSource) -> &'static Counter {
    DECISIONS[source as usize]
        .get_or_init(|| counter!(LATENCY_DECISIONS, "source" => source.as_str()))
}

/// One latency decision (query path: a cached handle, no key built), by where the
/// answering datacenter's RTT came from: measured, a neighbour level, or great-circle.
pub(crate) fn latency_decision(source: RttSource) {
    decision_counter(source).increment(1);
}

/// Networks in the busiest-networks summary.
pub(crate) fn latency_tracked(n: usize) {
    gauge!(LATENCY_TRACKED).set(n as f64);
}

/// The neighbour aggregates just built: groups per level and their estimated heap bytes.
pub(crate) fn latency_aggregates(per_level: [usize; 6], bytes: usize) {
    for level in Level::ALL {
        gauge!(LATENCY_NEIGHBOUR_GROUPS, "level" => level.as_str())
            .set(per_level[level as usize] as f64);
    }
    gauge!(LATENCY_NEIGHBOUR_BYTES).set(bytes as f64);
}
