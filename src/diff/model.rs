//! The diff report's types and what an evaluation reads.

use serde::Serialize;

use super::space::ClientSpace;
use crate::geo::Locate;
use crate::health::HealthSnapshot;
use crate::policy::LatencyView;

/// What the evaluation reads besides the two zone sets.
#[derive(Clone, Copy)]
pub struct Inputs<'a> {
    /// Locates clients for `geo`, `nearest` and `latency` services.
    pub geo: &'a dyn Locate,
    /// The health both sides are evaluated with (all up offline, today's when live).
    pub health: &'a HealthSnapshot,
    /// Which health that is, for the report: `all up` or `live`.
    pub health_label: &'static str,
    /// The latency table `latency` services read.
    pub latency: LatencyView<'a>,
    /// The client spaces to evaluate over (each reported separately).
    pub spaces: &'a [ClientSpace],
}

/// A share of one client space answered differently after the change.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Move {
    /// The service, without the final dot.
    pub service: String,
    /// `A`, `AAAA` or `CNAME`.
    pub qtype: String,
    /// What the share is of (see [`Basis`]).
    pub basis: String,
    /// Percent of the basis, 0..=100.
    pub percent: f64,
    /// Where it was answered: datacenter names joined by `+`, an address for members
    /// without a datacenter, or `NODATA`/`SERVFAIL`.
    pub from: String,
    /// Where it is answered after the change.
    pub to: String,
    /// Continents of the clients that move (two-letter codes, `??` when unknown).
    pub continents: Vec<String>,
}

/// The share of answers a `weighted` service gives one datacenter, before and after.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WeightShift {
    /// The service, without the final dot.
    pub service: String,
    /// `A`, `AAAA` or `CNAME`.
    pub qtype: String,
    /// The datacenter (or member address without one).
    pub datacenter: String,
    /// Percent of answers before.
    pub before: f64,
    /// Percent of answers after.
    pub after: f64,
}

/// A static RRset added, removed or changed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecordChange {
    /// Owner name.
    pub name: String,
    /// Record type.
    pub rtype: String,
    /// `added`, `removed` or `changed`.
    pub change: &'static str,
    /// The records before, in presentation format with TTL.
    pub before: Vec<String>,
    /// The records after.
    pub after: Vec<String>,
}

/// Names present on one side only.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Listed {
    /// Only in the new configuration.
    pub added: Vec<String>,
    /// Only in the old configuration.
    pub removed: Vec<String>,
}

impl Listed {
    pub(super) fn of(
        old: &std::collections::BTreeSet<String>,
        new: &std::collections::BTreeSet<String>,
    ) -> Self {
        Self {
            added: new.difference(old).cloned().collect(),
            removed: old.difference(new).cloned().collect(),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// One client space as evaluated.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpaceView {
    /// What shares are of.
    pub basis: String,
    /// Networks in the space.
    pub networks: usize,
}

/// The whole preview: `meridian diff` prints it, `POST /v1/reload?dry_run=true` returns it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Report {
    /// `all up` (offline) or `live` (the running server's snapshot).
    pub health: String,
    /// The client spaces evaluated.
    pub spaces: Vec<SpaceView>,
    /// Services whose compiled form changed (and were evaluated).
    pub services_changed: usize,
    /// Services that changed but could not be evaluated: there was no client space (no
    /// GeoIP database configured). They count as changes.
    pub unevaluated: Vec<String>,
    /// Who moves where, largest share first within each service.
    pub moves: Vec<Move>,
    /// `weighted` services' per-datacenter shares that changed.
    pub weights: Vec<WeightShift>,
    /// Zones added and removed.
    pub zones: Listed,
    /// Services added and removed.
    pub services: Listed,
    /// Static RRsets added, removed or changed.
    pub records: Vec<RecordChange>,
    /// Health targets (`address/check`) added and removed.
    pub targets: Listed,
    /// Checks added and removed.
    pub checks: Listed,
    /// Datacenters added and removed.
    pub datacenters: Listed,
    /// Milliseconds the comparison took.
    pub elapsed_ms: u64,
}

impl Report {
    /// True when anything differs (the `1` exit status of `meridian diff`).
    pub fn changed(&self) -> bool {
        !(self.moves.is_empty()
            && self.unevaluated.is_empty()
            && self.weights.is_empty()
            && self.records.is_empty()
            && self.zones.is_empty()
            && self.services.is_empty()
            && self.targets.is_empty()
            && self.checks.is_empty()
            && self.datacenters.is_empty())
    }
}

/// A name as reports show it: without the final dot.
pub(crate) fn display_name(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_string()
}

/// A member's answer as reports show it when it has no datacenter.
pub(crate) fn answer_text(answer: &crate::policy::Answer) -> String {
    match answer {
        crate::policy::Answer::Addr(ip) => ip.to_string(),
        crate::policy::Answer::Name(name) => name.to_string(),
    }
}
