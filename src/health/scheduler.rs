//! The scheduler: one probe task per distinct probe (jittered interval), reconciled on reload.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::probe::{ProbeSource, Prober};
use super::target::{ProbeKey, TargetConflict, TargetSpec, merge_targets};
use super::tracker::TrackerMsg;

/// Owns the probe tasks. Identical probes (same address and check content) run once, however
/// many targets, services and zones share them.
#[derive(Debug)]
pub(crate) struct Scheduler {
    tx: mpsc::UnboundedSender<TrackerMsg>,
    source: ProbeSource,
    cancel: CancellationToken,
    tasks: TaskTracker,
    probes: HashMap<Arc<ProbeKey>, CancellationToken>,
}

/// What a reconcile did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Distinct target keys now tracked.
    pub(crate) targets: usize,
    pub(crate) probes_kept: usize,
    pub(crate) probes_started: usize,
    pub(crate) probes_stopped: usize,
    /// Keys defined twice differently (the first definition was kept).
    pub(crate) conflicts: Vec<TargetConflict>,
}

impl Scheduler {
    /// Probe tasks are children of `cancel` and tracked by `tasks`.
    pub(crate) fn new(
        tx: mpsc::UnboundedSender<TrackerMsg>,
        source: ProbeSource,
        cancel: CancellationToken,
        tasks: TaskTracker,
    ) -> Self {
        Self {
            tx,
            source,
            cancel,
            tasks,
            probes: HashMap::new(),
        }
    }

    /// Number of probe tasks running.
    #[cfg(test)]
    pub(crate) fn probe_count(&self) -> usize {
        self.probes.len()
    }

    /// Makes the probed set equal to `targets`: unchanged probes keep running (and their targets
    /// keep their state), probes no longer wanted stop, new ones start. Must run inside a runtime.
    pub(crate) fn reconcile(&mut self, targets: Vec<TargetSpec>) -> ReconcileReport {
        let (targets, conflicts) = merge_targets(targets);
        for conflict in &conflicts {
            tracing::warn!("health: {conflict}; keeping the first definition");
        }
        let wanted: HashSet<ProbeKey> = targets.iter().map(TargetSpec::probe_key).collect();
        let mut report = ReconcileReport {
            targets: targets.len(),
            conflicts,
            ..ReconcileReport::default()
        };
        // The tracker learns the targets before any new probe can report.
        let _ = self.tx.send(TrackerMsg::Targets(targets));
        self.probes.retain(|key, token| {
            let keep = wanted.contains(&**key);
            if !keep {
                token.cancel();
                report.probes_stopped += 1;
            }
            keep
        });
        for key in wanted {
            if self.probes.contains_key(&key) {
                report.probes_kept += 1;
                continue;
            }
            let key = Arc::new(key);
            let token = self.cancel.child_token();
            let prober = Prober::new(&key, self.source);
            let task = probe_loop(key.clone(), prober, self.tx.clone(), token.clone());
            self.tasks.spawn(task);
            self.probes.insert(key, token);
            report.probes_started += 1;
        }
        tracing::info!(
            "health: reconciled {} targets: {} probes kept, {} started, {} stopped",
            report.targets,
            report.probes_kept,
            report.probes_started,
            report.probes_stopped
        );
        report
    }
}

/// Probes `key` every interval after its start delay until cancelled or the tracker is gone.
async fn probe_loop(
    key: Arc<ProbeKey>,
    prober: Prober,
    tx: mpsc::UnboundedSender<TrackerMsg>,
    cancel: CancellationToken,
) {
    tokio::select! {
        biased;
        () = cancel.cancelled() => return,
        () = tokio::time::sleep(key.start_delay()) => {}
    }
    let mut ticker = tokio::time::interval(key.interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        let outcome = tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            _ = ticker.tick() => tokio::select! {
                biased;
                () = cancel.cancelled() => return,
                outcome = prober.probe() => outcome,
            },
        };
        crate::metrics::probe(
            key.kind.check_type(),
            outcome.rtt.as_secs_f64(),
            outcome
                .failure
                .as_ref()
                .map(super::probe::ProbeFailure::label),
        );
        if tx.send(TrackerMsg::Outcome(key.clone(), outcome)).is_err() {
            return;
        }
    }
}
