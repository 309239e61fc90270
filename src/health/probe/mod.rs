//! Probes: run one check against one address within its timeout and report the outcome as data.

pub mod http;
mod outcome;
pub mod tcp;

use super::check::CheckKind;
use super::target::{ProbeKey, TargetSpec};
pub use outcome::{ProbeFailure, ProbeOutcome};

/// A ready-to-run probe for one probe key (the HTTP client is built once and reused).
#[derive(Debug)]
pub enum Prober {
    Http(http::HttpProber),
    Tcp(tcp::TcpProber),
}

impl Prober {
    pub fn new(key: &ProbeKey) -> Self {
        match &key.kind {
            CheckKind::Http(check) => Prober::Http(http::HttpProber::new(key, check, false)),
            CheckKind::Https(check) => Prober::Http(http::HttpProber::new(key, check, true)),
            CheckKind::Tcp(check) => Prober::Tcp(tcp::TcpProber::new(key, check)),
        }
    }

    /// Runs one probe; never takes much longer than the check's timeout.
    pub async fn probe(&self) -> ProbeOutcome {
        match self {
            Prober::Http(p) => p.probe().await,
            Prober::Tcp(p) => p.probe().await,
        }
    }
}

/// Probes one target once (builds a fresh client; the scheduler reuses a [`Prober`] instead).
pub async fn probe(target: &TargetSpec) -> ProbeOutcome {
    Prober::new(&target.probe_key()).probe().await
}
