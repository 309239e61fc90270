//! The published status report: per-target detail for the admin API, `meridian` status and logs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Serialize, Serializer};

use super::overrides::{Forced, ForcedBy, Source};
use super::persist::unix_ms;
use super::probe::{ProbeFailure, ProbeOutcome};
use super::snapshot::Status;
use super::state::Observed;

/// Everything the tracker knows, published beside each snapshot.
#[derive(Clone, Debug, Default, Serialize)]
pub struct HealthReport {
    /// The generation of the snapshot published with this report.
    pub generation: u64,
    /// True once every target of the first target set has been probed.
    pub ready: bool,
    /// Sorted by key.
    pub targets: Vec<TargetStatus>,
    pub overrides: Vec<OverrideEntry>,
}

/// One target's detail.
#[derive(Clone, Debug, Serialize)]
pub struct TargetStatus {
    #[serde(serialize_with = "ser_str")]
    pub key: Arc<str>,
    #[serde(serialize_with = "ser_str")]
    pub check: Arc<str>,
    pub probe_addr: SocketAddr,
    #[serde(serialize_with = "ser_str")]
    pub datacenter: Arc<str>,
    #[serde(serialize_with = "ser_strs")]
    pub pools: Vec<Arc<str>>,
    /// What the query path sees.
    pub status: Status,
    /// What this instance's probes established, before overrides (in cluster mode the
    /// quorum's verdict is in `cluster`).
    pub observed: Observed,
    /// When `observed` last changed (or was restored).
    #[serde(serialize_with = "ser_time", rename = "since_unix_ms")]
    pub since: SystemTime,
    /// The override deciding `status`, if any.
    pub forced: Option<ForcedBy>,
    /// Cluster mode: every instance's vote, the rule and the effective state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<super::votes::Verdict>,
    pub last_probe: Option<LastProbe>,
    /// Current run of consecutive successes / failures.
    pub successes: u32,
    pub failures: u32,
}

/// The latest probe of a target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LastProbe {
    pub ok: bool,
    #[serde(serialize_with = "ser_ms", rename = "rtt_ms")]
    pub rtt: Duration,
    pub failure: Option<ProbeFailure>,
    #[serde(serialize_with = "ser_time", rename = "at_unix_ms")]
    pub at: SystemTime,
}

/// One override in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OverrideEntry {
    /// In override-file syntax: `192.0.2.10/web`, `pool:NAME`, `datacenter:NAME`.
    pub selector: String,
    pub state: Forced,
    pub source: Source,
}

impl LastProbe {
    pub fn new(outcome: &ProbeOutcome, at: SystemTime) -> Self {
        Self {
            ok: outcome.ok,
            rtt: outcome.rtt,
            failure: outcome.failure.clone(),
            at,
        }
    }
}

impl HealthReport {
    pub fn target(&self, key: &str) -> Option<&TargetStatus> {
        self.targets
            .binary_search_by(|t| (*t.key).cmp(key))
            .ok()
            .map(|i| &self.targets[i])
    }
}

fn ser_str<S: Serializer>(v: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v)
}

fn ser_strs<S: Serializer>(v: &[Arc<str>], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|p| &**p))
}

fn ser_time<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(unix_ms(*t))
}

fn ser_ms<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}
