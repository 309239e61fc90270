//! The immutable health snapshot the query path reads: target key → status.

use std::collections::HashMap;
use std::sync::Arc;

use rustc_hash::FxHashMap;

/// Health of one target as the policies see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Not probed yet; counts as up so a cold start never empties answers.
    Unknown,
    /// Passing its check.
    Up,
    /// Failing its check.
    Down,
    /// Forced out of answers by an operator while staying healthy.
    Drained,
}

impl Status {
    /// The lowercase word, as serialized: `unknown`, `up`, `down`, `drained`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Unknown => "unknown",
            Status::Up => "up",
            Status::Down => "down",
            Status::Drained => "drained",
        }
    }

    /// Whether a member with this status may be answered.
    pub(crate) fn usable(self) -> bool {
        matches!(self, Status::Unknown | Status::Up)
    }
}

/// One target's entry in a snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetHealth {
    /// The status the policies use.
    pub status: Status,
    /// True when an operator override decided `status`.
    pub forced: bool,
}

/// A published, immutable view of every target's health.
#[derive(Clone, Debug, Default)]
pub struct HealthSnapshot {
    pub(crate) generation: u64,
    targets: FxHashMap<Arc<str>, TargetHealth>,
}

impl HealthSnapshot {
    /// A snapshot in which every target is unknown (and therefore usable).
    pub fn empty() -> Self {
        Self::default()
    }

    /// A snapshot of `targets` (targets not in it are unknown).
    pub fn new(generation: u64, targets: HashMap<Arc<str>, TargetHealth>) -> Self {
        Self {
            generation,
            targets: targets.into_iter().collect(),
        }
    }

    /// Status of a target keyed `address/check`; unknown when absent.
    pub(crate) fn status(&self, target: &str) -> Status {
        self.targets
            .get(target)
            .map_or(Status::Unknown, |t| t.status)
    }

    #[cfg(test)]
    pub(crate) fn get(&self, target: &str) -> Option<&TargetHealth> {
        self.targets.get(target)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &TargetHealth)> {
        self.targets.iter()
    }
}
