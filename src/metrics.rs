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
//! a short scan of the tally, with no allocation (`tests/ops_metrics.rs`, ignored test
//! `per_query_cost`, measures it). Handles registered before
//! [`install`] stay no-ops, so install the recorder before serving. Health, probe and reload metrics are
//! rare and go through the `metrics` macros directly.

mod cache;
mod cluster;
pub mod labels;
mod latency;
mod queries;
mod targets;

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder};
use tokio_util::sync::CancellationToken;

/// What a decision did: its `as_str` is the `outcome` label of `meridian_decisions_total`.
pub use crate::policy::Outcome;
pub use cache::MAX_NAMES;
pub use cluster::{
    cluster_connected, cluster_ignored, cluster_member, cluster_members, cluster_votes,
    cluster_watch_restart,
};
pub use latency::{
    latency_decision, latency_evicted, latency_samples, latency_table, latency_tracked,
};
pub use metrics_exporter_prometheus::PrometheusHandle;
pub use queries::{DURATION_SAMPLE, QueryTimer, decision, flush, query};
pub use targets::{render, target_removed, target_state};

use crate::health::Status;
use labels::{PROBE_KINDS, PROBE_REASONS, label_in};

pub const BUILD_INFO: &str = "meridian_build_info";
pub const QUERIES: &str = "meridian_queries_total";
pub const QUERY_DURATION: &str = "meridian_query_duration_seconds";
pub const DECISIONS: &str = "meridian_decisions_total";
pub const TARGET_STATE: &str = "meridian_health_target_state";
pub const TARGET_FORCED: &str = "meridian_health_target_forced";
pub const TRANSITIONS: &str = "meridian_health_transitions_total";
pub const PROBE_DURATION: &str = "meridian_probe_duration_seconds";
pub const PROBE_FAILURES: &str = "meridian_probe_failures_total";
pub const RELOADS: &str = "meridian_config_reloads_total";
pub const GENERATION: &str = "meridian_config_generation";
pub const LAST_RELOAD_SUCCESS: &str = "meridian_config_last_reload_success_timestamp_seconds";
pub const GEOIP_BUILD: &str = "meridian_geoip_build_timestamp_seconds";
pub const LATENCY_NETWORKS: &str = "meridian_latency_networks";
pub const LATENCY_ESTIMATES: &str = "meridian_latency_estimates";
pub const LATENCY_SAMPLES: &str = "meridian_latency_samples_total";
pub const LATENCY_EVICTIONS: &str = "meridian_latency_evictions_total";
pub const LATENCY_DECISIONS: &str = "meridian_latency_decisions_total";
pub const LATENCY_TRACKED: &str = "meridian_latency_tracked_networks";
pub const RRL_ACTIONS: &str = "meridian_rrl_actions_total";
pub const CLUSTER_CONNECTED: &str = "meridian_cluster_connected";
pub const CLUSTER_MEMBERS: &str = "meridian_cluster_members";
pub const CLUSTER_DRIFT: &str = "meridian_cluster_drift_members";
pub const CLUSTER_MEMBER: &str = "meridian_cluster_member_info";
pub const CLUSTER_VOTES: &str = "meridian_cluster_votes";
pub const CLUSTER_WATCH_RESTARTS: &str = "meridian_cluster_watch_restarts_total";
pub const CLUSTER_IGNORED: &str = "meridian_cluster_ignored_values_total";
pub const OVERRIDE_FILE_UNKNOWN: &str = "meridian_health_override_file_unknown_selectors";

/// Query handling time: 5 µs to 50 ms (answers are computed in memory).
pub const QUERY_DURATION_BUCKETS: [f64; 13] = [
    0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005,
    0.01, 0.025, 0.05,
];

/// Probe time: 1 ms to 10 s (probe timeouts are a few seconds).
pub const PROBE_DURATION_BUCKETS: [f64; 13] = [
    0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often histogram samples are folded into their buckets between scrapes.
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One metric: the single definition its name, type, help and label keys come from.
#[derive(Clone, Copy, Debug)]
pub struct MetricDef {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
    pub labels: &'static [&'static str],
}

const fn def(
    name: &'static str,
    kind: Kind,
    labels: &'static [&'static str],
    help: &'static str,
) -> MetricDef {
    MetricDef {
        name,
        kind,
        help,
        labels,
    }
}

