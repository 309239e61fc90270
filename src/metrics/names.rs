//! Every metric's definition: its name, type, help text and label keys, and the histogram
//! buckets.

pub(crate) const BUILD_INFO: &str = "meridian_build_info";
pub(crate) const QUERIES: &str = "meridian_queries_total";
pub(crate) const QUERY_DURATION: &str = "meridian_query_duration_seconds";
pub(crate) const DECISIONS: &str = "meridian_decisions_total";
pub(crate) const TARGET_STATE: &str = "meridian_health_target_state";
pub(crate) const TARGET_FORCED: &str = "meridian_health_target_forced";
pub(crate) const TRANSITIONS: &str = "meridian_health_transitions_total";
pub(crate) const PROBE_DURATION: &str = "meridian_probe_duration_seconds";
pub(crate) const PROBE_FAILURES: &str = "meridian_probe_failures_total";
pub(crate) const RELOADS: &str = "meridian_config_reloads_total";
pub(crate) const GENERATION: &str = "meridian_config_generation";
pub(crate) const LAST_RELOAD_SUCCESS: &str =
    "meridian_config_last_reload_success_timestamp_seconds";
pub(crate) const GEOIP_BUILD: &str = "meridian_geoip_build_timestamp_seconds";
pub(crate) const LATENCY_NETWORKS: &str = "meridian_latency_networks";
pub(crate) const LATENCY_ESTIMATES: &str = "meridian_latency_estimates";
pub(crate) const LATENCY_SAMPLES: &str = "meridian_latency_samples_total";
pub(crate) const LATENCY_EVICTIONS: &str = "meridian_latency_evictions_total";
pub(crate) const LATENCY_DECISIONS: &str = "meridian_latency_decisions_total";
pub(crate) const LATENCY_TRACKED: &str = "meridian_latency_tracked_networks";
// Latency neighbour estimates (docs/latency.md).
pub(crate) const LATENCY_NEIGHBOUR_GROUPS: &str = "meridian_latency_neighbour_groups";
pub(crate) const LATENCY_NEIGHBOUR_BYTES: &str = "meridian_latency_neighbour_bytes";
pub(crate) const RRL_ACTIONS: &str = "meridian_rrl_actions_total";
pub(crate) const DNSSEC_CACHE_ENTRIES: &str = "meridian_dnssec_signature_cache_entries";
pub(crate) const DNSSEC_LOOKUPS: &str = "meridian_dnssec_signature_lookups_total";
pub(crate) const DNSSEC_SIGNATURES: &str = "meridian_dnssec_signatures_total";
pub(crate) const DNSSEC_BUDGET_EXCEEDED: &str = "meridian_dnssec_budget_exceeded_total";
pub(crate) const OVERRIDE_FILE_UNKNOWN: &str = "meridian_health_override_file_unknown_selectors";
pub(crate) const CLUSTER_CONNECTED: &str = "meridian_cluster_connected";
pub(crate) const CLUSTER_MEMBERS: &str = "meridian_cluster_members";
pub(crate) const CLUSTER_DRIFT: &str = "meridian_cluster_drift_members";
pub(crate) const CLUSTER_MEMBER: &str = "meridian_cluster_member_info";
pub(crate) const CLUSTER_VOTES: &str = "meridian_cluster_votes";
pub(crate) const CLUSTER_WATCH_RESTARTS: &str = "meridian_cluster_watch_restarts_total";
pub(crate) const CLUSTER_IGNORED: &str = "meridian_cluster_ignored_values_total";
pub(crate) const CLUSTER_LOAD_RECEIVED: &str = "meridian_cluster_load_values_received_total";
pub(crate) const CLUSTER_LOAD_WRITTEN: &str = "meridian_cluster_load_values_written_total";
// --- load-aware steering ---
pub(crate) const LOAD_UTILISATION: &str = "meridian_load_utilisation_percent";
pub(crate) const LOAD_SHED_SHARE: &str = "meridian_load_shed_share";
pub(crate) const LOAD_SHED_DECISIONS: &str = "meridian_load_shed_decisions_total";
pub(crate) const LOAD_BAD_INPUT: &str = "meridian_load_bad_input_total";

