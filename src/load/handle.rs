//! Starting the load feed and talking to it: reloads, `POST /v1/load` rows, `GET /v1/load`.

use std::sync::Arc;

use arc_swap::ArcSwap;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::feed::{self, Feed, FeedConfig, FeedMsg, LoadPlan};
use super::peer::Observation;
use super::prometheus::{self, PrometheusConfig};
use super::read::Sample;
use super::snapshot::{Entry, LoadSnapshot, Source};
use crate::zone::ZoneSet;

/// The load settings of the server configuration.
#[derive(Clone, Debug)]
pub(crate) struct LoadSettings {
    pub(crate) feed: FeedConfig,
    pub(crate) prometheus: Option<PrometheusConfig>,
}

/// The running feed: where its snapshot is published and how to reach it.
#[derive(Clone, Debug)]
pub struct LoadHandle {
    tx: mpsc::UnboundedSender<FeedMsg>,
    snapshot: Arc<ArcSwap<LoadSnapshot>>,
    plan: Arc<ArcSwap<LoadPlan>>,
}

/// One row of `GET /v1/load`.
#[derive(Clone, Debug, Serialize)]
pub struct LoadView {
    /// `member` or `datacenter`.
    pub kind: &'static str,
    /// The target key or datacenter name.
    pub name: String,
    /// The entry.
    #[serde(flatten)]
    pub entry: Entry,
    /// Seconds since the value was reported.
    pub age_secs: f64,
    /// Capacity and watermarks.
    pub capacity: f64,
    /// Percent of capacity.
    pub shed_start: f64,
    /// Percent of capacity.
    pub shed_full: f64,
}

impl LoadHandle {
    /// Starts the feed (and the Prometheus poller when configured) for `zones`.
    pub(crate) fn start(
        settings: &LoadSettings,
        zones: &ZoneSet,
        snapshot: Arc<ArcSwap<LoadSnapshot>>,
        cancel: &CancellationToken,
        tracker: &TaskTracker,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let plan = Arc::new(LoadPlan::from_zones(zones));
        let _ = tx.send(FeedMsg::Plan(plan.clone()));
        let plan = Arc::new(ArcSwap::new(plan));
        tracker.spawn(feed::run(
            Feed::new(settings.feed),
            rx,
            snapshot.clone(),
            cancel.child_token(),
        ));
        if let Some(p) = &settings.prometheus {
            tracker.spawn(prometheus::run(
                p.clone(),
                plan.clone(),
                tx.clone(),
                cancel.child_token(),
            ));
        }
        Self { tx, snapshot, plan }
    }

    /// Where probes send what they read.
    pub(crate) fn sender(&self) -> mpsc::UnboundedSender<FeedMsg> {
        self.tx.clone()
    }

    /// Applies reloaded zones.
    pub(crate) fn reconcile(&self, zones: &ZoneSet) {
        let plan = Arc::new(LoadPlan::from_zones(zones));
        self.plan.store(plan.clone());
        let _ = self.tx.send(FeedMsg::Plan(plan));
    }

    /// `POST /v1/load`: every row's selector must name something configured and every value
    /// be a finite, non-negative number, or nothing is applied. Returns the entries set.
    pub(crate) fn post(&self, rows: &[(String, f64)]) -> Result<usize, String> {
        let plan = self.plan.load();
        let mut out = Vec::new();
        for (selector, value) in rows {
            if !(value.is_finite() && *value >= 0.0) {
                crate::metrics::load_bad_input("api", "not_a_number");
                let e = format!("`{selector}`: value {value} is not a non-negative number");
                tracing::warn!("load: POST /v1/load refused: {e}");
                return Err(e);
            }
            let keys = plan.resolve(selector).inspect_err(|e| {
                crate::metrics::load_bad_input("api", "unknown_selector");
                tracing::warn!("load: POST /v1/load refused: {e}");
            })?;
            out.extend(keys.into_iter().map(|k| (k, Sample::Value(*value))));
        }
        let n = out.len();
        let _ = self.tx.send(FeedMsg::Report(out, Source::Api));
        Ok(n)
    }

    /// `GET /v1/load`: every published entry, sorted by kind and name.
    pub(crate) fn list(&self) -> Vec<LoadView> {
        let snapshot = self.snapshot.load();
        let now = super::snapshot::unix_ms();
        let mut rows: Vec<LoadView> = snapshot
            .iter()
            .map(|(kind, name, e)| LoadView {
                kind,
                name: name.to_string(),
                age_secs: now.saturating_sub(e.reported_unix_ms) as f64 / 1000.0,
                capacity: e.watermarks.capacity,
                shed_start: e.watermarks.shed_start,
                shed_full: e.watermarks.shed_full,
                entry: e.clone(),
            })
            .collect();
        rows.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
        rows
    }

    /// Cluster mode: this instance's own observations go to `tx` (rate-limited) to be
    /// shared, and its values carry its name.
    #[cfg_attr(
        not(feature = "cluster"),
        allow(dead_code, reason = "called by the etcd link")
    )]
    pub(crate) fn share_with(&self, instance: Arc<str>, tx: mpsc::UnboundedSender<Observation>) {
        let _ = self.tx.send(FeedMsg::Share(instance, tx));
    }

    /// Cluster mode: values `instance` observed. Selectors this instance's zones do not
    /// know (zones that differ) are skipped; returns how many were.
    #[cfg_attr(
        not(feature = "cluster"),
        allow(dead_code, reason = "called by the etcd link")
    )]
    pub(crate) fn peer(&self, instance: Arc<str>, values: Vec<Observation>) -> usize {
        let plan = self.plan.load();
        let mut rows = Vec::with_capacity(values.len());
        let mut unknown = 0;
        for obs in values {
            match plan.resolve(&obs.selector).as_deref() {
                Ok([key]) => rows.push((key.clone(), obs)),
                _ => {
                    tracing::debug!(
                        "load: {instance} reports {}: not in these zones",
                        obs.selector
                    );
                    unknown += 1;
                }
            }
        }
        let _ = self.tx.send(FeedMsg::Peer(instance, rows));
        unknown
    }
}
