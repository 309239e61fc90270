//! Latency wiring: settings to the writer, and the admin control calls for targets, samples and imports.

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use ipnet::IpNet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::admin::ControlError;
use crate::admin::latency::{LatencySummary, NeighbourView, RttView, TargetsView};
use crate::config::ServerConfig;
use crate::geo::Locate;
use crate::latency::{
    Applied, IngestConfig, LatencyHandle, LatencyTable, Live, Prefixes, Representatives, Row,
    Source, TableConfig, Target, import, ingest, unix_now,
};
use crate::policy::latency::{Basis, GroupName, neighbour_groups, unmeasured_rtt};
use crate::zone::ZoneSet;

/// The latency table and writer settings of a server configuration.
pub(crate) fn ingest_config(config: &ServerConfig) -> IngestConfig {
    let path = |p: &Path| (!p.as_os_str().is_empty()).then(|| p.to_path_buf());
    IngestConfig {
        table: TableConfig {
            prefixes: Prefixes {
                v4: config.latency_prefix_v4,
                v6: config.latency_prefix_v6,
            },
            max_networks: config.latency_max_networks,
            max_age_secs: config.latency_max_age_secs,
            alpha: config.latency_ewma_alpha,
        },
        import_file: path(&config.latency_import),
        state_file: path(&config.latency_state_file),
        ..IngestConfig::default()
    }
}

/// The live table and the writer, started.
pub(crate) struct Latency {
    pub(crate) handle: LatencyHandle,
    pub(crate) representatives: Representatives,
}

impl Latency {
    pub(crate) fn start(
        config: &ServerConfig,
        cancel: &CancellationToken,
        tracker: &TaskTracker,
    ) -> Self {
        let ingest = ingest_config(config);
        let live = Arc::new(Live::new(ingest.table, config.latency_top_networks));
        let handle = ingest::start(ingest, live, cancel, tracker);
        Self {
            handle,
            representatives: config.representatives().unwrap_or_default(),
        }
    }

    pub(crate) fn live(&self) -> &Arc<Live> {
        self.handle.live()
    }

    pub(crate) fn targets(
        &self,
        zones: &ZoneSet,
        datacenter: Option<&str>,
        limit: usize,
    ) -> Result<TargetsView, ControlError> {
        if let Some(dc) = datacenter {
            known(zones, dc)?;
        }
        let live = self.live();
        let prefixes = live.busiest.prefixes();
        let targets = live
            .busiest
            .top(limit)
            .into_iter()
            .map(|c| {
                let network = prefixes.network(c.key);
                Target {
                    network,
                    probe: self.representatives.probe_for(network),
                    queries: c.count,
                }
            })
            .collect();
        Ok(TargetsView {
            prefix_v4: prefixes.v4,
            prefix_v6: prefixes.v6,
            targets,
        })
    }

    /// An agent's batch: the datacenter is required and must be configured.
    pub(crate) fn samples(&self, zones: &ZoneSet, body: &str) -> Result<Applied, ControlError> {
        let (rows, errors) = import::parse_json(body, None);
        if rows.is_empty() && !errors.is_empty() {
            return Err(ControlError::Invalid(errors[0].to_string()));
        }
        self.submit(zones, Source::Agent, rows, errors)
    }

    /// A bulk import (CSV or JSON).
    pub(crate) fn import(&self, zones: &ZoneSet, body: &str) -> Result<Applied, ControlError> {
        let (rows, errors) = import::parse(body);
        self.submit(zones, Source::Api, rows, errors)
    }

    fn submit(
        &self,
        zones: &ZoneSet,
        source: Source,
        rows: Vec<Row>,
        errors: Vec<import::RowError>,
    ) -> Result<Applied, ControlError> {
        let names = datacenters(zones);
        let mut report = Applied::default();
        for e in errors {
            report.error(e);
        }
        let (good, bad): (Vec<Row>, Vec<Row>) = rows
            .into_iter()
            .partition(|r| names.contains(r.datacenter.as_str()));
        for r in bad {
            report.error(format!("unknown datacenter {:?}", r.datacenter));
        }
        if report.rejected > 0 {
            crate::metrics::latency_samples(source.as_str(), 0, report.rejected);
        }
        if !good.is_empty() {
            let applied = self
                .handle
                .blocking_submit(source, good)
                .map_err(|e| ControlError::Unavailable(e.to_string()))?;
            report.merge(applied);
        }
        Ok(report)
    }

