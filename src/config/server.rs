//! Server settings: a TOML file, `MERIDIAN_*` environment overrides and embedded defaults.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::ConfigError;

/// Every server setting; each key also has a `MERIDIAN_<KEY>` environment variable
/// ([`super::env`] derives them from this struct through serde).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Addresses answered on both UDP and TCP.
    pub listen: Vec<SocketAddr>,
    /// UDP-only addresses (added to `listen`).
    pub udp_listen: Vec<SocketAddr>,
    /// TCP-only addresses (added to `listen`).
    pub tcp_listen: Vec<SocketAddr>,
    /// UDP sockets per address with SO_REUSEPORT; 0 = one per CPU core.
    pub udp_sockets_per_address: usize,
    /// Largest UDP reply, 512..=4096 (RFC 6891 suggests 1232 to avoid fragmentation).
    pub max_udp_payload: u16,
    /// Close TCP connections idle this long (seconds, 1..=300).
    pub tcp_idle_timeout_secs: u64,
    /// Concurrent TCP connections accepted, 1..=1_000_000.
    pub tcp_max_connections: usize,
    /// Concurrent TCP connections from one client address, 1..=1_000_000.
    pub tcp_max_connections_per_client: usize,
    /// Queries answered on one TCP connection before it is closed, 1..=1_000_000.
    pub tcp_max_queries_per_connection: usize,
    /// Longest life of a TCP connection in seconds, whatever its activity (1..=3600).
    pub tcp_max_connection_secs: u64,
    /// Response rate limiting: UDP responses per second per client network; 0 = off.
    pub rrl_responses_per_second: u32,
    /// Responses a quiet network may send at once; 0 = the per-second rate.
    pub rrl_burst: u32,
    /// Every Nth limited response is sent truncated (TC=1) instead of dropped; 0 = never.
    pub rrl_slip: u32,
    /// Client networks are /rrl_ipv4_prefix (IPv4) and /rrl_ipv6_prefix (IPv6).
    pub rrl_ipv4_prefix: u8,
    /// See `rrl_ipv4_prefix`.
    pub rrl_ipv6_prefix: u8,
    /// Token buckets in the limiter's fixed table (memory is 16 bytes each).
    pub rrl_table_size: usize,
    /// Log one query in N at info (client, name, type, rcode); 0 = no query log.
    pub query_log_sample: u64,
    /// DNSSEC: RRsets signed per second on the query path at most (0 = no limit); past it a
    /// UDP query whose reply needs a new signature gets an empty TC=1 reply.
    pub dnssec_signing_budget: u32,
    /// DNSSEC: signatures the signature cache keeps, 1..=10_000_000.
    pub dnssec_signature_cache_size: usize,
    /// Directory of zone policy files (`*.toml`).
    pub zones_dir: PathBuf,
    /// MaxMind-format GeoIP database; empty = no GeoIP.
    pub geoip: PathBuf,
    /// Optional separate ASN database merged into lookups; empty = none.
    pub geoip_asn: PathBuf,
    /// Health state persisted across restarts (JSON); empty = not persisted.
    pub health_state_file: PathBuf,
    /// Operator override file (`SELECTOR STATE` lines), re-read every second; empty = none.
    pub health_override_file: PathBuf,
    /// Admin API and `/metrics` listener.
    pub admin_listen: SocketAddr,
    /// Bearer token for state-changing admin endpoints (`MERIDIAN_ADMIN_TOKEN` wins).
    pub admin_token: Option<Secret>,
    /// A file holding the admin token (trailing whitespace ignored).
    pub admin_token_file: Option<PathBuf>,
    /// Require the token for read-only admin endpoints too (`/healthz`, `/readyz` stay open).
    pub admin_protect_reads: bool,
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// A tracing filter such as `info` or `meridian=debug`.
    pub log_level: String,
    // --- latency steering (see docs/latency.md) ---
    /// Client network prefix lengths of the latency table (IPv4 8..=32, IPv6 16..=62).
    pub latency_prefix_v4: u8,
    /// See `latency_prefix_v4`.
    pub latency_prefix_v6: u8,
    /// Most client networks kept in the latency table (the least useful go first).
    pub latency_max_networks: usize,
    /// RTT estimates older than this are ignored and dropped (seconds, 60..=2592000).
    pub latency_max_age_secs: u64,
    /// Weight of one new sample in the RTT moving average, (0, 1].
    pub latency_ewma_alpha: f64,
    /// Busiest client networks tracked for agents to measure; 0 = tracking off.
    pub latency_top_networks: usize,
    /// CSV or JSON measurements (`network,datacenter,rtt_ms,samples`), re-read on change; empty = none.
    pub latency_import: PathBuf,
    /// The latency table persisted here and read back at start; empty = not persisted.
    pub latency_state_file: PathBuf,
    /// Network → address agents probe instead of its first usable address (`IP` or `IP:PORT`).
    pub latency_representatives: BTreeMap<String, String>,
    // --- load-aware steering (README "Load-aware steering") ---
    /// A load value counts this many seconds after it was reported (1..=86400).
    pub load_ttl_secs: u64,
    /// Least time between a change of a shed share and a release step (ms, 0..=3600000).
    pub load_hold_ms: u64,
    /// Percentage points of capacity below `shed_start` that a release needs (0..=100).
    pub load_hysteresis: f64,
    /// Share of clients brought back per release step, (0, 1].
    pub load_release_step: f64,
    /// Base URL of a Prometheus HTTP API for datacenters' `load_query`; empty = none.
    pub load_prometheus: String,
    /// Time between Prometheus queries (ms, 100..=3600000).
    pub load_prometheus_interval_ms: u64,
    // --- health probes and cluster mode ---
    /// Health probes to IPv4 / IPv6 targets are sent from this local address; unset = the
    /// kernel chooses (multi-homed hosts; one vantage point per instance).
    pub probe_source_v4: Option<IpAddr>,
    /// See `probe_source_v4`.
    pub probe_source_v6: Option<IpAddr>,
    /// Cluster mode over etcd; absent = this instance decides alone.
    pub cluster: Option<super::cluster::ClusterConfig>,
}

