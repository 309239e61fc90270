//! The seam between the admin API and the running server: the `Control` trait and its views.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::health::{RecentEvent, Status};
use crate::latency::Target;

/// What the admin API asks of the running server; `app` implements it.
///
/// Methods are synchronous. The router calls [`reload`](Control::reload),
/// [`set_override`](Control::set_override), [`clear_override`](Control::clear_override) and
/// [`explain`](Control::explain) on Tokio's blocking pool, so they may block (read files,
/// `blocking_send` to the health tracker and wait for its reply). The others are called on
/// the runtime and must be cheap: load a snapshot, copy out a view.
pub trait Control: Send + Sync + 'static {
    /// Version, configuration generation, last reload and readiness.
    fn status(&self) -> StatusView;
    /// Zones now serving and their services.
    fn zones(&self) -> Vec<ZoneView>;
    /// Every target's health as the tracker last published it.
    fn health(&self) -> Vec<TargetView>;
    /// The last health events (transitions with their reasons, overrides, removals), newest
    /// first, as the tracker last published them.
    fn recent_events(&self) -> Vec<RecentEvent>;
    /// What the server would answer, and why, for a hypothetical query.
    fn explain(&self, request: &ExplainRequest) -> Result<ExplainView, ControlError>;
    /// Re-read and validate the configuration; the new generation, or every error found
    /// (the previous configuration keeps serving).
    fn reload(&self) -> Result<u64, Vec<String>>;
    /// The reload dry run: compile the configuration as `reload` would and report what the
    /// change does to answers (`meridian diff` against the serving zones, live health and
    /// the networks seen); nothing is swapped in. Every error when it does not compile.
    fn reload_preview(&self) -> Result<crate::diff::Report, Vec<String>> {
        Err(vec!["this server cannot preview a reload".into()])
    }
    /// Force the targets `selector` names into `state` until cleared; `Unprocessable` when
    /// it names no configured target.
    fn set_override(&self, selector: &str, state: OverrideState) -> Result<(), ControlError>;
    /// `set_override` with who, why and for how long; in cluster mode it is stored for
    /// every instance. The default ignores the extra detail.
    fn set_override_with(
        &self,
        selector: &str,
        state: OverrideState,
        _ask: &crate::cluster::OverrideAsk,
    ) -> Result<(), ControlError> {
        self.set_override(selector, state)
    }
    /// The console's overview: datacenters and their targets, zones and their services with
    /// pools and members up (at most `limit` services).
    fn console(&self, _limit: usize) -> serde_json::Value {
        serde_json::json!({ "datacenters": [], "zones": [], "truncated": false })
    }
    /// The console's map of one service: where each country is answered now.
    fn service_map(&self, name: &str) -> Result<crate::diff::map::ServiceMap, ControlError> {
        Err(ControlError::NotFound(format!("no service {name}")))
    }
    /// Cluster mode: members, liveness, versions and zone digests (404 when off).
    fn cluster(&self) -> Result<crate::cluster::ClusterStatus, ControlError> {
        Err(ControlError::NotFound(
            "cluster mode is off (no [cluster] section)".into(),
        ))
    }
    /// Remove the override on `selector`; probes decide again.
    fn clear_override(&self, selector: &str) -> Result<(), ControlError>;
    /// True once zones are loaded and every known target has been probed (or timed out).
    fn ready(&self) -> bool;

    /// The `limit` busiest client networks for an agent in `datacenter` to measure.
    fn latency_targets(
        &self,
        _datacenter: Option<&str>,
        _limit: usize,
    ) -> Result<TargetsView, ControlError> {
        Err(latency_unavailable())
    }

    /// An agent's samples, `{"datacenter", "samples": [...]}` (blocking pool).
    fn latency_samples(&self, _body: &str) -> Result<crate::latency::Applied, ControlError> {
        Err(latency_unavailable())
    }

    /// A bulk import of CSV or JSON rows (blocking pool).
    fn latency_import(&self, _body: &str) -> Result<crate::latency::Applied, ControlError> {
        Err(latency_unavailable())
    }

    /// `POST /v1/load`: set load values (selector, value); `Unprocessable` naming the first
    /// selector that names nothing configured or value that is not a number (nothing set).
    fn load_post(&self, _rows: &[(String, f64)]) -> Result<usize, ControlError> {
        Err(ControlError::Unavailable(
            "load-aware steering is not available in this server".into(),
        ))
    }

    /// `GET /v1/load`: every member's and datacenter's published load.
    fn load(&self) -> Vec<crate::load::LoadView> {
        Vec::new()
    }

    /// The latency table's size and settings, and one network's estimates.
    fn latency(&self, _network: Option<IpNet>) -> Result<LatencySummary, ControlError> {
        Err(latency_unavailable())
    }
}

