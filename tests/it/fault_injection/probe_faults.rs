//! Probe targets that hang, trickle, send garbage or huge bodies: DNS keeps answering, each target goes down with a clear reason within its timeout, and comes back.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use super::backends::{Backend, Mode};
use super::harness::{Served, log_line, serve, zone_head};
use crate::support::{addrs, eventually, ip};

/// The check's timeout; every probe verdict must come within it (plus scheduling slack).
/// Long enough that the good target's probe is never cut on a loaded two-core machine
/// running the whole harness (300 ms was, now and then).
const TIMEOUT_MS: u64 = 800;
/// The slack: the targets hang or trickle forever, so a verdict within a second of the
/// timeout shows the timeout cut the probe, also on a loaded machine where this process
/// runs every other integration test alongside.
const SLACK_MS: u64 = 1000;

const FAULTS: [(&str, Mode); 6] = [
    ("good", Mode::Good),
    ("hang", Mode::Hang),
    ("trickle", Mode::Trickle),
    ("garbage", Mode::Garbage),
    ("hugebody", Mode::HugeBody),
    ("hugeheaders", Mode::HugeHeaders),
];

/// The checks probing every backend, and what each fault's reported error contains.
const CHECKS: [(&str, [&str; 6]); 2] = [
    // http: status line, headers and a body bounded by max_body.
    (
        "web",
        [
            "",
            "timeout",
            "timeout",
            "invalid HTTP",
            "body mismatch",
            "too large",
        ],
    ),
    // tcp: send a line, expect "healthy" within max_reply bytes.
    (
        "raw",
        [
            "",
            "timeout",
            "timeout",
            "body mismatch",
            "body mismatch",
            "body mismatch",
        ],
    ),
];

/// A zone with one failover service per backend; a service whose member is down answers
/// the fallback 192.0.2.1.
fn zone(backends: &[Backend]) -> String {
    let mut text = zone_head("faults.test.");
    text.push_str(
        r#"[checks.web]
type = "http"
path = "/health"
interval = "1s"
timeout = "800ms"
rise = 1
fall = 1
jitter = 0
body_contains = "healthy"
max_body = 4096
[checks.raw]
type = "tcp"
# Every member gives probe = "IP:PORT"; the port is still required (see
# regressions::tcp_check_port_may_come_from_every_member_probe).
port = 9
interval = "1s"
timeout = "800ms"
rise = 1
fall = 1
jitter = 0
send = "HELLO\r\n"
expect = "healthy"
max_reply = 4096
"#,
    );
    for (i, ((name, _), backend)) in FAULTS.iter().zip(backends).enumerate() {
        for (check, _) in CHECKS {
            let _ = write!(
                text,
                "[pools.{name}-{check}]\nmembers = [{{ address = \"{}\", datacenter = \"dc\", \
                 check = \"{check}\", probe = \"{}\" }}]\n\
                 [services.{name}-{check}]\npolicy = \"failover\"\npools = [\"{name}-{check}\"]\n\
                 all_down = \"fallback\"\nfallback = [\"192.0.2.1\"]\n",
                member(i),
                backend.addr
            );
        }
    }
    text
}

fn member(i: usize) -> String {
    format!("192.0.2.{}", 11 + i)
}

/// Each service answers its member while the target is up, the fallback while it is down.
async fn answers(s: &Served, service: &str, i: usize, up: bool) -> bool {
    let want = if up { member(i) } else { "192.0.2.1".into() };
    let reply = s
        .ask(&format!("{service}.faults.test."), RecordType::A, None)
        .await;
    addrs(&reply) == vec![ip(&want)]
}

#[tokio::test]
async fn misbehaving_probe_targets_go_down_with_a_reason_and_recover() {
    let mut backends = Vec::new();
    for (i, (_, mode)) in FAULTS.iter().enumerate() {
        backends.push(Backend::start(&format!("127.54.0.{}", i + 1), *mode).await);
    }
    let s = serve(&[("faults.test.toml", zone(&backends))], |_| {}).await;
    // Warm start is bounded by the probe timeout, whatever the targets do.
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), s.server.health.wait_ready())
        .await
        .expect("warm start despite hanging targets")
        .unwrap();
    println!("warm start after {:?}", started.elapsed());
    for (check, reasons) in CHECKS {
        for (i, ((name, mode), reason)) in FAULTS.iter().zip(reasons).enumerate() {
            let (service, up) = (format!("{name}-{check}"), *mode == Mode::Good);
            eventually(&service, Duration::from_secs(6), || {
                answers(&s, &service, i, up)
            })
            .await;
            let key = format!("{}/{check}", member(i));
            let target = s.target(&key).await;
            let probe = &target["last_probe"];
            let error = probe["error"].as_str().unwrap_or_default().to_string();
            let rtt = probe["rtt_ms"].as_f64().unwrap_or(f64::MAX);
            println!("{key} {name}: {}, {rtt:.1} ms, {error:?}", target["state"]);
            assert!(
                rtt <= (TIMEOUT_MS + SLACK_MS) as f64,
                "{key}: probe took {rtt} ms"
            );
            let state = if up { "up" } else { "down" };
            assert_eq!(target["state"], state, "{key}: {target}");
            assert!(error.contains(reason), "{key}: {error:?} lacks {reason:?}");
            if !up {
                log_line(&[&format!("target {key} DOWN")], Duration::from_secs(2)).await;
            }
        }
    }
    // DNS never waits on probes: a burst of queries is answered promptly throughout.
    let mut slowest = Duration::ZERO;
    for n in 0..200 {
        let (name, _) = FAULTS[n % FAULTS.len()];
        let asked = Instant::now();
        let reply = s
            .ask(&format!("{name}-web.faults.test."), RecordType::A, None)
            .await;
        slowest = slowest.max(asked.elapsed());
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    }
    println!("slowest of 200 queries during probe faults: {slowest:?}");
    assert!(slowest < Duration::from_millis(250), "{slowest:?}");
    // Every target comes back once its endpoint behaves (rise 1).
    for backend in &backends {
        backend.set(Mode::Good);
    }
    for (check, _) in CHECKS {
        for (i, (name, _)) in FAULTS.iter().enumerate() {
            let service = format!("{name}-{check}");
            let took = eventually(&service, Duration::from_secs(6), || {
                answers(&s, &service, i, true)
            });
            println!("{service} back after {:?}", took.await);
            assert_eq!(
                s.target(&format!("{}/{check}", member(i))).await["state"],
                "up"
            );
        }
    }
    s.server.shutdown().await;
}
