//! Compiled check specifications (plain data built by the config compiler), their defaults and ranges.

use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;

use crate::closed_set::closed_set;
use crate::load::{LoadRead, Watermarks};

/// Time between the starts of two probes of one target.
pub(crate) const INTERVAL_DEFAULT: Duration = Duration::from_secs(10);
pub(crate) const INTERVAL_RANGE: RangeInclusive<Duration> =
    Duration::from_millis(100)..=Duration::from_hours(1);
/// Bound on one whole probe (connect, TLS, request, headers and body); at most `interval`.
pub(crate) const TIMEOUT_DEFAULT: Duration = Duration::from_secs(3);
pub(crate) const TIMEOUT_RANGE: RangeInclusive<Duration> =
    Duration::from_millis(50)..=Duration::from_mins(1);
/// Consecutive successes that bring a down target up.
pub(crate) const RISE_DEFAULT: u32 = 2;
pub(crate) const RISE_RANGE: RangeInclusive<u32> = 1..=100;
/// Consecutive failures that bring an up target down.
pub(crate) const FALL_DEFAULT: u32 = 3;
pub(crate) const FALL_RANGE: RangeInclusive<u32> = 1..=100;
/// The first probe of a target starts after a random delay in `[0, jitter]`; at most `interval`.
pub(crate) const JITTER_DEFAULT: Duration = Duration::from_secs(1);
pub(crate) const JITTER_RANGE: RangeInclusive<Duration> = Duration::ZERO..=Duration::from_hours(1);
/// Ports used when a check names none (`tcp` has no default).
pub(crate) const HTTP_PORT_DEFAULT: u16 = 80;
pub(crate) const HTTPS_PORT_DEFAULT: u16 = 443;
/// Status codes that count as success when `expect_status` is empty.
pub(crate) const EXPECT_STATUS_DEFAULT: StatusRange = StatusRange { lo: 200, hi: 299 };
/// Most body bytes read while looking for `body_contains` (and for a `tcp` `expect` reply).
pub(crate) const MAX_BODY_DEFAULT: usize = 64 * 1024;
pub(crate) const MAX_BODY_RANGE: RangeInclusive<usize> = 1..=1024 * 1024;

/// One named probe specification, shared by every target that uses it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CheckSpec {
    pub(crate) name: Arc<str>,
    pub(crate) kind: CheckKind,
    /// Port probed when the config names no explicit probe address; `None` = the kind's default.
    pub(crate) port: Option<u16>,
    pub(crate) interval: Duration,
    pub(crate) timeout: Duration,
    pub(crate) rise: u32,
    pub(crate) fall: u32,
    pub(crate) jitter: Duration,
    /// Cluster mode: this check's quorum rule; None = the cluster's `quorum`.
    pub(crate) quorum: Option<super::quorum::QuorumRule>,
    /// Capacity and watermarks of the members this check reads a load for.
    pub(crate) watermarks: Option<Watermarks>,
}

/// The closed set of check kinds, with their settings.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum CheckKind {
    Http(HttpCheck),
    Https(HttpCheck),
    Tcp(TcpCheck),
}

impl CheckKind {
    /// Which of the check types this is.
    pub(crate) fn check_type(&self) -> CheckType {
        match self {
            CheckKind::Http(_) => CheckType::Http,
            CheckKind::Https(_) => CheckType::Https,
            CheckKind::Tcp(_) => CheckType::Tcp,
        }
    }
}

closed_set! {
    /// The check types without their settings: what zone files (`type = "http"`) and the
    /// probe metrics' `kind` label name.
    pub enum CheckType {
        /// An HTTP request.
        Http => "http",
        /// An HTTP request over TLS.
        Https => "https",
        /// A TCP connect (optionally sending and expecting bytes).
        Tcp => "tcp",
    }
}

/// An HTTP request and what its answer must look like.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HttpCheck {
    pub(crate) method: HttpMethod,
    pub(crate) path: String,
    /// `Host` header; also the TLS SNI name unless `sni` is set. `None` = the probe IP.
    pub(crate) host: Option<String>,
    /// TLS server name when it differs from `host`.
    pub(crate) sni: Option<String>,
    /// `false` accepts any certificate (`https` only).
    pub(crate) verify_tls: bool,
    /// Accepted status codes; empty means [`EXPECT_STATUS_DEFAULT`].
    pub(crate) expect_status: Vec<StatusRange>,
    /// Substring the first `max_body` bytes of the body must contain.
    pub(crate) body_contains: Option<String>,
    pub(crate) max_body: usize,
    /// Extra request headers (name, value).
    pub(crate) headers: Vec<(String, String)>,
    /// Where the reply carries a load value (`load_header`, `load_json`).
    pub(crate) load: Option<LoadRead>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