pub use super::secret::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
/// How log lines are written on stderr.
pub enum LogFormat {
    /// Human-readable text.
    Text,
    /// One JSON object per line.
    Json,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: vec![
                SocketAddr::from(([127, 0, 0, 1], 5353)),
                SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 5353)),
            ],
            udp_listen: Vec::new(),
            tcp_listen: Vec::new(),
            udp_sockets_per_address: 0,
            max_udp_payload: 1232,
            tcp_idle_timeout_secs: 10,
            tcp_max_connections: 1024,
            tcp_max_connections_per_client: 64,
            tcp_max_queries_per_connection: 1_000_000,
            tcp_max_connection_secs: 300,
            rrl_responses_per_second: 0,
            rrl_burst: 0,
            rrl_slip: 2,
            rrl_ipv4_prefix: 24,
            rrl_ipv6_prefix: 56,
            rrl_table_size: 65_536,
            query_log_sample: 0,
            dnssec_signing_budget: 10_000,
            dnssec_signature_cache_size: 100_000,
            zones_dir: PathBuf::from("zones"),
            geoip: PathBuf::from("geoip/geo-whois-asn-country.mmdb"),
            geoip_asn: PathBuf::new(),
            health_state_file: PathBuf::new(),
            health_override_file: PathBuf::new(),
            admin_listen: SocketAddr::from(([127, 0, 0, 1], 9153)),
            admin_token: None,
            admin_token_file: None,
            admin_protect_reads: false,
            log_format: LogFormat::Text,
            log_level: "info".to_string(),
            latency_prefix_v4: 24,
            latency_prefix_v6: 48,
            latency_max_networks: 1_000_000,
            latency_max_age_secs: 86_400,
            latency_ewma_alpha: 0.3,
            latency_top_networks: 10_000,
            latency_import: PathBuf::new(),
            latency_state_file: PathBuf::new(),
            latency_representatives: BTreeMap::new(),
            load_ttl_secs: 60,
            load_hold_ms: 30_000,
            load_hysteresis: 5.0,
            load_release_step: 0.1,
            load_prometheus: String::new(),
            load_prometheus_interval_ms: 15_000,
            probe_source_v4: None,
            probe_source_v6: None,
            cluster: None,
        }
    }
}

