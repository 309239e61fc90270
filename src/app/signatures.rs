//! The signature cache's background maintenance: publish, refresh, evict, every second.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::dnssec::SigCache;
use crate::metrics;

/// How often pending signatures are published and due ones refreshed.
const MAINTAIN_EVERY: Duration = Duration::from_secs(1);

/// Run `cache.maintain` every second off the socket threads until `cancel` fires.
pub(super) fn spawn_maintenance(
    cache: Arc<SigCache>,
    cancel: CancellationToken,
    tracker: &TaskTracker,
) {
    tracker.spawn(async move {
        let mut tick = tokio::time::interval(MAINTAIN_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                _ = tick.tick() => {}
            }
            let c = cache.clone();
            let now = unix_now();
            if let Ok(refreshed) = tokio::task::spawn_blocking(move || c.maintain(now)).await {
                if refreshed > 0 {
                    metrics::dnssec_refreshed(refreshed);
                }
                metrics::dnssec_cache(cache.len());
            }
        }
    });
}

fn unix_now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32)
}
