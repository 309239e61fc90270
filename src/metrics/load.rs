//! Recording functions of the load metrics (names and help texts are in `names.rs`).

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use metrics::{counter, gauge};

use super::{LOAD_BAD_INPUT, LOAD_SHED_DECISIONS, LOAD_SHED_SHARE, LOAD_UTILISATION};
use crate::load::LoadSnapshot;

/// `source` and `reason` label values of [`LOAD_BAD_INPUT`].
const SOURCES: [&str; 3] = ["probe", "api", "prometheus"];
const REASONS: [&str; 6] = [
    "missing_header",
    "missing_field",
    "not_a_number",
    "bad_agent_reply",
    "query_failed",
    "unknown_selector",
];

/// Registers the counters at 0 so a scrape shows them before the first event.
pub(super) fn zeroes() {
    counter!(LOAD_SHED_DECISIONS).absolute(0);
    for source in SOURCES {
        for reason in REASONS {
            counter!(LOAD_BAD_INPUT, "source" => source, "reason" => reason).absolute(0);
        }
    }
}

/// A load value that was refused (and changed nothing).
pub(crate) fn load_bad_input(source: &str, reason: &str) {
    let source = SOURCES
        .iter()
        .find(|s| **s == source)
        .copied()
        .unwrap_or("other");
    let reason = REASONS
        .iter()
        .find(|s| **s == reason)
        .copied()
        .unwrap_or("other");
    counter!(LOAD_BAD_INPUT, "source" => source, "reason" => reason).increment(1);
}

/// The published load: gauges per member (target key) and datacenter (`datacenter:NAME`) (series of entries gone are set
/// to 0), and the shed decisions counted by the policies.
pub fn load_entries(snapshot: &LoadSnapshot) {
    static SHOWN: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let mut shown = SHOWN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let shown = shown.get_or_insert_with(HashSet::new);
    let mut now = HashSet::new();
    for (kind, name, e) in snapshot.iter() {
        let selector = if kind == "datacenter" {
            format!("datacenter:{name}")
        } else {
            name.to_string()
        };
        gauge!(LOAD_UTILISATION, "selector" => selector.clone()).set(e.utilisation);
        gauge!(LOAD_SHED_SHARE, "selector" => selector.clone()).set(e.share);
        now.insert(selector);
    }
    for selector in shown.difference(&now) {
        gauge!(LOAD_UTILISATION, "selector" => selector.clone()).set(0.0);
        gauge!(LOAD_SHED_SHARE, "selector" => selector.clone()).set(0.0);
    }
    *shown = now;
    counter!(LOAD_SHED_DECISIONS)
        .absolute(crate::policy::load::SHED_DECISIONS.load(Ordering::Relaxed));
}