/// Query handling time: 5 µs to 50 ms (answers are computed in memory).
pub(crate) const QUERY_DURATION_BUCKETS: [f64; 13] = [
    0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005,
    0.01, 0.025, 0.05,
];

/// Probe time: 1 ms to 10 s (probe timeouts are a few seconds).
pub(crate) const PROBE_DURATION_BUCKETS: [f64; 13] = [
    0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
/// The Prometheus type of a metric.
pub enum Kind {
    /// A counter.
    Counter,
    /// A gauge.
    Gauge,
    /// A histogram.
    Histogram,
}

/// One metric: the single definition its name, type, help and label keys come from.
#[derive(Clone, Copy, Debug)]
pub struct MetricDef {
    /// The metric name.
    pub name: &'static str,
    /// Its type.
    pub kind: Kind,
    pub(crate) help: &'static str,
    /// Its label keys.
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
pub const ALL: [MetricDef; 40] = [
    def(
        DNSSEC_CACHE_ENTRIES,
        Kind::Gauge,
        &[],
        "DNSSEC: signatures in the published signature cache.",
    ),
    def(
        DNSSEC_LOOKUPS,
        Kind::Counter,
        &["result"],
        "DNSSEC: RRset signatures looked up for replies: hit (from the cache) or miss.",
    ),
    def(
        DNSSEC_SIGNATURES,
        Kind::Counter,
        &["path"],
        "DNSSEC: signatures made, on the query path (query) or by the background refresh (refresh).",
    ),
    def(
        DNSSEC_BUDGET_EXCEEDED,
        Kind::Counter,
        &[],
        "DNSSEC: signed replies withheld because the per-second signing budget was spent (UDP: sent truncated).",
    ),
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
        "Cluster mode: values under the cluster's prefix ignored, by reason (garbage, foreign_key, future_version, invalid, unknown_selector).",
    ),
    def(
        CLUSTER_LOAD_RECEIVED,
        Kind::Counter,
        &["peer"],
        "Cluster mode: load values received from other instances, by the instance that observed them.",
    ),
    def(
        CLUSTER_LOAD_WRITTEN,
        Kind::Counter,
        &[],
        "Cluster mode: load values this instance observed and wrote to etcd (rate-limited per member or datacenter).",
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
        "Latency policy decisions by where the chosen datacenter's RTT came from: measured, a neighbour level (asn_country, prefix_narrow, prefix_wide, asn, subdivision, country) or estimated (great-circle).",
    ),
    def(
        LATENCY_TRACKED,
        Kind::Gauge,
        &[],
        "Client networks in the busiest-networks summary that agents are given to measure.",
    ),
    def(
        LATENCY_NEIGHBOUR_GROUPS,
        Kind::Gauge,
        &["level"],
        "Groups of client networks with a neighbour estimate in the published aggregates, by level.",
    ),
    def(
        LATENCY_NEIGHBOUR_BYTES,
        Kind::Gauge,
        &[],
        "Estimated heap bytes of the published neighbour aggregates.",
    ),
    // --- load-aware steering ---
    def(
        LOAD_UTILISATION,
        Kind::Gauge,
        &["selector"],
        "Load-aware steering: the last load of a member (`192.0.2.10/web`) or datacenter (`datacenter:NAME`), in percent of its capacity.",
    ),
    def(
        LOAD_SHED_SHARE,
        Kind::Gauge,
        &["selector"],
        "Load-aware steering: share of clients (0 to 1) a member or datacenter sheds.",
    ),
    def(
        LOAD_SHED_DECISIONS,
        Kind::Counter,
        &[],
        "Load-aware steering: decisions in which load moved this client away from at least one candidate.",
    ),
    def(
        LOAD_BAD_INPUT,
        Kind::Counter,
        &["source", "reason"],
        "Load-aware steering: load values refused (changing nothing), by source and reason.",
    ),
];
