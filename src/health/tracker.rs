//! The tracker task: the single writer of health state; applies outcomes and overrides, publishes.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::ledger::{Event, Ledger};
use super::overrides::{Forced, Override, Selector, Source};
use super::persist;
use super::persist::unix_ms;
use super::probe::ProbeOutcome;
use super::recent::{Recent, RecentEvent};
use super::report::HealthReport;
use super::snapshot::{HealthSnapshot, Status};
use super::state::Observed;
use super::target::{ProbeKey, TargetSpec};
use super::votes::{ClusterVotes, VoteUpdate};
use crate::load::feed::FeedMsg;

/// Everything the tracker is told; it is the only way to change health state.
#[derive(Debug)]
pub(crate) enum TrackerMsg {
    /// The new target set (merged by key), sent by the scheduler before it starts new probes.
    Targets(Vec<TargetSpec>),
    Outcome(Arc<ProbeKey>, ProbeOutcome),
    /// The override file's new content.
    FileOverrides(Vec<Override>),
    /// An operator command; the reply is sent once its effect is published.
    Command(Command, oneshot::Sender<bool>),
    /// Cluster mode: a new view of every instance's votes and the cluster's overrides.
    #[cfg_attr(
        not(feature = "cluster"),
        allow(dead_code, reason = "sent by the etcd link")
    )]
    Cluster(Arc<ClusterVotes>),
}

/// An operator command from the API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Command {
    Override {
        selector: Selector,
        state: Forced,
    },
    /// Replies whether an API override existed for the selector.
    Clear {
        selector: Selector,
    },
}

/// Where the tracker publishes.
#[derive(Debug)]
pub(crate) struct Outputs {
    pub(crate) snapshot: Arc<ArcSwap<HealthSnapshot>>,
    pub(crate) report: Arc<ArcSwap<HealthReport>>,
    pub(crate) ready: watch::Sender<bool>,
    /// Cluster mode: where this instance's own votes go to be published.
    pub(crate) votes: Option<mpsc::UnboundedSender<VoteUpdate>>,
    /// Load-aware steering: where the load read from probe replies goes.
    pub(crate) load: Option<mpsc::UnboundedSender<FeedMsg>>,
}

#[derive(Debug)]
pub(crate) struct Tracker {
    ledger: Ledger,
    rx: mpsc::UnboundedReceiver<TrackerMsg>,
    out: Outputs,
    state_file: Option<PathBuf>,
    coalesce: Duration,
    generation: u64,
    have_targets: bool,
    ready: bool,
    /// Something changed since the last publish.
    changed: bool,
    /// Override-file selectors that name no target, as last logged.
    unknown_file: Vec<Selector>,
    replies: Vec<(oneshot::Sender<bool>, bool)>,
    /// The last events, for the report.
    recent: Recent,
}

impl Tracker {
    pub(crate) fn new(
        ledger: Ledger,
        rx: mpsc::UnboundedReceiver<TrackerMsg>,
        out: Outputs,
        state_file: Option<PathBuf>,
        coalesce: Duration,
    ) -> Self {
        Self {
            ledger,
            rx,
            out,
            state_file,
            coalesce,
            generation: 0,
            have_targets: false,
            ready: false,
            changed: false,
            unknown_file: Vec::new(),
            replies: Vec::new(),
            recent: Recent::default(),
        }
    }