/// The request method of an HTTP(S) check.
pub enum HttpMethod {
    /// `GET`.
    Get,
    /// `HEAD`.
    Head,
    /// `POST`.
    Post,
    /// `OPTIONS`.
    Options,
}

/// An inclusive range of HTTP status codes (`200` is `200..=200`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StatusRange {
    pub(crate) lo: u16,
    pub(crate) hi: u16,
}

/// A TCP connect, optionally followed by a send and an expected reply substring.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TcpCheck {
    pub(crate) send: Option<Vec<u8>>,
    pub(crate) expect: Option<Vec<u8>>,
    pub(crate) max_reply: usize,
    /// `load_agent = true`: the reply is an agent-style load report.
    pub(crate) load: Option<LoadRead>,
}

/// One reason a check specification is out of range; `field` is the zone-file key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub(crate) struct CheckError {
    pub(crate) field: &'static str,
    pub(crate) message: String,
}

impl Default for TcpCheck {
    /// Connect only.
    fn default() -> Self {
        Self {
            send: None,
            expect: None,
            max_reply: MAX_BODY_DEFAULT,
            load: None,
        }
    }
}

impl StatusRange {
    pub(crate) fn single(code: u16) -> Self {
        Self { lo: code, hi: code }
    }

    pub(crate) fn contains(self, code: u16) -> bool {
        (self.lo..=self.hi).contains(&code)
    }
}

impl HttpCheck {
    /// `GET /`, expecting 2xx, verifying certificates.
    pub(crate) fn new(path: impl Into<String>) -> Self {
        Self {
            method: HttpMethod::Get,
            path: path.into(),
            host: None,
            sni: None,
            verify_tls: true,
            expect_status: Vec::new(),
            body_contains: None,
            max_body: MAX_BODY_DEFAULT,
            headers: Vec::new(),
            load: None,
        }
    }

    /// Whether `code` is an accepted status.
    pub(crate) fn accepts(&self, code: u16) -> bool {
        if self.expect_status.is_empty() {
            return EXPECT_STATUS_DEFAULT.contains(code);
        }
        self.expect_status.iter().any(|r| r.contains(code))
    }
}

impl HttpMethod {
    #[cfg(test)]
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Head => "HEAD",
            HttpMethod::Post => "POST",
            HttpMethod::Options => "OPTIONS",
        }
    }

    /// Parses a method name case-insensitively.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "GET" => Some(HttpMethod::Get),
            "HEAD" => Some(HttpMethod::Head),
            "POST" => Some(HttpMethod::Post),
            "OPTIONS" => Some(HttpMethod::Options),
            _ => None,
        }
    }
}

impl CheckSpec {
    /// A check with every timing at its default.
    pub(crate) fn new(name: impl Into<Arc<str>>, kind: CheckKind) -> Self {
        Self {
            name: name.into(),
            kind,
            port: None,
            interval: INTERVAL_DEFAULT,
            timeout: TIMEOUT_DEFAULT,
            rise: RISE_DEFAULT,
            fall: FALL_DEFAULT,
            jitter: JITTER_DEFAULT,
            quorum: None,
            watermarks: None,
        }
    }

    /// The port to probe: the explicit one, else 80 for `http` and 443 for `https`.
    pub(crate) fn probe_port(&self) -> Option<u16> {
        self.port.or(match self.kind {
            CheckKind::Http(_) => Some(HTTP_PORT_DEFAULT),
            CheckKind::Https(_) => Some(HTTPS_PORT_DEFAULT),
            CheckKind::Tcp(_) => None,
        })
    }