impl ServerConfig {
    /// Parse a server config file's text; `path` names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            ConfigError::at(path, text, span, e.message().trim_end())
        })?;
        config.validate(path)?;
        Ok(config)
    }

    /// Apply `MERIDIAN_*` overrides from `vars` (see [`super::env`]): lists are
    /// comma-separated; a variable naming no setting is an error, like an unknown key.
    pub fn apply_env<'a>(
        &mut self,
        vars: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(), ConfigError> {
        let vars: Vec<(&str, &str)> = vars.into_iter().collect();
        // A `MERIDIAN_CLUSTER_*` variable turns cluster mode on: its section starts from
        // the defaults, so the variable has a table to land in.
        let cluster_var = |(k, _): &&(&str, &str)| k.starts_with("MERIDIAN_CLUSTER_");
        if self.cluster.is_none() && vars.iter().any(|v| cluster_var(&v)) {
            self.cluster = Some(super::cluster::ClusterConfig::default());
        }
        *self = super::env::overlay(std::mem::take(self), vars)?;
        self.validate(Path::new("environment"))
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let fail = |m: &str| Err(ConfigError::file(path, m));
        if self.udp_addresses().is_empty() && self.tcp_addresses().is_empty() {
            return fail("no listen address: set `listen`, `udp_listen` or `tcp_listen`");
        }
        if !(512..=4096).contains(&self.max_udp_payload) {
            return fail("`max_udp_payload` must be within 512..=4096");
        }
        if !(1..=300).contains(&self.tcp_idle_timeout_secs) {
            return fail("`tcp_idle_timeout_secs` must be within 1..=300");
        }
        if !(1..=1_000_000).contains(&self.tcp_max_connections) {
            return fail("`tcp_max_connections` must be within 1..=1000000");
        }
        if !(1..=1_000_000).contains(&self.tcp_max_connections_per_client) {
            return fail("`tcp_max_connections_per_client` must be within 1..=1000000");
        }
        if !(1..=1_000_000).contains(&self.tcp_max_queries_per_connection) {
            return fail("`tcp_max_queries_per_connection` must be within 1..=1000000");
        }
        if !(1..=3600).contains(&self.tcp_max_connection_secs) {
            return fail("`tcp_max_connection_secs` must be within 1..=3600");
        }
        if self.rrl_ipv4_prefix > 32 || self.rrl_ipv6_prefix > 128 {
            return fail(
                "`rrl_ipv4_prefix` must be within 0..=32 and `rrl_ipv6_prefix` within 0..=128",
            );
        }
        if !(1..=10_000_000).contains(&self.dnssec_signature_cache_size) {
            return fail("`dnssec_signature_cache_size` must be within 1..=10000000");
        }
        if !(1..=16_777_216).contains(&self.rrl_table_size) {
            return fail("`rrl_table_size` must be within 1..=16777216");
        }
        self.validate_latency()
            .map_err(|m| ConfigError::file(path, m))?;
        self.validate_load()
            .map_err(|m| ConfigError::file(path, m))?;
        self.validate_probes()
            .map_err(|m| ConfigError::file(path, m))
    }

    fn validate_probes(&self) -> Result<(), String> {
        if self.probe_source_v4.is_some_and(|a| !a.is_ipv4()) {
            return Err("`probe_source_v4` must be an IPv4 address".into());
        }
        if self.probe_source_v6.is_some_and(|a| !a.is_ipv6()) {
            return Err("`probe_source_v6` must be an IPv6 address".into());
        }
        match &self.cluster {
            Some(cluster) => cluster.validate(),
            None => Ok(()),
        }
    }

    fn validate_load(&self) -> Result<(), String> {
        if !(1..=86_400).contains(&self.load_ttl_secs) {
            return Err("`load_ttl_secs` must be within 1..=86400".into());
        }
        if self.load_hold_ms > 3_600_000 {
            return Err("`load_hold_ms` must be within 0..=3600000".into());
        }
        if !(0.0..=100.0).contains(&self.load_hysteresis) {
            return Err("`load_hysteresis` must be within 0..=100".into());
        }
        if !(self.load_release_step > 0.0 && self.load_release_step <= 1.0) {
            return Err("`load_release_step` must be within (0, 1]".into());
        }
        if !(100..=3_600_000).contains(&self.load_prometheus_interval_ms) {
            return Err("`load_prometheus_interval_ms` must be within 100..=3600000".into());
        }
        let p = &self.load_prometheus;
        if !(p.is_empty() || p.starts_with("http://") || p.starts_with("https://")) {
            return Err("`load_prometheus` must be an http:// or https:// URL".into());
        }
        Ok(())
    }

    fn validate_latency(&self) -> Result<(), String> {
        crate::latency::Prefixes {
            v4: self.latency_prefix_v4,
            v6: self.latency_prefix_v6,
        }
        .validate()
        .map_err(|e| format!("`latency_prefix_v4`/`latency_prefix_v6`: {e}"))?;
        if !(1..=100_000_000).contains(&self.latency_max_networks) {
            return Err("`latency_max_networks` must be within 1..=100000000".into());
        }
        if !(60..=2_592_000).contains(&self.latency_max_age_secs) {
            return Err("`latency_max_age_secs` must be within 60..=2592000".into());
        }
        if !(self.latency_ewma_alpha > 0.0 && self.latency_ewma_alpha <= 1.0) {
            return Err("`latency_ewma_alpha` must be within (0, 1]".into());
        }
        if self.latency_top_networks > 1_000_000 {
            return Err("`latency_top_networks` must be within 0..=1000000".into());
        }
        self.representatives().map(|_| ())
    }

    /// The parsed `latency_representatives`.
    pub fn representatives(&self) -> Result<crate::latency::Representatives, String> {
        let pairs = self
            .latency_representatives
            .iter()
            .map(|(n, a)| (n.as_str(), a.as_str()));
        crate::latency::Representatives::parse(pairs)
            .map_err(|e| format!("`latency_representatives`: {}", e.join("; ")))
    }

    pub(crate) fn udp_addresses(&self) -> Vec<SocketAddr> {
        dedup(self.listen.iter().chain(&self.udp_listen))
    }

    pub(crate) fn tcp_addresses(&self) -> Vec<SocketAddr> {
        dedup(self.listen.iter().chain(&self.tcp_listen))
    }
}