    pub(crate) fn summary(
        &self,
        network: Option<IpNet>,
        geo: &dyn Locate,
        zones: &ZoneSet,
    ) -> LatencySummary {
        let live = self.live();
        let table = live.table.load();
        let config = *table.config();
        let now = unix_now();
        let (network, rtts, neighbours) = match network {
            Some(net) => {
                let key = table.prefixes().key(net.addr());
                let mut rtts: Vec<RttView> = table
                    .measured(key, now)
                    .into_iter()
                    .map(|(dc, r)| RttView {
                        datacenter: dc.to_string(),
                        rtt_ms: r.rtt_ms,
                        samples: r.samples,
                        updated: r.updated,
                        age_secs: r.age(now),
                    })
                    .collect();
                rtts.sort_by(|a, b| a.rtt_ms.total_cmp(&b.rtt_ms));
                let net = table.prefixes().network(key);
                let neighbours = neighbours(&table, geo, zones, net.addr(), now);
                (Some(net), Some(rtts), neighbours)
            }
            None => (None, None, None),
        };
        LatencySummary {
            networks: table.networks(),
            estimates: table.cells(),
            datacenters: table
                .datacenters()
                .iter()
                .map(ToString::to_string)
                .collect(),
            tracked: live.busiest.tracked(),
            prefix_v4: config.prefixes.v4,
            prefix_v6: config.prefixes.v6,
            max_networks: config.max_networks,
            max_age_secs: config.max_age_secs,
            network,
            rtts,
            neighbours,
        }
    }
}

/// Per datacenter the zones place (first of each name): the RTT a network at `addr` gets
/// without its own measurement, from its neighbours or great-circle, as steering computes
/// it. `None` when GeoIP has no coordinates for it.
fn neighbours(
    table: &LatencyTable,
    geo: &dyn Locate,
    zones: &ZoneSet,
    addr: IpAddr,
    now: u64,
) -> Option<Vec<NeighbourView>> {
    let loc = geo.locate(addr)?;
    let client = loc.coordinates?;
    let found = neighbour_groups(table.aggregates(), addr, &loc);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let services: Vec<_> = zones
        .iter()
        .flat_map(|z| z.nodes().filter_map(|n| n.service.clone()))
        .collect();
    for dc in services.iter().flat_map(|s| s.datacenters.iter()) {
        if !seen.insert(dc.name.clone()) {
            continue;
        }
        let (rtt_ms, basis) = unmeasured_rtt(&found, client, dc, table.dc_index(&dc.name), now);
        let mut view = NeighbourView {
            datacenter: dc.name.to_string(),
            level: "estimated".to_string(),
            rtt_ms,
            distance_km: 0.0,
            group: None,
            networks: None,
            samples: None,
            age_secs: None,
            residual_ms: None,
        };
        match basis {
            Basis::Neighbours(n) => {
                view.level = n.level.to_string();
                view.distance_km = n.distance_km;
                view.group = Some(GroupName(n.group, loc.subdivision.clone()).to_string());
                view.networks = Some(n.networks);
                view.samples = Some(n.samples);
                view.age_secs = Some(n.age_secs);
                view.residual_ms = Some(n.residual_ms);
            }
            Basis::Estimated { distance_km, .. } => view.distance_km = distance_km,
            Basis::Measured { .. } | Basis::Unknown => {}
        }
        out.push(view);
    }
    Some(out)
}

/// Every datacenter name the zones configure.
pub(crate) fn datacenters(zones: &ZoneSet) -> HashSet<Arc<str>> {
    zones
        .iter()
        .flat_map(|z| z.nodes().filter_map(|n| n.service.clone()))
        .flat_map(|s| {
            s.datacenters
                .iter()
                .map(|d| d.name.clone())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn known(zones: &ZoneSet, dc: &str) -> Result<(), ControlError> {
    let names = datacenters(zones);
    if names.contains(dc) {
        return Ok(());
    }
    let mut list: Vec<&str> = names.iter().map(|n| &**n).collect();
    list.sort_unstable();
    Err(ControlError::NotFound(format!(
        "unknown datacenter {dc:?}; configured: {}",
        list.join(", ")
    )))
}
