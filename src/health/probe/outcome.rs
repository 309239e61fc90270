//! What one probe found (`ProbeOutcome`, `ProbeFailure`), and what the HTTP and TCP probes
//! share to reach it: the timeout, socket errors as reasons, and a bounded body search.

use std::future::Future;
use std::time::{Duration, Instant};
use std::{fmt, io};

use serde::Serialize;

use crate::load::LoadReading;

/// The result of one probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeOutcome {
    pub(crate) ok: bool,
    /// Time from the start of the probe to its verdict.
    pub(crate) rtt: Duration,
    /// Why it failed; `None` when `ok`.
    pub(crate) failure: Option<ProbeFailure>,
    /// The load the reply reported, when the check reads one and the probe passed.
    pub(crate) load: Option<LoadReading>,
}

/// Why a probe failed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "reason", content = "detail", rename_all = "snake_case")]
pub(crate) enum ProbeFailure {
    /// No verdict within the check's timeout (connect, TLS, headers and body together).
    Timeout,
    /// The connection was refused.
    Refused,
    /// The connection was reset or broken by the peer.
    Reset,
    /// An HTTP status outside the expected set.
    Status(u16),
    /// The body (or TCP reply) lacked the expected substring within the byte bound.
    BodyMismatch,
    Tls(String),
    Other(String),
}

impl ProbeFailure {
    /// A fixed label for metrics (bounded: never the message).
    pub(crate) fn label(&self) -> &'static str {
        match self {
            ProbeFailure::Timeout => "timeout",
            ProbeFailure::Refused => "refused",
            ProbeFailure::Reset => "reset",
            ProbeFailure::Status(_) => "status",
            ProbeFailure::BodyMismatch => "body_mismatch",
            ProbeFailure::Tls(_) => "tls",
            ProbeFailure::Other(_) => "other",
        }
    }
}

impl fmt::Display for ProbeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeFailure::Timeout => f.write_str("timeout"),
            ProbeFailure::Refused => f.write_str("connection refused"),
            ProbeFailure::Reset => f.write_str("connection reset"),
            ProbeFailure::Status(code) => write!(f, "status {code}"),
            ProbeFailure::BodyMismatch => f.write_str("body mismatch"),
            ProbeFailure::Tls(e) => write!(f, "tls error: {e}"),
            ProbeFailure::Other(e) => f.write_str(e),
        }
    }
}

impl ProbeOutcome {
    pub(crate) fn success(rtt: Duration) -> Self {
        Self {
            ok: true,
            rtt,
            failure: None,
            load: None,
        }
    }

    pub(crate) fn failed(rtt: Duration, failure: ProbeFailure) -> Self {
        Self {
            ok: false,
            rtt,
            failure: Some(failure),
            load: None,
        }
    }
}

/// Runs `work` under `timeout`, timing it; a timeout is the `Timeout` failure.
pub(super) async fn timed<F>(timeout: Duration, work: F) -> ProbeOutcome
where
    F: Future<Output = Result<Option<LoadReading>, ProbeFailure>>,
{
    let start = Instant::now();
    let result = tokio::time::timeout(timeout, work).await;
    let rtt = start.elapsed();
    match result {
        Ok(Ok(load)) => ProbeOutcome {
            load,
            ..ProbeOutcome::success(rtt)
        },
        Ok(Err(failure)) => ProbeOutcome::failed(rtt, failure),
        Err(_) => ProbeOutcome::failed(rtt, ProbeFailure::Timeout),
    }
}

/// Maps a socket error to a failure reason, looking through errors wrapped inside it.
pub(super) fn from_io(err: &io::Error) -> ProbeFailure {
    use io::ErrorKind as K;
    match err.kind() {
        K::ConnectionRefused => return ProbeFailure::Refused,
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => return ProbeFailure::Reset,
        K::TimedOut => return ProbeFailure::Timeout,
        _ => {}
    }
    let inner = err.get_ref();
    if let Some(tls) = inner.and_then(|e| e.downcast_ref::<rustls::Error>()) {
        return ProbeFailure::Tls(tls.to_string());
    }
    match inner.and_then(|e| e.downcast_ref::<io::Error>()) {
        Some(io) => from_io(io),
        None => ProbeFailure::Other(err.to_string()),
    }
}

/// Collects at most `limit` bytes while looking for `needle`, searching each byte once.
#[derive(Debug)]
pub(super) struct BoundedMatch<'a> {
    needle: &'a [u8],
    limit: usize,
    seen: Vec<u8>,
}

impl<'a> BoundedMatch<'a> {
    pub(super) fn new(needle: &'a [u8], limit: usize) -> Self {
        Self {
            needle,
            limit,
            seen: Vec::new(),
        }
    }

    /// Adds a chunk; `Some(found)` once the answer is known (found, or the bound reached).
    pub(super) fn push(&mut self, chunk: &[u8]) -> Option<bool> {
        if self.needle.is_empty() {
            return Some(true);
        }
        let room = self.limit.saturating_sub(self.seen.len());
        let from = self.seen.len().saturating_sub(self.needle.len() - 1);
        self.seen.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if self.seen[from..]
            .windows(self.needle.len())
            .any(|w| w == self.needle)
        {
            return Some(true);
        }
        (self.seen.len() >= self.limit).then_some(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needle_split_across_chunks_is_found() {
        let mut m = BoundedMatch::new(b"healthy", 1024);
        assert_eq!(m.push(b"status: hea"), None);
        assert_eq!(m.push(b"lthy\n"), Some(true));
    }

    #[test]
    fn bound_stops_the_search() {
        let mut m = BoundedMatch::new(b"ok", 4);
        assert_eq!(m.push(b"abc"), None);
        assert_eq!(m.push(b"dok"), Some(false));
        let mut m = BoundedMatch::new(b"ok", 4);
        assert_eq!(m.push(b"abokxx"), Some(true));
        let mut empty = BoundedMatch::new(b"", 4);
        assert_eq!(empty.push(b""), Some(true));
    }

    #[test]
    fn io_errors_map_to_reasons() {
        let e = |k| from_io(&io::Error::from(k));
        assert_eq!(e(io::ErrorKind::ConnectionRefused), ProbeFailure::Refused);
        assert_eq!(e(io::ErrorKind::ConnectionReset), ProbeFailure::Reset);
        assert_eq!(e(io::ErrorKind::BrokenPipe), ProbeFailure::Reset);
        assert_eq!(e(io::ErrorKind::TimedOut), ProbeFailure::Timeout);
        assert_eq!(ProbeFailure::Status(503).to_string(), "status 503");
        let tls = io::Error::new(io::ErrorKind::InvalidData, rustls::Error::DecryptError);
        let wrapped = io::Error::other(tls);
        assert!(matches!(from_io(&wrapped), ProbeFailure::Tls(_)));
        let reset = io::Error::other(io::Error::from(io::ErrorKind::ConnectionReset));
        assert_eq!(from_io(&reset), ProbeFailure::Reset);
    }
}