    /// Every range violation, in field order; empty when valid.
    pub(crate) fn validate(&self) -> Vec<CheckError> {
        let mut errors = Vec::new();
        let mut err = |field, message: String| errors.push(CheckError { field, message });
        range_check(&mut err, "interval", self.interval, &INTERVAL_RANGE);
        range_check(&mut err, "timeout", self.timeout, &TIMEOUT_RANGE);
        if self.timeout > self.interval {
            err("timeout", "must not exceed interval".into());
        }
        range_check(&mut err, "rise", self.rise, &RISE_RANGE);
        range_check(&mut err, "fall", self.fall, &FALL_RANGE);
        range_check(&mut err, "jitter", self.jitter, &JITTER_RANGE);
        if self.jitter > self.interval {
            err("jitter", "must not exceed interval".into());
        }
        if self.port == Some(0) || self.probe_port().is_none() {
            err(
                "port",
                "must be 1..=65535 (tcp checks have no default)".into(),
            );
        }
        match &self.kind {
            CheckKind::Http(h) | CheckKind::Https(h) => validate_http(h, &mut err),
            CheckKind::Tcp(t) => range_check(&mut err, "max_reply", t.max_reply, &MAX_BODY_RANGE),
        }
        errors
    }
}

fn validate_http(h: &HttpCheck, err: &mut impl FnMut(&'static str, String)) {
    if !h.path.starts_with('/') || h.path.chars().any(|c| c.is_control() || c == ' ') {
        err("path", "must start with '/' and contain no spaces".into());
    }
    for (field, name) in [("host", &h.host), ("sni", &h.sni)] {
        if let Some(name) = name
            && !is_hostname(name)
        {
            err(field, format!("{name:?} is not a host name"));
        }
    }
    for r in &h.expect_status {
        if r.lo < 100 || r.hi > 599 || r.lo > r.hi {
            err(
                "expect_status",
                format!("{}-{} is not within 100-599", r.lo, r.hi),
            );
        }
    }
    if h.method == HttpMethod::Head && h.body_contains.is_some() {
        err("body_contains", "a HEAD answer has no body".into());
    }
    range_check(err, "max_body", h.max_body, &MAX_BODY_RANGE);
    for (name, value) in &h.headers {
        let bad_name = name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
        if bad_name || value.chars().any(char::is_control) {
            err("headers", format!("invalid header {name:?}"));
        }
    }
}

fn range_check<T: PartialOrd + std::fmt::Debug>(
    err: &mut impl FnMut(&'static str, String),
    field: &'static str,
    value: T,
    range: &RangeInclusive<T>,
) {
    if !range.contains(&value) {
        let (lo, hi) = (range.start(), range.end());
        err(field, format!("{value:?} is outside {lo:?}..={hi:?}"));
    }
}

/// A DNS host name usable in a URL (letters, digits, '-', '.'); IP literals are not names.
fn is_hostname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.parse::<std::net::IpAddr>().is_err()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http() -> CheckSpec {
        CheckSpec::new("web", CheckKind::Http(HttpCheck::new("/health")))
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(http().validate(), vec![]);
        assert_eq!(http().probe_port(), Some(80));
        let tls = CheckSpec::new("tls", CheckKind::Https(HttpCheck::new("/")));
        assert_eq!(tls.probe_port(), Some(443));
    }

    #[test]
    fn tcp_needs_a_port() {
        let mut tcp = CheckSpec::new("db", CheckKind::Tcp(TcpCheck::default()));
        let fields: Vec<_> = tcp.validate().iter().map(|e| e.field).collect();
        assert_eq!(fields, ["port"]);
        tcp.port = Some(5432);
        assert!(tcp.validate().is_empty());
    }

    #[test]
    fn every_violation_is_reported() {
        let mut c = http();
        c.interval = Duration::from_millis(10);
        c.rise = 0;
        c.fall = 1000;
        if let CheckKind::Http(h) = &mut c.kind {
            h.path = "health".into();
            h.host = Some("bad host".into());
            h.expect_status = vec![StatusRange { lo: 500, hi: 200 }];
        }
        let fields: Vec<_> = c.validate().iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "interval",
                "timeout",
                "rise",
                "fall",
                "jitter",
                "path",
                "host",
                "expect_status"
            ]
        );
    }

    #[test]
    fn status_expectations() {
        let mut h = HttpCheck::new("/");
        assert!(h.accepts(204) && !h.accepts(301) && !h.accepts(500));
        h.expect_status = vec![StatusRange::single(301), StatusRange { lo: 500, hi: 503 }];
        assert!(h.accepts(301) && h.accepts(502) && !h.accepts(200));
    }

    #[test]
    fn method_names_round_trip() {
        for m in [
            HttpMethod::Get,
            HttpMethod::Head,
            HttpMethod::Post,
            HttpMethod::Options,
        ] {
            assert_eq!(HttpMethod::parse(&m.as_str().to_lowercase()), Some(m));
        }
        assert_eq!(HttpMethod::parse("DELETE"), None);
    }
}
