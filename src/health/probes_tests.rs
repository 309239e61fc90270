//! One probe at a time against real backends: every failure reason, Host/SNI, TLS and TCP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::backend_fixtures::{Backend, HEALTHY_BODY, Mode, TlsBackend, closed_port};
use crate::health::check::{CheckKind, CheckSpec, HttpCheck, StatusRange, TcpCheck};
use crate::health::probe::{ProbeFailure, ProbeOutcome, probe};
use crate::health::target::TargetSpec;

const TIMEOUT: Duration = Duration::from_millis(300);

fn http_check(body: Option<&str>) -> HttpCheck {
    let mut http = HttpCheck::new("/health");
    http.body_contains = body.map(str::to_owned);
    http
}

fn spec(kind: CheckKind) -> Arc<CheckSpec> {
    let mut check = CheckSpec::new("web", kind);
    check.timeout = TIMEOUT;
    Arc::new(check)
}

async fn probe_at(addr: SocketAddr, kind: CheckKind) -> ProbeOutcome {
    let target = TargetSpec {
        key: TargetSpec::key_for(addr.ip(), "web"),
        probe_addr: addr,
        check: spec(kind),
        datacenter: "test".into(),
        pools: vec![],
    };
    probe(&target).await
}

async fn http_probe(mode: Mode, last: u8) -> ProbeOutcome {
    let backend = Backend::start(last, mode).await;
    probe_at(backend.addr, CheckKind::Http(http_check(Some("healthy")))).await
}

#[tokio::test]
async fn each_http_failure_has_its_reason() {
    let ok = http_probe(Mode::Ok, 2).await;
    assert!(ok.ok && ok.failure.is_none(), "{ok:?}");
    assert!(ok.rtt < TIMEOUT);
    let cases = [
        (Mode::Status500, ProbeFailure::Status(500)),
        (Mode::WrongBody, ProbeFailure::BodyMismatch),
        (Mode::Hang, ProbeFailure::Timeout),
        (Mode::Trickle, ProbeFailure::Timeout),
        (Mode::Reset, ProbeFailure::Reset),
    ];
    for (mode, want) in cases {
        let outcome = http_probe(mode, 2).await;
        assert_eq!(outcome.failure, Some(want), "{mode:?}: {outcome:?}");
        assert!(!outcome.ok);
        assert!(
            outcome.rtt < TIMEOUT + Duration::from_millis(200),
            "{mode:?} took {:?}",
            outcome.rtt
        );
    }
    let refused = probe_at(closed_port(2).await, CheckKind::Http(http_check(None))).await;
    assert_eq!(refused.failure, Some(ProbeFailure::Refused));
}

#[tokio::test]
async fn status_ranges_headers_and_host() {
    let backend = Backend::start(3, Mode::Status500).await;
    let mut http = http_check(None);
    http.expect_status = vec![StatusRange::single(200), StatusRange { lo: 500, hi: 503 }];
    http.host = Some("www.example.test".into());
    http.headers = vec![("x-probe".into(), "meridian".into())];
    let outcome = probe_at(backend.addr, CheckKind::Http(http)).await;
    assert!(outcome.ok, "{outcome:?}");
    let head = backend.heads().pop().unwrap().to_ascii_lowercase();
    assert!(head.starts_with("get /health http/1.1\r\n"), "{head}");
    let host = format!("host: www.example.test:{}\r\n", backend.addr.port());
    assert!(head.contains(&host), "{head}");
    assert!(head.contains("x-probe: meridian\r\n"), "{head}");
}

#[tokio::test]
async fn body_is_read_only_up_to_the_bound() {
    let backend = Backend::start(4, Mode::Ok).await;
    let mut http = http_check(Some("healthy"));
    http.max_body = 4; // "stat": the needle lies past the bound
    let outcome = probe_at(backend.addr, CheckKind::Http(http)).await;
    assert_eq!(outcome.failure, Some(ProbeFailure::BodyMismatch));
    assert!(HEALTHY_BODY.contains("healthy"));
}

#[tokio::test]
async fn https_sends_sni_and_verifies_when_asked() {
    let backend = TlsBackend::start(5, "www.example.test").await;
    let mut http = http_check(Some("healthy"));
    http.host = Some("origin.example.test".into());
    http.sni = Some("www.example.test".into());
    http.verify_tls = false;
    let outcome = probe_at(backend.addr, CheckKind::Https(http.clone())).await;
    assert!(outcome.ok, "{outcome:?}");
    assert_eq!(backend.sni(), [Some("www.example.test".to_string())]);
    let head = backend.heads().pop().unwrap().to_ascii_lowercase();
    assert!(head.contains("host: origin.example.test\r\n"), "{head}");

    http.verify_tls = true; // self-signed: the platform verifier rejects it
    let outcome = probe_at(backend.addr, CheckKind::Https(http)).await;
    match outcome.failure {
        Some(ProbeFailure::Tls(message)) => assert!(!message.is_empty()),
        other => panic!("expected a TLS failure, got {other:?}"),
    }
    let plain = probe_at(backend.addr, CheckKind::Http(http_check(None))).await;
    assert!(!plain.ok, "plain HTTP to a TLS port fails: {plain:?}");
}

#[tokio::test]
async fn tcp_connect_send_and_expect() {
    let backend = Backend::start(6, Mode::Ok).await;
    let connect = probe_at(backend.addr, CheckKind::Tcp(TcpCheck::default())).await;
    assert!(connect.ok, "{connect:?}");
    let exchange = |expect: &str| TcpCheck {
        send: Some(b"GET / HTTP/1.0\r\n\r\n".to_vec()),
        expect: Some(expect.as_bytes().to_vec()),
        ..TcpCheck::default()
    };
    let outcome = probe_at(backend.addr, CheckKind::Tcp(exchange("healthy"))).await;
    assert!(outcome.ok, "{outcome:?}");
    let outcome = probe_at(backend.addr, CheckKind::Tcp(exchange("nope"))).await;
    assert_eq!(outcome.failure, Some(ProbeFailure::BodyMismatch));
    backend.set(Mode::Hang);
    let outcome = probe_at(backend.addr, CheckKind::Tcp(exchange("healthy"))).await;
    assert_eq!(outcome.failure, Some(ProbeFailure::Timeout));
    let refused = probe_at(closed_port(6).await, CheckKind::Tcp(TcpCheck::default())).await;
    assert_eq!(refused.failure, Some(ProbeFailure::Refused));
}
