//! Every Meridian metric in one place: names, help texts, label sets, buckets, the recorder and typed recording functions.
//!
//! Callers never spell a metric name or a label key: they call [`query`], [`decision`],
//! [`target_state`], [`health_transition`], [`probe`], [`reload`], [`geoip_build_epoch`].
//! The recorder is `metrics-exporter-prometheus` without its own listener: [`install`]
//! returns the [`PrometheusHandle`] that `admin` renders on `GET /metrics`, and [`upkeep`]
//! drains histogram samples between scrapes. Durations are true histograms with the bucket
//! boundaries below, never summaries.
//!
//! Cardinality is bounded: no label holds a client address or a query name. `zone` is a
//! configured origin or `none`; `service` a configured service name; `qtype`, `rcode`,
//! `transport`, `policy`, `kind` and `reason` come from the fixed lists in [`labels`]
//! (anything else is `other`); `target` is a configured `address/check` key. The handle
//! caches cap distinct zones and services per zone at [`cache::MAX_NAMES`].
//!
//! Per-query cost: [`query`] and [`decision`] do not build metric keys. Each socket thread
//! keeps the handles of the zone (and service) it counted last; on a miss they come from a
//! lock-free `ArcSwap` map. A fixed array of lazily registered `Counter` handles is indexed
//! by the positions of the other labels. The thread tallies its counts per cell and adds
//! them to those counters when [`flush`] is called (the UDP loop: once per batch; single
//! queries: once each) or when it moves to another zone or service, so a batch costs one
//! atomic add per cell counted rather than one per query. Durations are measured for one
//! query in [`DURATION_SAMPLE`] per thread and go to one cached `Histogram` per transport.
//! After warm-up a query is a string comparison, a few short scans of the fixed lists and
//! a short scan of the tally, with no allocation (`tests/it/ops/metrics.rs`, ignored test
//! `per_query_cost`, measures it). Handles registered before
//! [`install`] stay no-ops, so install the recorder before serving. Health, probe and reload metrics are
//! rare and go through the `metrics` macros directly.

mod cache;
#[cfg_attr(
    not(feature = "cluster"),
    allow(dead_code, reason = "recorded by the etcd link")
)]
mod cluster;
mod dnssec;
pub mod labels;
mod latency;
mod load;
mod names;
mod queries;
mod targets;

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder};
use tokio_util::sync::CancellationToken;

/// What a decision did: its `as_str` is the `outcome` label of `meridian_decisions_total`.
pub use crate::policy::Outcome;
#[cfg_attr(
    not(feature = "cluster"),
    allow(unused_imports, reason = "recorded by the etcd link")
)]
pub(crate) use cluster::{
    cluster_connected, cluster_ignored, cluster_load_sent, cluster_members, cluster_watch_restart,
};
pub use cluster::{cluster_load_received, cluster_member, cluster_votes};
pub(crate) use dnssec::{SigLookup, dnssec_cache, dnssec_lookup, dnssec_refreshed};
pub(crate) use latency::{
    latency_aggregates, latency_decision, latency_evicted, latency_samples, latency_table,
    latency_tracked,
};
pub(crate) use load::load_bad_input;
pub use load::load_entries;
pub use metrics_exporter_prometheus::PrometheusHandle;
pub use names::*;
pub use queries::{QueryTimer, decision, flush, query};
pub(crate) use targets::render;
pub use targets::{target_removed, target_state};

use crate::health::Status;
use crate::health::check::CheckType;
use labels::{PROBE_REASONS, label_in};

/// How often histogram samples are folded into their buckets between scrapes.
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

#[derive(Clone, Debug, thiserror::Error)]
#[error("installing the Prometheus metrics recorder: {0}")]
/// The Prometheus recorder could not be installed.
pub struct MetricsError(String);

static INSTALLED: OnceLock<Result<PrometheusHandle, MetricsError>> = OnceLock::new();

/// Install the global recorder once (later calls return the same handle), describe every
/// metric and set `meridian_build_info`. Call before the first query is served.
pub fn install() -> Result<PrometheusHandle, MetricsError> {
    INSTALLED
        .get_or_init(|| {
            let handle = builder()
                .map_err(|e| MetricsError(e.to_string()))?
                .install_recorder()
                .map_err(|e| MetricsError(e.to_string()))?;
            describe();
            Ok(handle)
        })
        .clone()
}

