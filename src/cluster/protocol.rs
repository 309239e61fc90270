//! What the cluster handle and the etcd link share: resolved settings, operator requests and the published status.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::oneshot;

use super::record::OverrideRecord;
use super::store::MemberView;
use crate::config::ClusterConfig;
use crate::config::cluster::Secrets;
use crate::health::{QuorumRule, Selector};

/// Everything the cluster task needs, resolved from the configuration.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) endpoints: Vec<String>,
    pub(crate) cluster: String,
    pub(crate) prefix: String,
    pub(crate) instance: Arc<str>,
    pub(crate) region: String,
    pub(crate) rule: QuorumRule,
    pub(crate) min_voters: usize,
    pub(crate) lease_ttl: Duration,
    pub(crate) stale_after: Duration,
    pub(crate) secrets: Secrets,
    /// SHA-256 of the compiled zones' sources, hex.
    pub(crate) zone_digest: String,
}

impl Settings {
    pub(crate) fn new(
        c: &ClusterConfig,
        secrets: Secrets,
        zone_digest: String,
    ) -> Result<Self, String> {
        Ok(Self {
            endpoints: c.endpoints.clone(),
            cluster: c.name.clone(),
            prefix: c.prefix(),
            instance: c.instance.as_str().into(),
            region: c.region.clone(),
            rule: c.rule()?,
            min_voters: c.min_voters,
            lease_ttl: Duration::from_secs(c.lease_ttl_secs),
            stale_after: Duration::from_secs(c.stale_after_secs),
            secrets,
            zone_digest,
        })
    }
}

/// `GET /v1/cluster`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ClusterStatus {
    pub(crate) cluster: String,
    pub(crate) instance: String,
    pub(crate) region: String,
    /// In touch with etcd now.
    pub(crate) connected: bool,
    /// Out of touch for longer than `stale_after`: targets are decided on the local view.
    pub(crate) stale: bool,
    /// The last etcd revision seen.
    pub(crate) revision: i64,
    pub(crate) quorum: String,
    pub(crate) min_voters: usize,
    pub(crate) lease_ttl_secs: u64,
    pub(crate) stale_after_secs: u64,
    /// This instance's zone digest.
    pub(crate) zone_digest: String,
    /// Some live member serves different zones.
    pub(crate) drift: bool,
    pub(crate) members: Vec<MemberView>,
}

/// What the admin API asks of the cluster task.
#[derive(Debug)]
pub(crate) enum Request {
    /// Store an override for the whole cluster; `ttl` makes it expire.
    SetOverride(
        OverrideRecord,
        Option<Duration>,
        oneshot::Sender<Result<(), String>>,
    ),
    /// Remove a cluster override; replies whether there was one.
    ClearOverride(Selector, oneshot::Sender<Result<bool, String>>),
    /// The zones were reloaded: register the new digest.
    ZoneDigest(String),
}