fn latency_unavailable() -> ControlError {
    ControlError::Unavailable("latency steering is not available in this server".into())
}

/// Why a control call was refused; each maps to an HTTP status.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// The request is malformed or makes no sense (400).
    #[error("{0}")]
    Invalid(String),
    /// The selector, zone or name refers to nothing configured (404).
    #[error("{0}")]
    NotFound(String),
    /// Well-formed, but it would change nothing: e.g. an override naming no target (422).
    #[error("{0}")]
    Unprocessable(String),
    /// The server cannot do it now, e.g. shutting down (503).
    #[error("{0}")]
    Unavailable(String),
}

/// `GET /v1/status`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StatusView {
    /// The running version of Meridian.
    pub version: String,
    /// Generation of the configuration now serving.
    pub generation: u64,
    /// Whether the server is ready to answer.
    pub ready: bool,
    /// The latest load or reload attempt, good or bad; None before the first.
    pub last_reload: Option<ReloadView>,
}

/// One configuration load attempt.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReloadView {
    /// Whether the attempt succeeded.
    pub ok: bool,
    /// Unix seconds when it finished.
    pub at: u64,
    /// The generation serving after it (unchanged when it failed).
    pub generation: u64,
    /// Every error, as `path:line:col: message`; empty when it succeeded.
    pub errors: Vec<String>,
}

/// One zone in `GET /v1/zones`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ZoneView {
    /// The apex, absolute (`gslb.example.com.`).
    pub origin: String,
    /// The SOA serial.
    pub serial: u32,
    /// File the zone was loaded from.
    pub file: String,
    /// The zone's services.
    pub services: Vec<ServiceView>,
}

/// One service of a zone.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServiceView {
    /// Owner name, absolute.
    pub(crate) name: String,
    /// `failover`, `weighted`, `geo`, `nearest` or `latency`.
    pub(crate) policy: String,
    /// Pool names in the order the policy considers them.
    pub(crate) pools: Vec<String>,
}

/// One target in `GET /v1/health`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TargetView {
    /// `address/check`, e.g. `192.0.2.10/web`.
    pub target: String,
    /// The effective state.
    pub state: Status,
    /// Unix seconds since the state last changed; None while unknown.
    pub since: Option<u64>,
    /// True when an operator override decides `state`.
    pub forced: bool,
    /// The latest probe result; None before the first.
    pub last_probe: Option<ProbeView>,
    /// Cluster mode: this instance's verdict, every instance's vote, the rule and the
    /// effective state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<crate::health::Verdict>,
}

/// The latest probe of a target.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProbeView {
    pub(crate) ok: bool,
    /// Unix seconds when it finished.
    pub(crate) at: u64,
    /// Round-trip time in milliseconds, when the probe got that far.
    pub(crate) rtt_ms: Option<f64>,
    /// Why it failed, e.g. `timeout after 2s` or `status 503, expected 200`.
    pub(crate) error: Option<String>,
}

