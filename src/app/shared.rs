//! What the signal loop and the admin API share in a running server, and the reload.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{error, info};

use super::latency::Latency;
use super::retire;
use crate::admin::ReloadView;
use crate::cluster::ClusterHandle;
use crate::config::{self, ConfigErrors, ServerConfig};
use crate::dns::Snapshots;
use crate::health::{Health, HealthHandle};
use crate::load::LoadHandle;
use crate::metrics;

/// State shared by the signal loop and the admin API: one writer per snapshot.
pub struct Shared {
    pub(crate) config: ServerConfig,
    pub(crate) snapshots: Arc<Snapshots>,
    pub(crate) health: HealthHandle,
    /// The latency writer and the representative map agents are given.
    pub(crate) latency: Latency,
    /// Cluster mode: the link to the other instances.
    pub(crate) cluster: Option<ClusterHandle>,
    /// Load-aware steering: the feed (reloads, `/v1/load`).
    pub(crate) load: LoadHandle,
    /// The DNSSEC signature cache the sockets and explain share (kept across reloads).
    pub(crate) signatures: Arc<crate::dnssec::SigCache>,
    scheduler: Mutex<Health>,
    generation: AtomicU64,
    last_reload: Mutex<Option<ReloadView>>,
}

impl Shared {
    /// The state of a server that starts with configuration generation 1.
    pub(super) fn new(
        config: ServerConfig,
        snapshots: Arc<Snapshots>,
        scheduler: Health,
        latency: Latency,
        cluster: Option<ClusterHandle>,
        load: LoadHandle,
    ) -> Self {
        let signatures = Arc::new(crate::dnssec::SigCache::new(
            config.dnssec_signature_cache_size,
            config.dnssec_signing_budget,
        ));
        Self {
            load,
            signatures,
            health: scheduler.handle(),
            latency,
            cluster,
            snapshots,
            scheduler: Mutex::new(scheduler),
            generation: AtomicU64::new(1),
            last_reload: Mutex::new(None),
            config,
        }
    }

    /// Validate the zones directory again and swap it in; on error keep serving the old one.
    pub fn reload(&self) -> Result<u64, ConfigErrors> {
        let result = match config::load_zones(&self.config.zones_dir) {
            Ok(zones) => {
                let targets = zones.targets();
                if let Some(cluster) = &self.cluster {
                    cluster.zone_digest(zones.digest());
                }
                self.load.reconcile(&zones);
                retire::retire(self.snapshots.zones.swap(Arc::new(zones)));
                let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
                if let Ok(mut health) = self.scheduler.lock() {
                    let r = health.reconcile(targets);
                    info!(
                        targets = r.targets,
                        kept = r.probes_kept,
                        started = r.probes_started,
                        stopped = r.probes_stopped,
                        "health targets reconciled"
                    );
                }
                info!(generation, "reload ok");
                metrics::reload(true, generation);
                Ok(generation)
            }
            Err(errors) => {
                error!(
                    errors = errors.0.len(),
                    "reload failed; still serving the previous zones"
                );
                for e in &errors.0 {
                    error!("{e}");
                }
                metrics::reload(false, self.generation());
                Err(errors)
            }
        };
        let view = ReloadView {
            ok: result.is_ok(),
            at: unix_now(),
            generation: self.generation(),
            errors: result
                .as_ref()
                .err()
                .map_or_else(Vec::new, |e| e.0.iter().map(ToString::to_string).collect()),
        };
        if let Ok(mut last) = self.last_reload.lock() {
            *last = Some(view);
        }
        result
    }

    /// The configuration generation now serving (1 at start, +1 per good reload).
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    pub(crate) fn last_reload(&self) -> Option<ReloadView> {
        self.last_reload.lock().ok().and_then(|l| l.clone())
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