fn dedup<'a>(addrs: impl Iterator<Item = &'a SocketAddr>) -> Vec<SocketAddr> {
    let mut out: Vec<SocketAddr> = Vec::new();
    for a in addrs {
        if !out.contains(a) {
            out.push(*a);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_listen_on_loopback_5353() {
        let c = ServerConfig::default();
        assert_eq!(c.udp_addresses().len(), 2);
        assert!(
            c.listen
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 5353)
        );
    }

    #[test]
    fn file_and_env_override() {
        let text = "listen = [\"127.0.0.1:53\"]\nmax_udp_payload = 1400\n";
        let mut c = ServerConfig::parse(Path::new("m.toml"), text).unwrap();
        assert_eq!(c.max_udp_payload, 1400);
        c.apply_env([("MERIDIAN_LISTEN", "127.0.0.1:1,[::1]:2"), ("PATH", "x")])
            .unwrap();
        assert_eq!(c.listen.len(), 2);
        c.apply_env([("MERIDIAN_LOG_FORMAT", "json")]).unwrap();
        assert_eq!(c.log_format, LogFormat::Json);
    }

    #[test]
    fn errors_name_the_key_and_position() {
        let e = ServerConfig::parse(Path::new("m.toml"), "lisen = []\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("m.toml:1:1: unknown field `lisen`")
        );
        let e = ServerConfig::parse(Path::new("m.toml"), "max_udp_payload = 100\n").unwrap_err();
        assert!(e.to_string().contains("512..=4096"));
        let mut c = ServerConfig::default();
        let e = c
            .apply_env([("MERIDIAN_MAX_UDP_PAYLOAD", "x")])
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("MERIDIAN_MAX_UDP_PAYLOAD: invalid value")
        );
    }
}