/// Every metric Meridian exports.
pub const ALL: [MetricDef; 28] = [
    def(
        CLUSTER_CONNECTED,
        Kind::Gauge,
        &[],
        "Cluster mode: 1 while this instance is in touch with etcd, else 0 (always 0 outside cluster mode).",
    ),
    def(
        CLUSTER_MEMBERS,
        Kind::Gauge,
        &[],
        "Cluster mode: instances whose lease is alive, this one included.",
    ),
    def(
        CLUSTER_DRIFT,
        Kind::Gauge,
        &[],
        "Cluster mode: live instances serving compiled zones that differ from this instance's (configuration drift).",
    ),
    def(
        CLUSTER_MEMBER,
        Kind::Gauge,
        &["member", "region", "version", "zone_digest"],
        "Cluster mode: 1 per live instance with its region, version and zone digest; 0 once its lease is gone.",
    ),
    def(
        CLUSTER_VOTES,
        Kind::Gauge,
        &["target", "state"],
        "Cluster mode: live instances voting each target up or down.",
    ),
    def(
        CLUSTER_WATCH_RESTARTS,
        Kind::Counter,
        &[],
        "Cluster mode: times the watch on the cluster's keys was started again.",
    ),
    def(
        CLUSTER_IGNORED,
        Kind::Counter,
        &["reason"],
        "Cluster mode: values under the cluster's prefix ignored, by reason (garbage, foreign_key, future_version, invalid).",
    ),
    def(
        RRL_ACTIONS,
        Kind::Counter,
        &["action"],
        "UDP responses withheld by response rate limiting: dropped, or slipped (sent truncated).",
    ),
    def(
        BUILD_INFO,
        Kind::Gauge,
        &["version"],
        "Always 1; the version label names the running build.",
    ),
    def(
        QUERIES,
        Kind::Counter,
        &["zone", "qtype", "rcode", "transport"],
        "DNS queries answered, by zone origin (none outside every zone), query type, response code and transport.",
    ),
    def(
        QUERY_DURATION,
        Kind::Histogram,
        &["transport"],
        "Time from a received query to its encoded reply, in seconds; measured for one query in 16 per socket thread.",
    ),
    def(
        DECISIONS,
        Kind::Counter,
        &["zone", "service", "policy", "outcome"],
        "Steering decisions for services, by outcome: primary, failover, fail_open, fallback, nodata or servfail.",
    ),
    def(
        TARGET_STATE,
        Kind::Gauge,
        &["target", "state"],
        "1 for the current health state of each target (unknown, up, down, drained), 0 for the others.",
    ),
    def(
        TARGET_FORCED,
        Kind::Gauge,
        &["target"],
        "1 while an operator override decides the target's state, else 0.",
    ),
    def(
        OVERRIDE_FILE_UNKNOWN,
        Kind::Gauge,
        &[],
        "Lines of the override file whose selector names no configured target (each is logged); they change nothing.",
    ),
    def(
        TRANSITIONS,
        Kind::Counter,
        &["target", "direction"],
        "Targets entering (up) or leaving (down) the set that may be answered.",
    ),
    def(
        PROBE_DURATION,
        Kind::Histogram,
        &["kind"],
        "Health probe duration in seconds, by check kind.",
    ),
    def(
        PROBE_FAILURES,
        Kind::Counter,
        &["kind", "reason"],
        "Failed health probes by check kind and reason.",
    ),
    def(
        RELOADS,
        Kind::Counter,
        &["result"],
        "Configuration loads and reloads by result (ok or error).",
    ),
    def(
        GENERATION,
        Kind::Gauge,
        &[],
        "Generation of the configuration now serving (1 at start, +1 per good reload).",
    ),
    def(
        LAST_RELOAD_SUCCESS,
        Kind::Gauge,
        &[],
        "Unix time of the last configuration load that succeeded.",
    ),
    def(
        GEOIP_BUILD,
        Kind::Gauge,
        &[],
        "Build time (build_epoch) of the loaded GeoIP database, Unix seconds.",
    ),
    def(
        LATENCY_NETWORKS,
        Kind::Gauge,
        &[],
        "Client networks in the published latency table.",
    ),
    def(
        LATENCY_ESTIMATES,
        Kind::Gauge,
        &[],
        "Network x datacenter RTT estimates in the published latency table.",
    ),
    def(
        LATENCY_SAMPLES,
        Kind::Counter,
        &["source", "result"],
        "Latency measurements ingested, by source (agent, import, api, state) and result (accepted, rejected).",
    ),
    def(
        LATENCY_EVICTIONS,
        Kind::Counter,
        &[],
        "Client networks evicted from the latency table because it reached its cap.",
    ),
    def(
        LATENCY_DECISIONS,
        Kind::Counter,
        &["source"],
        "Latency policy decisions by where the chosen datacenter's RTT came from (measured or estimated).",
    ),
    def(
        LATENCY_TRACKED,
        Kind::Gauge,
        &[],
        "Client networks in the busiest-networks summary that agents are given to measure.",
    ),
];

#[derive(Clone, Debug, thiserror::Error)]
#[error("installing the Prometheus metrics recorder: {0}")]
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
    cluster::zeroes();
    for action in ["drop", "slip"] {
        counter!(RRL_ACTIONS, "action" => action).increment(0);
    }
}

/// Fold histogram samples into buckets every [`UPKEEP_INTERVAL`] until `cancel` fires.
pub async fn upkeep(handle: PrometheusHandle, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(UPKEEP_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => handle.run_upkeep(),
        }
    }
}

/// The `state` label of a health status.
pub fn state_label(status: Status) -> &'static str {
    match status {
        Status::Unknown => "unknown",
        Status::Up => "up",
        Status::Down => "down",
        Status::Drained => "drained",
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

/// One finished probe of check `kind` (`http`, `tcp`); `failure` is its reason when it
/// failed (`timeout`, `refused`, `reset`, `status`, `body_mismatch`, `tls`, `other`).
pub fn probe(kind: &str, seconds: f64, failure: Option<&str>) {
    let kind = label_in(&PROBE_KINDS, kind);
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
mod tests;

/// A UDP response withheld by response rate limiting: `slip` (sent truncated) or `drop`.
pub fn rrl(slipped: bool) {
    static HANDLES: OnceLock<[metrics::Counter; 2]> = OnceLock::new();
    let handles = HANDLES.get_or_init(|| {
        [
            counter!(RRL_ACTIONS, "action" => "drop"),
            counter!(RRL_ACTIONS, "action" => "slip"),
        ]
    });
    handles[usize::from(slipped)].increment(1);
}