/// `GET /v1/explain?name=&type=&client=&ecs=&down=`, parsed and validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExplainRequest {
    /// The query name as given (the control normalises case and the final dot).
    pub name: String,
    /// Query type mnemonic in upper case; `A` when absent.
    pub qtype: String,
    /// The client address; None: no client (policies that need one use their default).
    pub(crate) client: Option<IpAddr>,
    /// An EDNS Client Subnet the query carries, e.g. `198.51.100.0/24`.
    pub ecs: Option<IpNet>,
    /// Selectors to treat as down for this explanation only (what-if).
    pub down: Vec<String>,
}

/// The answer to an explain request.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExplainView {
    /// Zone origin that answers, None when REFUSED.
    pub zone: Option<String>,
    /// Service name when the name is a service.
    pub service: Option<String>,
    /// The service's policy name when the name is a service.
    pub policy: Option<String>,
    /// The decision outcome (`primary`, `failover`, ...) or the kind of static answer.
    pub outcome: String,
    /// The response code (`NOERROR`, `NXDOMAIN`, ...).
    pub rcode: String,
    /// ECS scope prefix the answer depends on.
    pub ecs_scope: u8,
    /// Answer records in presentation format.
    pub answers: Vec<String>,
    /// Human-readable steps the policy took, in order.
    pub steps: Vec<String>,
    /// The zone signs (`[dnssec]`): how the DO=1 reply is signed. Absent for an unsigned zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dnssec: Option<ExplainSigning>,
}

/// The signing state of an explained answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExplainSigning {
    /// One entry per RRset of the DO=1 reply.
    pub signatures: Vec<ExplainSignature>,
}

/// How one RRset is signed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExplainSignature {
    /// Owner and type.
    pub rrset: String,
    /// Key tag of the signing key.
    pub key_tag: u16,
    /// Whether the signature came from the signature cache (else it was signed now).
    pub cached: bool,
}

/// An operator override's state (`up`, `down`, `drain`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OverrideState {
    /// Answer the targets even if probes fail.
    Up,
    /// Never answer the targets.
    Down,
    /// Stop answering the targets while they stay probed (weight 0).
    Drain,
}

/// `GET /v1/latency/targets`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetsView {
    pub(crate) prefix_v4: u8,
    pub(crate) prefix_v6: u8,
    pub(crate) targets: Vec<Target>,
}

/// One estimate in `GET /v1/latency?network=`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct RttView {
    pub(crate) datacenter: String,
    pub(crate) rtt_ms: f64,
    pub(crate) samples: u32,
    /// Unix seconds of the newest sample, and its age.
    pub(crate) updated: u64,
    pub age_secs: u64,
}

/// `GET /v1/latency`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LatencySummary {
    pub(crate) networks: usize,
    pub(crate) estimates: usize,
    pub(crate) datacenters: Vec<String>,
    /// Networks in the busiest-networks summary.
    pub(crate) tracked: usize,
    pub(crate) prefix_v4: u8,
    pub(crate) prefix_v6: u8,
    pub(crate) max_networks: usize,
    pub(crate) max_age_secs: u64,
    /// The table network asked about, and its fresh estimates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) network: Option<IpNet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) rtts: Option<Vec<RttView>>,
    /// Per datacenter the zones place: what steering uses when the network's own
    /// measurement is missing or has fewer than a service's `min_samples` (absent when
    /// GeoIP has no coordinates for the network).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) neighbours: Option<Vec<NeighbourView>>,
}

/// One datacenter's RTT for a network without its own (sufficient) measurement.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct NeighbourView {
    pub(crate) datacenter: String,
    /// `asn_country`, `prefix_narrow`, `prefix_wide`, `asn`, `subdivision`, `country`, or
    /// `estimated` (no group qualifies: great-circle distance).
    pub(crate) level: String,
    /// The RTT steering would use, ms.
    pub(crate) rtt_ms: f64,
    pub(crate) distance_km: f64,
    /// The group as explain names it ("AS3320 in DE", "198.51.96.0/20").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) group: Option<String>,
    /// Measured networks and samples that contributed, and their weighted mean age.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) networks: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) samples: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) age_secs: Option<u64>,
    /// The group's median residual over great-circle, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) residual_ms: Option<f64>,
}