    /// Runs until cancelled or every sender is gone; publishes at most once per `coalesce`
    /// except for operator commands and warm-start completion, which publish at once.
    pub(crate) async fn run(mut self, cancel: CancellationToken) {
        let mut publish_at: Option<Instant> = None;
        let mut last_publish = Instant::now();
        loop {
            tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                () = sleep_until(publish_at), if publish_at.is_some() => {
                    publish_at = None;
                    last_publish = Instant::now();
                    self.publish().await;
                }
                msg = self.rx.recv() => {
                    let Some(msg) = msg else { break };
                    self.handle(msg);
                    while let Ok(msg) = self.rx.try_recv() {
                        self.handle(msg);
                    }
                }
            }
            if self.changed {
                let urgent = !self.replies.is_empty() || self.warm_start_done();
                let due = if urgent {
                    Instant::now()
                } else {
                    last_publish + self.coalesce
                };
                publish_at = Some(publish_at.map_or(due, |at| at.min(due)));
            }
        }
        self.publish().await;
    }

    fn handle(&mut self, msg: TrackerMsg) {
        let now = SystemTime::now();
        let selectors_may_change =
            matches!(msg, TrackerMsg::Targets(_) | TrackerMsg::FileOverrides(_));
        let events = match msg {
            TrackerMsg::Targets(targets) => {
                self.have_targets = true;
                let events = self.ledger.set_targets(targets, now);
                self.send_votes(VoteUpdate::All(self.ledger.local_votes()));
                events
            }
            TrackerMsg::Outcome(probe, outcome) => {
                if let (Some(tx), Some(load)) = (&self.out.load, &outcome.load) {
                    let _ = tx.send(FeedMsg::Probe(probe.clone(), load.clone()));
                }
                self.ledger.record(&probe, &outcome, now)
            }
            TrackerMsg::Cluster(view) => self.ledger.set_cluster(view),
            TrackerMsg::FileOverrides(overrides) => self.ledger.replace_file_overrides(overrides),
            TrackerMsg::Command(command, reply) => {
                let (result, events) = self.command(command);
                self.replies.push((reply, result));
                events
            }
        };
        let at = unix_ms(SystemTime::now());
        for event in &events {
            log_event(event);
            self.recent.push(RecentEvent::new(event, at));
            if let Event::Observed { key, .. } = event
                && let Some(vote) = self.ledger.local_vote(key)
            {
                self.send_votes(VoteUpdate::Set(key.clone(), vote));
            }
        }
        if selectors_may_change && self.have_targets {
            self.check_file_selectors();
        }
        self.changed = true;
    }

    fn send_votes(&self, update: VoteUpdate) {
        if let Some(tx) = &self.out.votes {
            let _ = tx.send(update);
        }
    }

    /// Logs and counts the override file's selectors that name nothing, when they change.
    fn check_file_selectors(&mut self) {
        let unknown = self.ledger.unknown_file_selectors();
        if unknown == self.unknown_file {
            return;
        }
        crate::metrics::override_file_unknown_selectors(unknown.len());
        for selector in unknown.iter().filter(|s| !self.unknown_file.contains(s)) {
            tracing::warn!(
                "health: override file: {selector} changes nothing: {}",
                selector.names_nothing()
            );
        }
        self.unknown_file = unknown;
    }

    fn command(&mut self, command: Command) -> (bool, Vec<Event>) {
        match command {
            Command::Override { selector, state } => {
                tracing::info!("health: api override {selector} {state}");
                let events = self
                    .ledger
                    .set_override(Override { selector, state }, Source::Api);
                (true, events)
            }
            Command::Clear { selector } => {
                tracing::info!("health: api override {selector} cleared");
                self.ledger.clear_override(&selector, Source::Api)
            }
        }
    }

    fn warm_start_done(&self) -> bool {
        !self.ready && self.have_targets && self.ledger.all_probed()
    }

    async fn publish(&mut self) {
        self.changed = false;
        if self.ledger.take_status_dirty() {
            self.generation += 1;
            let snapshot = self.ledger.snapshot(self.generation);
            for (key, target) in snapshot.iter() {
                crate::metrics::target_state(key, target.status, target.forced);
            }
            self.out.snapshot.store(Arc::new(snapshot));
        }
        if self.warm_start_done() {
            self.ready = true;
            let c = self.ledger.counts();
            let drained = match c.drained {
                0 => String::new(),
                n => format!(", {n} drained"),
            };
            tracing::info!(
                "health: warm start complete, {} targets, {} up, {} down{drained}",
                c.targets,
                c.up,
                c.down
            );
        }
        let mut report = self.ledger.report(self.generation, self.ready);
        report.recent = self.recent.list();
        self.out.report.store(Arc::new(report));
        if self.ready {
            self.out
                .ready
                .send_if_modified(|r| !std::mem::replace(r, true));
        }
        for (reply, result) in self.replies.drain(..) {
            let _ = reply.send(result);
        }
        self.persist().await;
    }

    async fn persist(&mut self) {
        let Some(path) = &self.state_file else {
            return;
        };
        if !self.ledger.take_persist_dirty() {
            return;
        }
        let state = self.ledger.persisted(SystemTime::now());
        if let Err(e) = persist::save(path, &state).await {
            tracing::warn!("health: {:#}", anyhow::Error::new(e));
        }
    }
}

fn log_event(event: &Event) {
    tracing::info!("{event}");
    if let Event::Removed { key } = event {
        crate::metrics::target_removed(key);
    }
    if let Event::Observed {
        key, transition, ..
    } = event
    {
        let status = |o: Observed| match o {
            Observed::Unknown => Status::Unknown,
            Observed::Up => Status::Up,
            Observed::Down => Status::Down,
        };
        crate::metrics::health_transition(key, status(transition.from), status(transition.to));
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
