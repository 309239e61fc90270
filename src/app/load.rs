//! Load-aware steering wiring: the server settings as the load feed's.

use std::time::Duration;

use crate::config::ServerConfig;
use crate::load::Control;
use crate::load::feed::FeedConfig;
use crate::load::handle::LoadSettings;
use crate::load::prometheus::PrometheusConfig;

/// The `load_*` server settings.
pub(crate) fn settings(c: &ServerConfig) -> LoadSettings {
    LoadSettings {
        feed: FeedConfig {
            control: Control {
                hysteresis: c.load_hysteresis,
                hold: Duration::from_millis(c.load_hold_ms),
                release_step: c.load_release_step,
            },
            ttl: Duration::from_secs(c.load_ttl_secs),
        },
        prometheus: (!c.load_prometheus.is_empty()).then(|| PrometheusConfig {
            url: c.load_prometheus.trim_end_matches('/').to_owned(),
            interval: Duration::from_millis(c.load_prometheus_interval_ms),
        }),
    }
}
