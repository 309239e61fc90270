//! The admin API's view of the running server: status, zones, health, explain, reload, overrides.

use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use hickory_proto::rr::RData;

use super::shared::Shared;
use crate::admin::{
    Control, ControlError, ExplainRequest, ExplainView, OverrideState, ProbeView, ServiceView,
    StatusView, TargetView, ZoneView,
};
use crate::dns::explain::{Question, explain, with_down};
use crate::health::{Forced, Selector, Status};

pub struct AppControl {
    shared: Arc<Shared>,
}

impl AppControl {
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn selector(text: &str) -> Result<Selector, ControlError> {
    Selector::from_str(text).map_err(ControlError::Invalid)
}

impl Control for AppControl {
    fn status(&self) -> StatusView {
        StatusView {
            version: env!("CARGO_PKG_VERSION").to_string(),
            generation: self.shared.generation(),
            ready: self.ready(),
            last_reload: self.shared.last_reload(),
        }
    }

    fn zones(&self) -> Vec<ZoneView> {
        let zones = self.shared.snapshots.zones.load();
        let mut out: Vec<ZoneView> = zones
            .iter()
            .map(|zone| {
                let serial = match &zone.soa.data {
                    RData::SOA(soa) => soa.serial,
                    _ => 0,
                };
                let mut services: Vec<ServiceView> = zone
                    .nodes()
                    .filter_map(|node| node.service.as_ref())
                    .map(|s| ServiceView {
                        name: s.name.to_string(),
                        policy: s.policy.kind().to_string(),
                        pools: s.pools.iter().map(|p| p.name.to_string()).collect(),
                    })
                    .collect();
                services.sort_by(|a, b| a.name.cmp(&b.name));
                ZoneView {
                    origin: zone.origin.to_ascii(),
                    serial,
                    file: zone.source.clone(),
                    services,
                }
            })
            .collect();
        out.sort_by(|a, b| a.origin.cmp(&b.origin));
        out
    }

    fn health(&self) -> Vec<TargetView> {
        let report = self.shared.health.report();
        report
            .targets
            .iter()
            .map(|t| TargetView {
                target: t.key.to_string(),
                state: t.status,
                since: (t.status != Status::Unknown).then(|| unix(t.since)),
                forced: t.forced.is_some(),
                last_probe: t.last_probe.as_ref().map(|p| ProbeView {
                    ok: p.ok,
                    at: unix(p.at),
                    rtt_ms: Some(p.rtt.as_secs_f64() * 1000.0),
                    error: p.failure.as_ref().map(ToString::to_string),
                }),
            })
            .collect()
    }

    fn explain(&self, request: &ExplainRequest) -> Result<ExplainView, ControlError> {
        let question = Question::parse(
            &request.name,
            &request.qtype,
            request.client.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            request.ecs,
        )
        .map_err(ControlError::Invalid)?;
        let snapshots = &self.shared.snapshots;
        let zones = snapshots.zones.load();
        let health = with_down(&snapshots.health.load(), &request.down);
        let table = snapshots.latency.table.load();
        let latency = crate::policy::LatencyView {
            table: &table,
            now: crate::latency::unix_now(),
        };
        let e = explain(&zones, snapshots.geo.as_ref(), &health, latency, question);
        let a = &e.answer;
        let outcome = match &a.decision {
            Some((_, _, o)) => o.as_str().to_string(),
            None => "static".to_string(),
        };
        Ok(ExplainView {
            zone: a.zone.as_ref().map(ToString::to_string),
            service: a.decision.as_ref().map(|d| d.0.to_string()),
            policy: a.decision.as_ref().map(|d| d.1.to_string()),
            outcome,
            rcode: a.rcode.to_string(),
            ecs_scope: a.ecs_scope,
            answers: a.answer.iter().map(ToString::to_string).collect(),
            steps: e.trace.to_string().lines().map(str::to_string).collect(),
        })
    }

    fn reload(&self) -> Result<u64, Vec<String>> {
        self.shared
            .reload()
            .map_err(|e| e.0.iter().map(ToString::to_string).collect())
    }

    fn set_override(&self, text: &str, state: OverrideState) -> Result<(), ControlError> {
        let selector = selector(text)?;
        let targets = self.shared.snapshots.zones.load().targets();
        let configured = targets
            .iter()
            .map(|t| (&*t.key, &*t.datacenter, &t.pools[..]));
        if !selector.names_any(configured) {
            return Err(ControlError::Unprocessable(format!(
                "override {selector} changes nothing: {}",
                selector.names_nothing()
            )));
        }
        let forced = match state {
            OverrideState::Up => Forced::Up,
            OverrideState::Down => Forced::Down,
            OverrideState::Drain => Forced::Drain,
        };
        let health = self.shared.health.clone();
        tokio::runtime::Handle::current()
            .block_on(health.force(selector, forced))
            .map_err(|e| ControlError::Unavailable(e.to_string()))
    }

    fn clear_override(&self, text: &str) -> Result<(), ControlError> {
        let selector = selector(text)?;
        let health = self.shared.health.clone();
        let cleared = tokio::runtime::Handle::current()
            .block_on(health.clear(selector))
            .map_err(|e| ControlError::Unavailable(e.to_string()))?;
        if cleared {
            Ok(())
        } else {
            Err(ControlError::NotFound(format!("no override on {text}")))
        }
    }

    fn ready(&self) -> bool {
        self.shared.health.is_ready()
    }

    fn latency_targets(
        &self,
        datacenter: Option<&str>,
        limit: usize,
    ) -> Result<crate::admin::latency::TargetsView, ControlError> {
        let zones = self.shared.snapshots.zones.load();
        self.shared.latency.targets(&zones, datacenter, limit)
    }

    fn latency_samples(&self, body: &str) -> Result<crate::latency::Applied, ControlError> {
        let zones = self.shared.snapshots.zones.load();
        self.shared.latency.samples(&zones, body)
    }

    fn latency_import(&self, body: &str) -> Result<crate::latency::Applied, ControlError> {
        let zones = self.shared.snapshots.zones.load();
        self.shared.latency.import(&zones, body)
    }

    fn latency(
        &self,
        network: Option<ipnet::IpNet>,
    ) -> Result<crate::admin::latency::LatencySummary, ControlError> {
        Ok(self.shared.latency.summary(network))
    }
}