fn builder() -> Result<PrometheusBuilder, BuildError> {
    PrometheusBuilder::new()
        .set_buckets(&QUERY_DURATION_BUCKETS)?
        .set_buckets_for_metric(
            Matcher::Full(QUERY_DURATION.into()),
            &QUERY_DURATION_BUCKETS,
        )?
        .set_buckets_for_metric(
            Matcher::Full(PROBE_DURATION.into()),
            &PROBE_DURATION_BUCKETS,
        )
}

fn describe() {
    for m in ALL {
        match m.kind {
            Kind::Counter => metrics::describe_counter!(m.name, m.help),
            Kind::Gauge => metrics::describe_gauge!(m.name, m.help),
            Kind::Histogram => metrics::describe_histogram!(m.name, m.help),
        }
    }
    gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    for result in ["ok", "error"] {
        counter!(RELOADS, "result" => result).increment(0);
    }
    gauge!(OVERRIDE_FILE_UNKNOWN).set(0.0);
    latency::zeroes();
    load::zeroes();
    cluster::zeroes();
    for action in ["drop", "slip"] {
        counter!(RRL_ACTIONS, "action" => action).increment(0);
    }
    dnssec::zeroes();
}

/// Fold histogram samples into buckets every [`UPKEEP_INTERVAL`] until `cancel` fires.
pub(crate) async fn upkeep(handle: PrometheusHandle, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(UPKEEP_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = tick.tick() => handle.run_upkeep(),
        }
    }
}

/// How many override-file selectors name no configured target now.
pub fn override_file_unknown_selectors(count: usize) {
    gauge!(OVERRIDE_FILE_UNKNOWN).set(count as f64);
}

/// A target's status changed. Counted only when it enters (`up`) or leaves (`down`) the
/// answerable set (`Status::usable`); e.g. unknown → up is not counted, up → drained is `down`.
pub fn health_transition(target: &str, from: Status, to: Status) {
    let direction = match (from.usable(), to.usable()) {
        (false, true) => "up",
        (true, false) => "down",
        _ => return,
    };
    counter!(TRANSITIONS, "target" => target.to_string(), "direction" => direction).increment(1);
}

/// One finished probe of a check of type `kind`; `failure` is its reason when it failed
/// (`timeout`, `refused`, `reset`, `status`, `body_mismatch`, `tls`, `other`).
pub fn probe(kind: CheckType, seconds: f64, failure: Option<&str>) {
    let kind = kind.as_str();
    histogram!(PROBE_DURATION, "kind" => kind).record(seconds);
    if let Some(reason) = failure {
        let reason = label_in(&PROBE_REASONS, reason);
        counter!(PROBE_FAILURES, "kind" => kind, "reason" => reason).increment(1);
    }
}

/// A configuration load or reload finished; `generation` is the one now serving. Call it
/// for the initial load too, so the success timestamp is set at start.
pub fn reload(ok: bool, generation: u64) {
    counter!(RELOADS, "result" => if ok { "ok" } else { "error" }).increment(1);
    gauge!(GENERATION).set(generation as f64);
    if ok {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        gauge!(LAST_RELOAD_SUCCESS).set(now);
    }
}

/// The loaded GeoIP database's `build_epoch` (Unix seconds).
pub fn geoip_build_epoch(epoch_seconds: u64) {
    gauge!(GEOIP_BUILD).set(epoch_seconds as f64);
}

#[cfg(test)]
mod series_tests;

/// A UDP response withheld by response rate limiting: `slip` (sent truncated) or `drop`.
pub(crate) fn rrl(slipped: bool) {
    static HANDLES: OnceLock<[metrics::Counter; 2]> = OnceLock::new();
    let handles = HANDLES.get_or_init(|| {
        [
            counter!(RRL_ACTIONS, "action" => "drop"),
            counter!(RRL_ACTIONS, "action" => "slip"),
        ]
    });
    handles[usize::from(slipped)].increment(1);
}
