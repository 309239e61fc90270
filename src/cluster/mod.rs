//! Cluster mode: instances share health votes and overrides over etcd; one task per instance owns the link.
//!
//! # Shape
//! Probes → local tracker (rise/fall, unchanged) → this instance's verdict per target, sent
//! here as a [`VoteUpdate`] → written under the instance's lease at
//! `/meridian/<cluster>/votes/<instance>/<target>` (only on transitions, at start and after a
//! reconnect). One task ([`etcd`], behind the `cluster` cargo feature) holds the lease,
//! registers `/meridian/<cluster>/members/<instance>` (version, region, start time, zone
//! digest), watches the whole prefix and keeps the merged [`store::Store`]; after each change
//! it hands the tracker a new [`ClusterVotes`], from which the tracker decides every target
//! with the pure quorum rule ([`crate::health::quorum`]). The query path reads the same
//! health snapshot as ever and never touches etcd.
//!
//! Overrides set through any instance's admin API are stored at
//! `/meridian/<cluster>/overrides/<selector>` (with who, when, why and an optional expiry,
//! carried by an etcd lease of that length) and applied by every instance from the watch.
//!
//! Load values (README "Load-aware steering", docs/load.md): the load feed hands this task
//! the values this instance observed (rate-limited by [`crate::load::peer`]), written under
//! the lease at `/meridian/<cluster>/load/<instance>/<selector>`; values peers put are handed
//! back to the feed, where the most recent observation of each member or datacenter wins.
//!
//! Failure: etcd out of reach → the last merged view is kept for `stale_after`, then every
//! target is decided on the local view alone (`meridian_cluster_connected 0`), and the task
//! reconnects with backoff, resumes its watch from the last revision it saw (or lists the
//! prefix again after a compaction) and publishes its votes again. Shutting down revokes the
//! lease, so the instance's votes vanish at once. Values under the prefix that this version
//! cannot use are logged and counted, never trusted.

#[cfg_attr(
    not(feature = "cluster"),
    allow(dead_code, reason = "used by the etcd link and unit tests")
)]
pub(crate) mod protocol;
#[cfg_attr(
    not(feature = "cluster"),
    allow(dead_code, reason = "used by the etcd link and unit tests")
)]
pub(crate) mod record;
#[cfg_attr(
    not(feature = "cluster"),
    allow(dead_code, reason = "used by the etcd link and unit tests")
)]
pub(crate) mod store;

#[cfg(feature = "cluster")]
mod etcd;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::health::persist::unix_ms;
use crate::health::{Forced, HealthHandle, Selector, VoteUpdate};
use crate::load::LoadHandle;
pub(crate) use protocol::{ClusterStatus, Request, Settings};
pub(crate) use record::OverrideRecord;

/// Whether this build can run in cluster mode.
pub const AVAILABLE: bool = cfg!(feature = "cluster");

/// Why cluster mode cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "`[cluster]` is set but this binary was built without the `cluster` feature; \
         rebuild with `cargo build --release --features cluster` (needs protoc: Debian \
         `protobuf-compiler` and `libprotobuf-dev`)"
    )]
    /// The binary was built without the `cluster` feature.
    NotBuilt,
    #[error("cluster: {0}")]
    /// The `[cluster]` settings cannot be used.
    Settings(String),
}

/// The handle the app and admin API hold.
#[derive(Clone, Debug)]
pub struct ClusterHandle {
    tx: mpsc::UnboundedSender<Request>,
    status: Arc<ArcSwap<ClusterStatus>>,
    instance: Arc<str>,
}

/// What an operator asks for when setting a cluster override.
#[derive(Clone, Debug, Default)]
pub struct OverrideAsk {
    pub(crate) who: Option<String>,
    pub(crate) reason: Option<String>,
    pub(crate) expires_in: Option<Duration>,
}

impl ClusterHandle {
    pub(crate) fn status(&self) -> Arc<ClusterStatus> {
        self.status.load_full()
    }

    /// Stores an override cluster-wide; blocks until etcd accepted it (blocking pool only).
    pub(crate) fn set_override_blocking(
        &self,
        selector: &Selector,
        state: Forced,
        ask: OverrideAsk,
    ) -> Result<(), String> {
        let now = unix_ms(SystemTime::now());
        let record = OverrideRecord {
            v: record::FORMAT,
            selector: selector.to_string(),
            state,
            who: ask
                .who
                .unwrap_or_else(|| format!("admin API of {}", self.instance)),
            reason: ask.reason.unwrap_or_default(),
            set_at_unix_ms: now,
            expires_unix_ms: ask
                .expires_in
                .map(|d| now + u64::try_from(d.as_millis()).unwrap_or(u64::MAX / 2)),
            instance: self.instance.to_string(),
        };
        let (reply, answer) = oneshot::channel();
        self.send(Request::SetOverride(record, ask.expires_in, reply))?;
        answer.blocking_recv().map_err(|_| stopped())?
    }

    /// Removes a cluster override; whether one existed (blocking pool only).
    pub(crate) fn clear_override_blocking(&self, selector: &Selector) -> Result<bool, String> {
        let (reply, answer) = oneshot::channel();
        self.send(Request::ClearOverride(selector.clone(), reply))?;
        answer.blocking_recv().map_err(|_| stopped())?
    }

    /// Registers the digest of newly loaded zones.
    pub(crate) fn zone_digest(&self, digest: String) {
        let _ = self.tx.send(Request::ZoneDigest(digest));
    }

    fn send(&self, request: Request) -> Result<(), String> {
        self.tx.send(request).map_err(|_| stopped())
    }
}

fn stopped() -> String {
    "the cluster task has stopped".into()
}

/// Starts the cluster task: it connects in the background and never delays serving.
/// `votes` carries this instance's own verdicts from the tracker.
pub(crate) fn start(
    settings: Settings,
    health: HealthHandle,
    votes: mpsc::UnboundedReceiver<VoteUpdate>,
    load: LoadHandle,
    cancel: &CancellationToken,
    tasks: &TaskTracker,
) -> Result<ClusterHandle, ClusterError> {
    let (tx, rx) = mpsc::unbounded_channel();
    let status = Arc::new(ArcSwap::from_pointee(ClusterStatus {
        cluster: settings.cluster.clone(),
        instance: settings.instance.to_string(),
        ..ClusterStatus::default()
    }));
    let handle = ClusterHandle {
        tx,
        status: status.clone(),
        instance: settings.instance.clone(),
    };
    spawn(settings, health, votes, load, rx, status, cancel, tasks)?;
    Ok(handle)
}

/// Spawns the etcd link; a build without the `cluster` feature has none to spawn.
#[allow(clippy::too_many_arguments, reason = "everything the link is wired to")]
fn spawn(
    settings: Settings,
    health: HealthHandle,
    votes: mpsc::UnboundedReceiver<VoteUpdate>,
    load: LoadHandle,
    requests: mpsc::UnboundedReceiver<Request>,
    status: Arc<ArcSwap<ClusterStatus>>,
    cancel: &CancellationToken,
    tasks: &TaskTracker,
) -> Result<(), ClusterError> {
    #[cfg(feature = "cluster")]
    {
        let (loads_tx, loads) = mpsc::unbounded_channel();
        load.share_with(settings.instance.clone(), loads_tx);
        let link = etcd::Link::new(settings, health, load, status);
        tasks.spawn(link.run(votes, requests, loads, cancel.child_token()));
        Ok(())
    }
    #[cfg(not(feature = "cluster"))]
    {
        let _ = (
            settings, health, votes, load, requests, status, cancel, tasks,
        );
        Err(ClusterError::NotBuilt)
    }
}
