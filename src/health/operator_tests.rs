//! Operator-facing behaviour: API and file overrides, and the state file across a restart.

use std::time::Duration;

use super::backend_fixtures::{Backend, Mode};
use super::fixtures::{Running, eventually, fast_check, target};
use crate::health::overrides::Source;
use crate::health::{Forced, Health, HealthConfig, HealthError, Status, TargetHealth};

const LIMIT: Duration = Duration::from_secs(3);

#[tokio::test]
async fn api_overrides_apply_at_once_and_survive_reload() {
    let check = fast_check("web", 100, 80, 2, 2);
    let (a, b) = (
        Backend::start(30, Mode::Ok).await,
        Backend::start(31, Mode::Ok).await,
    );
    let targets = vec![
        target(a.addr, &check, "eu-west", &["web-eu"]),
        target(b.addr, &check, "eu-west", &["web-eu"]),
    ];
    let (ka, kb) = (targets[0].key.to_string(), targets[1].key.to_string());
    let mut run = Running::start(HealthConfig::default(), targets.clone());
    run.ready().await;

    run.health
        .force("datacenter:eu-west".parse().unwrap(), Forced::Drain)
        .await
        .unwrap();
    let drained = TargetHealth {
        status: Status::Drained,
        forced: true,
    };
    assert_eq!(
        run.health.snapshot().get(&ka),
        Some(&drained),
        "published before force returns"
    );
    assert_eq!(run.health.snapshot().get(&kb), Some(&drained));
    run.health
        .force(ka.parse().unwrap(), Forced::Up)
        .await
        .unwrap();
    assert_eq!(run.status(&ka), Status::Up);

    run.health.reconcile(targets);
    run.health
        .force("pool:web-eu".parse().unwrap(), Forced::Down)
        .await
        .unwrap();
    let report = run.health.report();
    assert_eq!(report.overrides.len(), 3, "overrides survive the reload");
    let detail = report.target(&kb).unwrap();
    let forced = detail.forced.as_ref().unwrap();
    assert_eq!(
        (detail.status, forced.state, forced.source),
        (Status::Down, Forced::Down, Source::Api)
    );
    assert_eq!(forced.selector.to_string(), "pool:web-eu");

    assert!(run.health.clear(ka.parse().unwrap()).await.unwrap());
    assert!(
        run.health
            .clear("pool:web-eu".parse().unwrap())
            .await
            .unwrap()
    );
    assert!(
        !run.health
            .clear("pool:web-eu".parse().unwrap())
            .await
            .unwrap()
    );
    assert_eq!(run.status(&ka), Status::Drained);
    run.health
        .clear("datacenter:eu-west".parse().unwrap())
        .await
        .unwrap();
    let up = TargetHealth {
        status: Status::Up,
        forced: false,
    };
    assert_eq!(run.health.snapshot().get(&kb), Some(&up));
    run.stop().await;
}

#[tokio::test]
async fn override_file_is_watched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("admin_state");
    let check = fast_check("web", 100, 80, 2, 2);
    let backend = Backend::start(32, Mode::Ok).await;
    let t = target(backend.addr, &check, "eu-west", &["web-eu"]);
    let key = t.key.to_string();
    std::fs::write(&path, format!("# maintenance\n{key} DOWN\n")).unwrap();
    let config = HealthConfig {
        override_file: Some(path.clone()),
        override_poll: Duration::from_millis(50),
        ..HealthConfig::default()
    };
    let run = Running::start(config, vec![t]);
    run.ready().await;
    assert_eq!(
        run.health.snapshot().get(&key),
        Some(&TargetHealth {
            status: Status::Down,
            forced: true
        })
    );

    std::fs::write(&path, "pool:web-eu DRAIN\n").unwrap();
    run.until(&key, Status::Drained, LIMIT).await;
    std::fs::write(&path, "pool:web-eu SIDEWAYS\n").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await; // several polls: the bad file is ignored
    assert_eq!(run.status(&key), Status::Drained);
    std::fs::remove_file(&path).unwrap();
    run.until(&key, Status::Up, LIMIT).await;
    assert!(run.health.report().overrides.is_empty());
    run.stop().await;
}

