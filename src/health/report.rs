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
pub(crate) struct HealthReport {
    /// The generation of the snapshot published with this report.
    pub(crate) generation: u64,
    /// True once every target of the first target set has been probed.
    pub(crate) ready: bool,
    /// Sorted by key.
    pub(crate) targets: Vec<TargetStatus>,
    pub(crate) overrides: Vec<OverrideEntry>,
    /// The last events, newest first (set by the tracker).
    pub(crate) recent: Vec<super::recent::RecentEvent>,
}

/// One target's detail.
#[derive(Clone, Debug, Serialize)]
pub struct TargetStatus {
    #[serde(serialize_with = "ser_str")]
    pub(crate) key: Arc<str>,
    #[serde(serialize_with = "ser_str")]
    pub(crate) check: Arc<str>,
    pub(crate) probe_addr: SocketAddr,
    #[serde(serialize_with = "ser_str")]
    pub(crate) datacenter: Arc<str>,
    #[serde(serialize_with = "ser_strs")]
    pub(crate) pools: Vec<Arc<str>>,
    /// What the query path sees.
    pub(crate) status: Status,
    /// What this instance's probes established, before overrides (in cluster mode the
    /// quorum's verdict is in `cluster`).
    pub(crate) observed: Observed,
    /// When `observed` last changed (or was restored).
    #[serde(serialize_with = "ser_time", rename = "since_unix_ms")]
    pub(crate) since: SystemTime,
    /// The override deciding `status`, if any.
    pub(crate) forced: Option<ForcedBy>,
    /// Cluster mode: every instance's vote, the rule and the effective state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cluster: Option<super::votes::Verdict>,
    pub(crate) last_probe: Option<LastProbe>,
    /// Current run of consecutive successes / failures.
    pub(crate) successes: u32,
    pub(crate) failures: u32,
}

/// The latest probe of a target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct LastProbe {
    pub(crate) ok: bool,
    #[serde(serialize_with = "ser_ms", rename = "rtt_ms")]
    pub(crate) rtt: Duration,
    pub(crate) failure: Option<ProbeFailure>,
    #[serde(serialize_with = "ser_time", rename = "at_unix_ms")]
    pub(crate) at: SystemTime,
}

/// One override in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct OverrideEntry {
    /// In override-file syntax: `192.0.2.10/web`, `pool:NAME`, `datacenter:NAME`.
    pub(crate) selector: String,
    pub(crate) state: Forced,
    pub(crate) source: Source,
}

impl LastProbe {
    pub(crate) fn new(outcome: &ProbeOutcome, at: SystemTime) -> Self {
        Self {
            ok: outcome.ok,
            rtt: outcome.rtt,
            failure: outcome.failure.clone(),
            at,
        }
    }
}

impl HealthReport {
    pub(crate) fn target(&self, key: &str) -> Option<&TargetStatus> {
        self.targets
            .binary_search_by(|t| (*t.key).cmp(key))
            .ok()
            .map(|i| &self.targets[i])
    }
}

pub(super) fn ser_str<S: Serializer>(v: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
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
