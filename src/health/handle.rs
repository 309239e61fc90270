//! Starting the health subsystem and the handles the app, query path and admin API use.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::ledger::Ledger;
use super::override_file::{OverrideFileError, read_override_file, watch_override_file};
use super::overrides::{Forced, Selector};
use super::persist;
use super::probe::ProbeSource;
use super::report::HealthReport;
use super::scheduler::{ReconcileReport, Scheduler};
use super::snapshot::HealthSnapshot;
use super::target::TargetSpec;
use super::tracker::{Command, Outputs, Tracker, TrackerMsg};
use super::votes::{ClusterVotes, VoteUpdate};

/// How often the override file is re-read by default.
pub(crate) const OVERRIDE_POLL_DEFAULT: Duration = Duration::from_secs(1);
/// Shortest time between two published snapshots by default.
pub(crate) const COALESCE_DEFAULT: Duration = Duration::from_millis(100);

/// Runtime settings of the health subsystem (from the server config, not zone files).
#[derive(Clone, Debug)]
pub struct HealthConfig {
    /// Last-known states are loaded from and saved to this JSON file.
    pub(crate) state_file: Option<PathBuf>,
    /// Operator override file (see the module docs for the format).
    pub(crate) override_file: Option<PathBuf>,
    pub(crate) override_poll: Duration,
    pub(crate) coalesce: Duration,
    /// Cluster mode: this instance's name and where its votes go (see [`crate::cluster`]).
    pub(crate) cluster: Option<ClusterLink>,
    /// Probes are sent from these addresses (multi-homed hosts; a vantage point per instance).
    pub(crate) probe_source: ProbeSource,
    /// Load-aware steering: where load read from probe replies goes.
    pub(crate) load: Option<mpsc::UnboundedSender<crate::load::feed::FeedMsg>>,
}

/// The health side of cluster mode.
#[derive(Clone, Debug)]
pub(crate) struct ClusterLink {
    pub(crate) instance: Arc<str>,
    pub(crate) votes: mpsc::UnboundedSender<VoteUpdate>,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            state_file: None,
            override_file: None,
            override_poll: OVERRIDE_POLL_DEFAULT,
            coalesce: COALESCE_DEFAULT,
            cluster: None,
            probe_source: ProbeSource::default(),
            load: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
/// Why the health subsystem cannot start or answer.
pub enum HealthError {
    #[error(transparent)]
    /// The override file is invalid.
    OverrideFile(#[from] OverrideFileError),
    #[error("the health tracker has stopped")]
    /// The tracker task has stopped.
    Stopped,
}

/// The running subsystem: owns the scheduler; hand out [`HealthHandle`]s.
#[derive(Debug)]
pub struct Health {
    handle: HealthHandle,
    scheduler: Scheduler,
}

/// A cheap, clonable handle: lock-free reads of the snapshot and report, readiness, overrides.
#[derive(Clone, Debug)]
pub struct HealthHandle {
    tx: mpsc::UnboundedSender<TrackerMsg>,
    snapshot: Arc<ArcSwap<HealthSnapshot>>,
    report: Arc<ArcSwap<HealthReport>>,
    ready: watch::Receiver<bool>,
}

impl Health {
    /// Loads the state and override files, spawns the tracker, the override-file watcher and a
    /// probe task per distinct probe of `targets`. Tasks stop when `cancel` is cancelled and are
    /// tracked by `tasks`. Fails only on an unreadable or invalid override file.
    pub(crate) fn start(
        config: HealthConfig,
        targets: Vec<TargetSpec>,
        cancel: &CancellationToken,
        tasks: &TaskTracker,
    ) -> Result<Health, HealthError> {
        let file_overrides = match &config.override_file {
            Some(path) => Some((path.clone(), read_override_file(path)?)),
            None => None,
        };
        let saved = config.state_file.as_deref().and_then(|path| {
            persist::load(path)
                .map_err(anyhow::Error::new)
                .inspect_err(|e| tracing::warn!("health: {e:#}; starting without it"))
                .ok()
                .flatten()
        });
        let (mut ledger, bad) = Ledger::restoring(saved);
        if let Some(link) = &config.cluster {
            ledger.set_instance(link.instance.clone());
        }
        for selector in bad {
            tracing::warn!("health: ignoring saved override with invalid selector {selector:?}");
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = watch::channel(false);
        let snapshot = Arc::new(ArcSwap::from_pointee(HealthSnapshot::empty()));
        let report = Arc::new(ArcSwap::from_pointee(HealthReport::default()));
        if let Some((path, (text, overrides))) = file_overrides {
            let _ = ledger.replace_file_overrides(overrides);
            let watcher = watch_override_file(
                path,
                config.override_poll,
                text,
                tx.clone(),
                cancel.child_token(),
            );
            tasks.spawn(watcher);
        }
        let out = Outputs {
            snapshot: snapshot.clone(),
            report: report.clone(),
            ready: ready_tx,
            votes: config.cluster.as_ref().map(|l| l.votes.clone()),
            load: config.load.clone(),
        };
        let tracker = Tracker::new(ledger, rx, out, config.state_file.clone(), config.coalesce);
        tasks.spawn(tracker.run(cancel.child_token()));
        let mut scheduler = Scheduler::new(
            tx.clone(),
            config.probe_source,
            cancel.child_token(),
            tasks.clone(),
        );
        scheduler.reconcile(targets);
        let handle = HealthHandle {
            tx,
            snapshot,
            report,
            ready: ready_rx,
        };
        Ok(Health { handle, scheduler })
    }

    pub(crate) fn handle(&self) -> HealthHandle {
        self.handle.clone()
    }

    /// Applies a reloaded target set (see [`Scheduler::reconcile`]); overrides are kept.
    pub(crate) fn reconcile(&mut self, targets: Vec<TargetSpec>) -> ReconcileReport {
        self.scheduler.reconcile(targets)
    }

    /// Number of probe tasks running (distinct probes, not targets).
    #[cfg(test)]
    pub(crate) fn probe_count(&self) -> usize {
        self.scheduler.probe_count()
    }
}

impl std::ops::Deref for Health {
    type Target = HealthHandle;

