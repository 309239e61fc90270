//! The reload dry run (`POST /v1/reload?dry_run=true`): the configured zones compared with the serving ones.

use std::sync::Arc;

use super::geoip;
use crate::config;
use crate::diff::{self, ClientSpace, Report};
use crate::zone::ZoneSet;

/// The reload dry run: the configured zones directory compiled again and compared with the
/// zones now serving, under today's health, over the GeoIP networks and the networks the
/// server has seen (its busiest-networks summary).
pub(crate) fn dry_run(shared: &super::shared::Shared) -> Result<Report, Vec<String>> {
    let new = config::load_zones(&shared.config.zones_dir)
        .map_err(|e| e.0.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    let snapshots = &shared.snapshots;
    let old: Arc<ZoneSet> = snapshots.zones.load_full();
    let geo = snapshots.geo.as_ref();
    let mut spaces = match geoip::open(&shared.config) {
        Ok(Some(db)) => match db.networks() {
            Ok(networks) => ClientSpace::from_networks(&networks, geo),
            Err(e) => return Err(vec![format!("{e:#}")]),
        },
        Ok(None) => Vec::new(),
        Err(e) => return Err(vec![format!("{e:#}")]),
    };
    let busiest = &snapshots.latency.busiest;
    let prefixes = busiest.prefixes();
    let seen: Vec<(ipnet::IpNet, u64)> = busiest
        .top(usize::MAX)
        .into_iter()
        .map(|c| (prefixes.network(c.key), c.count))
        .collect();
    spaces.push(ClientSpace::from_seen(&seen, geo));
    let health = snapshots.health.load_full();
    let table = snapshots.latency.table.load();
    let inputs = diff::Inputs {
        geo,
        health: &health,
        health_label: "live",
        latency: crate::policy::LatencyView {
            table: &table,
            now: crate::latency::unix_now(),
        },
        spaces: &spaces,
    };
    Ok(diff::compare(&old, &new, &inputs))
}
