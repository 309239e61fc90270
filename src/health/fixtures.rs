//! Helpers of the health subsystem's tests against real listeners on 127.0.0.x: checks and
//! targets with small timings, a running subsystem, and waiting for a condition.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::check::{CheckKind, CheckSpec, HttpCheck};
use super::target::TargetSpec;
use super::{Health, HealthConfig, Status};

/// An HTTP check expecting the healthy body, with small timings.
pub(super) fn fast_check(
    name: &str,
    interval_ms: u64,
    timeout_ms: u64,
    rise: u32,
    fall: u32,
) -> Arc<CheckSpec> {
    let mut http = HttpCheck::new("/health");
    http.body_contains = Some("healthy".into());
    let mut check = CheckSpec::new(name, CheckKind::Http(http));
    check.interval = Duration::from_millis(interval_ms);
    check.timeout = Duration::from_millis(timeout_ms);
    check.jitter = Duration::from_millis(interval_ms / 2);
    check.rise = rise;
    check.fall = fall;
    Arc::new(check)
}

/// A target keyed by its probe address's IP and the check name.
pub(super) fn target(
    probe: SocketAddr,
    check: &Arc<CheckSpec>,
    dc: &str,
    pools: &[&str],
) -> TargetSpec {
    TargetSpec {
        key: TargetSpec::key_for(probe.ip(), &check.name),
        probe_addr: probe,
        check: check.clone(),
        datacenter: dc.into(),
        pools: pools.iter().map(|p| Arc::from(*p)).collect(),
    }
}

/// A running subsystem with its shutdown handles.
pub(super) struct Running {
    pub(super) health: Health,
    cancel: CancellationToken,
    tasks: TaskTracker,
}

impl Running {
    pub(super) fn start(config: HealthConfig, targets: Vec<TargetSpec>) -> Running {
        init_logs();
        let (cancel, tasks) = (CancellationToken::new(), TaskTracker::new());
        let config = HealthConfig {
            coalesce: Duration::from_millis(20),
            ..config
        };
        let health = Health::start(config, targets, &cancel, &tasks).expect("health starts");
        Running {
            health,
            cancel,
            tasks,
        }
    }

    pub(super) async fn ready(&self) {
        let wait = self.health.wait_ready();
        tokio::time::timeout(Duration::from_secs(5), wait)
            .await
            .expect("ready in time")
            .unwrap();
    }

    pub(super) fn status(&self, key: &str) -> Status {
        self.health.snapshot().status(key)
    }

    /// Waits until `key` has `want` in the published snapshot; returns how long that took.
    pub(super) async fn until(&self, key: &str, want: Status, limit: Duration) -> Duration {
        let what = format!("{key} becomes {want:?}");
        eventually(&what, limit, || self.status(key) == want).await
    }

    pub(super) async fn stop(self) {
        self.cancel.cancel();
        self.tasks.close();
        tokio::time::timeout(Duration::from_secs(5), self.tasks.wait())
            .await
            .expect("tasks stop");
    }
}

/// Polls `cond` every 5 ms until it holds; panics after `limit`. Returns the time it took.
pub(super) async fn eventually(
    what: &str,
    limit: Duration,
    mut cond: impl FnMut() -> bool,
) -> Duration {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    start.elapsed()
}

fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("meridian=info")
        .with_test_writer()
        .try_init();
}