#[tokio::test]
async fn invalid_override_file_fails_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("admin_state");
    std::fs::write(&path, "ok/web UP\nnonsense\n").unwrap();
    let config = HealthConfig {
        override_file: Some(path),
        ..HealthConfig::default()
    };
    let (cancel, tasks) = (
        tokio_util::sync::CancellationToken::default(),
        tokio_util::task::TaskTracker::default(),
    );
    let err = Health::start(config, vec![], &cancel, &tasks).unwrap_err();
    assert!(matches!(err, HealthError::OverrideFile(_)));
    assert!(err.to_string().contains("line 2"), "{err}");
}

#[tokio::test]
async fn saved_state_is_loaded_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("health.json");
    let config = HealthConfig {
        state_file: Some(state_file.clone()),
        ..HealthConfig::default()
    };
    let check = fast_check("web", 100, 80, 3, 2);
    let (dead, live) = (
        Backend::start(33, Mode::Status500).await,
        Backend::start(34, Mode::Ok).await,
    );
    let targets = vec![
        target(dead.addr, &check, "eu", &[]),
        target(live.addr, &check, "us", &[]),
    ];
    let (kd, kl) = (targets[0].key.to_string(), targets[1].key.to_string());

    let first = Running::start(config.clone(), targets.clone());
    first.ready().await;
    assert_eq!(first.status(&kd), Status::Down);
    first
        .health
        .force("datacenter:us".parse().unwrap(), Forced::Drain)
        .await
        .unwrap();
    first.stop().await;
    let saved = std::fs::read_to_string(&state_file).unwrap();
    assert!(
        saved.contains(&kd) && saved.contains("datacenter:us"),
        "{saved}"
    );

    dead.set(Mode::Ok); // recovered while we were away: still down until `rise` successes
    let second = Running::start(config, targets);
    second.ready().await;
    assert_eq!(
        second.status(&kd),
        Status::Down,
        "the restart remembers the dead site"
    );
    assert_eq!(
        second.status(&kl),
        Status::Drained,
        "API overrides are restored"
    );
    let took = second.until(&kd, Status::Up, LIMIT).await;
    println!("{kd}: UP {took:?} after restart (rise 3, interval 100 ms)");
    let probes = second.health.report().target(&kd).unwrap().successes;
    assert!(probes >= 3, "came up after {probes} successes");
    eventually("state file records the recovery", LIMIT, || {
        std::fs::read_to_string(&state_file).is_ok_and(|s| s.contains("\"up\""))
    })
    .await;
    second.stop().await;
}

#[tokio::test]
async fn override_file_selectors_naming_nothing_are_counted() {
    let handle = crate::metrics::install().unwrap();
    let gauge = || {
        let text = crate::metrics::render(&handle);
        let line = text
            .lines()
            .find(|l| l.starts_with("meridian_health_override_file_unknown_selectors "))
            .map(str::to_owned);
        line.unwrap_or_default()
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("admin_state");
    let check = fast_check("web", 100, 80, 2, 2);
    let backend = Backend::start(35, Mode::Ok).await;
    let t = target(backend.addr, &check, "eu-west", &["web-eu"]);
    let key = t.key.to_string();
    let text = format!("pool:nope DOWN\n{key} DRAIN\ndatacenter:mars DOWN\n192.0.2.1/web UP\n");
    std::fs::write(&path, text).unwrap();
    let config = HealthConfig {
        override_file: Some(path.clone()),
        override_poll: Duration::from_millis(50),
        ..HealthConfig::default()
    };
    let run = Running::start(config, vec![t]);
    run.ready().await;
    assert_eq!(run.status(&key), Status::Drained, "the good line applies");
    eventually("three unknown selectors counted", LIMIT, || {
        gauge().ends_with(" 3")
    })
    .await;
    std::fs::write(&path, format!("{key} DRAIN\npool:web-eu DOWN\n")).unwrap();
    eventually("no unknown selector left", LIMIT, || {
        gauge().ends_with(" 0")
    })
    .await;
    run.stop().await;
}
