//! What load-aware shedding needs per query (`LoadView`) and how a member's weight follows
//! from it; the explain note of one load entry. `load.rs` builds the view.

use std::fmt;
use std::sync::Arc;

use super::model::Member;
use crate::load::{Entry, LoadSnapshot, unix_ms};

/// Weights are scaled by the kept share in thousandths (`weighted` only).
const SCALE: u32 = 1000;

/// What the judge needs to apply load for one query.
#[derive(Clone, Copy)]
pub(crate) struct LoadView<'a> {
    pub(super) snapshot: &'a LoadSnapshot,
    pub(super) client_hash: u64,
    /// `weighted`: scale weights instead of shedding clients.
    pub(super) scale: bool,
}

/// One load entry the explain trace shows.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LoadNote {
    pub(super) kind: &'static str,
    pub(super) name: Arc<str>,
    pub(super) entry: Entry,
    pub(super) shed: bool,
}

impl fmt::Display for LoadNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.entry;
        let now = unix_ms();
        let age = now.saturating_sub(e.reported_unix_ms) as f64 / 1000.0;
        let wm = e.watermarks;
        write!(
            f,
            "load {} {}: {} ({:.1} % of capacity {}) from {}, {age:.1}s old; shed_start {} %, \
             shed_full {} %; sheds {:.1} % of clients; this client {}",
            self.kind,
            self.name,
            e.load,
            e.utilisation,
            wm.capacity,
            Origin(e),
            wm.shed_start,
            wm.shed_full,
            e.share * 100.0,
            if self.shed { "is shed" } else { "is kept" }
        )
    }
}

/// Where a value came from: `api`, or `api of instance ns1` in cluster mode.
struct Origin<'a>(&'a Entry);

impl fmt::Display for Origin<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.instance {
            Some(i) => write!(f, "{} of instance {i}", self.0.source),
            None => write!(f, "{}", self.0.source),
        }
    }
}

impl LoadView<'_> {
    /// The weight `m` (in datacenter `dc`) keeps under load in the healthy pass.
    pub(crate) fn weight(&self, m: &Member, dc: Option<&str>, w: u32) -> u32 {
        let snapshot = self.snapshot;
        let entries = [
            m.target.as_deref().and_then(|t| snapshot.member(t)),
            dc.and_then(|d| snapshot.datacenter(d)),
        ];
        if self.scale {
            let keep = entries
                .iter()
                .flatten()
                .fold(1.0f64, |k, e| k.min(1.0 - e.share));
            return (f64::from(w.saturating_mul(SCALE)) * keep).round() as u32;
        }
        if entries.iter().flatten().any(|e| e.sheds(self.client_hash)) {
            0
        } else {
            w
        }
    }
}
