//! The whole subsystem against real backends: warm start, down and back, reasons, flapping,
//! de-duplication and reconcile.

use std::time::Duration;

use super::backend_fixtures::{Backend, Mode, closed_port};
use super::fixtures::{Running, eventually, fast_check, target};
use crate::health::probe::ProbeFailure;
use crate::health::{HealthConfig, Status};

#[tokio::test]
async fn goes_down_and_comes_back_within_bounds() {
    let (interval, timeout, rise, fall) = (200, 150, 2, 3);
    let check = fast_check("web", interval, timeout, rise, fall);
    let backend = Backend::start(10, Mode::Ok).await;
    let t = target(backend.addr, &check, "eu", &["web-eu"]);
    let key = t.key.to_string();
    let run = Running::start(HealthConfig::default(), vec![t]);
    assert!(
        !run.health.is_ready(),
        "not ready before the warm-start probe"
    );
    run.ready().await;
    assert_eq!(run.status(&key), Status::Up);

    backend.set(Mode::Hang);
    let down_bound = Duration::from_millis(interval * u64::from(fall) + timeout + 1000);
    let took = run.until(&key, Status::Down, down_bound).await;
    println!("{key}: DOWN {took:?} after the backend stopped answering (bound {down_bound:?})");
    let report = run.health.report();
    let detail = report.target(&key).unwrap();
    assert_eq!(detail.failures, fall);
    assert_eq!(
        detail.last_probe.as_ref().unwrap().failure,
        Some(ProbeFailure::Timeout)
    );

    backend.set(Mode::Ok);
    let up_bound = Duration::from_millis(interval * u64::from(rise) + timeout + 1000);
    let took = run.until(&key, Status::Up, up_bound).await;
    println!("{key}: UP {took:?} after the backend recovered (bound {up_bound:?})");
    assert!(run.health.report().target(&key).unwrap().successes >= rise);
    run.stop().await;
}

#[tokio::test]
async fn each_failure_is_marked_down_with_its_reason() {
    let check = fast_check("web", 100, 80, 2, 2);
    let modes = [
        (20, Mode::Hang, ProbeFailure::Timeout),
        (21, Mode::Status500, ProbeFailure::Status(500)),
        (22, Mode::WrongBody, ProbeFailure::BodyMismatch),
        (23, Mode::Reset, ProbeFailure::Reset),
    ];
    let mut backends = Vec::new();
    for (last, mode, want) in modes {
        backends.push((Backend::start(last, mode).await, want));
    }
    let mut targets: Vec<_> = backends
        .iter()
        .map(|(b, _)| target(b.addr, &check, "eu", &[]))
        .collect();
    let refused = closed_port(24).await;
    targets.push(target(refused, &check, "eu", &[]));
    let run = Running::start(HealthConfig::default(), targets);
    run.ready().await;
    let report = run.health.report();
    let mut expected: Vec<_> = backends
        .iter()
        .map(|(b, want)| (b.addr, want.clone()))
        .collect();
    expected.push((refused, ProbeFailure::Refused));
    for (addr, want) in expected {
        let key = format!("{}/web", addr.ip());
        let detail = report
            .targets
            .iter()
            .find(|t| t.probe_addr == addr)
            .unwrap();
        assert_eq!(detail.status, Status::Down, "{key} {addr}");
        assert_eq!(
            detail.last_probe.as_ref().unwrap().failure,
            Some(want),
            "{addr}"
        );
    }
    run.stop().await;
}

#[tokio::test]
async fn alternating_backend_does_not_flap() {
    let check = fast_check("web", 100, 80, 2, 2);
    let backend = Backend::start(12, Mode::Alternate).await;
    let t = target(backend.addr, &check, "eu", &[]);
    let key = t.key.to_string();
    let run = Running::start(HealthConfig::default(), vec![t]);
    run.ready().await;
    let first = run.status(&key);
    let generation = run.health.snapshot().generation;
    assert_eq!(first, Status::Up, "the first answer is a success");
    let mut changed = false;
    let seen = eventually("ten alternating probes", Duration::from_secs(5), || {
        changed |= run.status(&key) != first;
        backend.hits() >= 10
    })
    .await;
    println!(
        "{key}: stayed {first:?} over {} alternating probes in {seen:?}",
        backend.hits()
    );
    assert!(!changed, "the published state flapped");
    assert_eq!(
        run.health.snapshot().generation,
        generation,
        "nothing was republished"
    );
    run.stop().await;
}

#[tokio::test]
async fn identical_targets_are_probed_once() {
    let interval = 100;
    let web = fast_check("web", interval, 80, 2, 2);
    let same = fast_check("web-again", interval, 80, 2, 2);
    let backend = Backend::start(13, Mode::Ok).await;
    // The same target from two services in two zones, and another check name with the same content.
    let targets = vec![
        target(backend.addr, &web, "eu", &["zone-a-pool"]),
        target(backend.addr, &web, "eu", &["zone-b-pool"]),
        target(backend.addr, &same, "eu", &["zone-b-pool"]),
    ];
    let run = Running::start(HealthConfig::default(), targets);
    assert_eq!(run.health.probe_count(), 1);
    run.ready().await;
    let report = run.health.report();
    assert_eq!(report.targets.len(), 2);
    assert_eq!(
        report.targets[0].pools.len(),
        2,
        "pools of the merged target are united"
    );
    let start = backend.hits();
    let took = eventually("ten more probes", Duration::from_secs(5), || {
        backend.hits() >= start + 10
    })
    .await;
    println!("ten probes of three identical targets took {took:?}");
    assert!(
        took >= Duration::from_millis(interval * 8),
        "probed more than once per interval: {took:?}"
    );
    run.stop().await;
}

#[tokio::test]
async fn reconcile_keeps_unchanged_stops_removed_starts_new() {
    let check = fast_check("web", 100, 80, 2, 2);
    let (a, b, c) = (
        Backend::start(14, Mode::Ok).await,
        Backend::start(15, Mode::Ok).await,
        Backend::start(16, Mode::WrongBody).await,
    );
    let (ta, tb, tc) = (
        target(a.addr, &check, "eu", &[]),
        target(b.addr, &check, "eu", &[]),
        target(c.addr, &check, "eu", &[]),
    );
    let mut run = Running::start(HealthConfig::default(), vec![ta.clone(), tb.clone()]);
    run.ready().await;
    let since = run.health.report().target(&ta.key).unwrap().since;

    let report = run.health.reconcile(vec![ta.clone(), tc.clone()]);
    assert_eq!(
        (
            report.probes_kept,
            report.probes_started,
            report.probes_stopped
        ),
        (1, 1, 1)
    );
    run.until(&tc.key, Status::Down, Duration::from_secs(2))
        .await;
    assert!(run.health.is_ready(), "readiness is not lost on reload");
    let detail = run.health.report();
    assert!(detail.target(&tb.key).is_none());
    assert_eq!(
        detail.target(&ta.key).unwrap().since,
        since,
        "unchanged targets keep their state"
    );
    let b_hits = b.hits();
    let c_hits = c.hits();
    eventually(
        "five probes of the new target",
        Duration::from_secs(3),
        || c.hits() >= c_hits + 5,
    )
    .await;
    assert!(
        b.hits() <= b_hits + 1,
        "a removed target is no longer probed"
    );
    run.stop().await;
}
