//! What the console and the reload dry run ask of the serving zones: the overview, a service's map, the diff against the configured zones.

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

/// The console's overview: datacenters with their targets, zones with their services.
pub(crate) fn console(shared: &super::shared::Shared, limit: usize) -> serde_json::Value {
    use std::collections::BTreeMap;
    let zones = shared.snapshots.zones.load();
    let health = shared.snapshots.health.load();
    let mut datacenters: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in zones.targets() {
        datacenters
            .entry(t.datacenter.to_string())
            .or_default()
            .push(t.key.to_string());
    }
    let mut left = limit;
    let mut truncated = false;
    let mut ordered: Vec<_> = zones.iter().collect();
    ordered.sort_by(|a, b| a.name.cmp(&b.name));
    let zones: Vec<serde_json::Value> = ordered
        .into_iter()
        .map(|zone| {
            let mut services: Vec<_> = zone.nodes().filter_map(|n| n.service.clone()).collect();
            services.sort_by(|a, b| a.name.cmp(&b.name));
            if services.len() > left {
                truncated = true;
                services.truncate(left);
            }
            left -= services.len();
            let services: Vec<serde_json::Value> = services
                .iter()
                .map(|s| {
                    serde_json::json!({
                        "name": s.name.strip_suffix('.').unwrap_or(&s.name),
                        "policy": s.policy.kind().as_str(),
                        "pools": diff::map::pool_states(s, &health),
                    })
                })
                .collect();
            serde_json::json!({ "origin": zone.name.as_ref(), "services": services })
        })
        .collect();
    let datacenters: Vec<serde_json::Value> = datacenters
        .into_iter()
        .map(|(name, targets)| serde_json::json!({ "name": name, "targets": targets }))
        .collect();
    serde_json::json!({
        "datacenters": datacenters,
        "zones": zones,
        "truncated": truncated,
        "cluster": shared.cluster.is_some(),
    })
}

/// Where the service `name` (with or without the final dot) answers each country now.
pub(crate) fn service_map(
    shared: &super::shared::Shared,
    name: &str,
) -> Option<diff::map::ServiceMap> {
    let wanted = name.trim_end_matches('.').to_ascii_lowercase();
    let zones = shared.snapshots.zones.load();
    let service = zones.iter().find_map(|z| {
        z.nodes()
            .filter_map(|n| n.service.as_ref())
            .find(|s| s.name.trim_end_matches('.').eq_ignore_ascii_case(&wanted))
            .cloned()
    })?;
    let health = shared.snapshots.health.load();
    let table = shared.snapshots.latency.table.load();
    let latency = crate::policy::LatencyView {
        table: &table,
        now: crate::latency::unix_now(),
    };
    Some(diff::map::service_map(&service, &health, latency))
}
