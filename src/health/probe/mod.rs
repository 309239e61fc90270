//! Probes: run one check against one address within its timeout and report the outcome as data.

pub(crate) mod http;
mod outcome;
pub(crate) mod tcp;

use super::check::CheckKind;
use super::target::{ProbeKey, TargetSpec};
pub(crate) use outcome::ProbeFailure;
pub use outcome::ProbeOutcome;

/// The local addresses probes are sent from; `None` lets the kernel choose.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProbeSource {
    pub(crate) v4: Option<std::net::IpAddr>,
    pub(crate) v6: Option<std::net::IpAddr>,
}

impl ProbeSource {
    /// The source for a probe of `addr` (its own address family).
    pub(crate) fn for_target(&self, addr: std::net::SocketAddr) -> Option<std::net::IpAddr> {
        if addr.is_ipv4() { self.v4 } else { self.v6 }
    }
}

/// A ready-to-run probe for one probe key (the HTTP client is built once and reused).
#[derive(Debug)]
pub(crate) enum Prober {
    Http(http::HttpProber),
    Tcp(tcp::TcpProber),
}

impl Prober {
    pub(crate) fn new(key: &ProbeKey, source: ProbeSource) -> Self {
        let source = source.for_target(key.addr);
        match &key.kind {
            CheckKind::Http(check) => {
                Prober::Http(http::HttpProber::new(key, check, false, source))
            }
            CheckKind::Https(check) => {
                Prober::Http(http::HttpProber::new(key, check, true, source))
            }
            CheckKind::Tcp(check) => Prober::Tcp(tcp::TcpProber::new(key, check, source)),
        }
    }

    /// Runs one probe; never takes much longer than the check's timeout.
    pub(crate) async fn probe(&self) -> ProbeOutcome {
        match self {
            Prober::Http(p) => p.probe().await,
            Prober::Tcp(p) => p.probe().await,
        }
    }
}

/// Probes one target once (builds a fresh client; the scheduler reuses a [`Prober`] instead).
pub async fn probe(target: &TargetSpec) -> ProbeOutcome {
    Prober::new(&target.probe_key(), ProbeSource::default())
        .probe()
        .await
}