    fn deref(&self) -> &HealthHandle {
        &self.handle
    }
}

impl HealthHandle {
    /// The current snapshot (one atomic load).
    #[cfg(test)]
    pub(crate) fn snapshot(&self) -> Arc<HealthSnapshot> {
        self.snapshot.load_full()
    }

    /// The swap cell itself, for the query path to `load()` per query.
    pub(crate) fn snapshots(&self) -> Arc<ArcSwap<HealthSnapshot>> {
        self.snapshot.clone()
    }

    /// Per-target detail and overrides, for status output.
    pub(crate) fn report(&self) -> Arc<HealthReport> {
        self.report.load_full()
    }

    pub(crate) fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    /// Waits for the warm start to complete.
    pub async fn wait_ready(&self) -> Result<(), HealthError> {
        let mut ready = self.ready.clone();
        ready
            .wait_for(|r| *r)
            .await
            .map(drop)
            .map_err(|_| HealthError::Stopped)
    }

    /// Forces targets matched by `selector` to `state`; returns once the change is published.
    pub(crate) async fn force(&self, selector: Selector, state: Forced) -> Result<(), HealthError> {
        self.command(Command::Override { selector, state })
            .await
            .map(drop)
    }

    /// Removes the API override for `selector` (file overrides stay); returns whether one existed.
    pub(crate) async fn clear(&self, selector: Selector) -> Result<bool, HealthError> {
        self.command(Command::Clear { selector }).await
    }

    /// Cluster mode: hands the tracker a new view of the cluster's votes and overrides.
    #[cfg_attr(
        not(feature = "cluster"),
        allow(dead_code, reason = "sent by the etcd link")
    )]
    pub(crate) fn cluster_view(&self, view: Arc<ClusterVotes>) -> Result<(), HealthError> {
        self.tx
            .send(TrackerMsg::Cluster(view))
            .map_err(|_| HealthError::Stopped)
    }

    async fn command(&self, command: Command) -> Result<bool, HealthError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(TrackerMsg::Command(command, reply))
            .map_err(|_| HealthError::Stopped)?;
        answer.await.map_err(|_| HealthError::Stopped)
    }
}
