//! The admin API's view of the running server: status, zones, health, explain, reload, overrides.

use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use hickory_proto::rr::RData;

use super::shared::Shared;
use crate::admin::{
    Control, ControlError, ExplainRequest, ExplainSignature, ExplainSigning, ExplainView,
    OverrideState, ProbeView, ServiceView, StatusView, TargetView, ZoneView,
};
use crate::cluster::{ClusterStatus, OverrideAsk};
use crate::dns::explain::{Question, explain, with_down};
use crate::health::{Forced, Selector, Status};

pub(crate) struct AppControl {
    shared: Arc<Shared>,
}

impl AppControl {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
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
                cluster: t.cluster.clone(),
                last_probe: t.last_probe.as_ref().map(|p| ProbeView {
                    ok: p.ok,
                    at: unix(p.at),
                    rtt_ms: Some(p.rtt.as_secs_f64() * 1000.0),
                    error: p.failure.as_ref().map(ToString::to_string),
                }),
            })
            .collect()
    }

    fn recent_events(&self) -> Vec<crate::health::RecentEvent> {
        self.shared.health.report().recent.clone()
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
        let load = snapshots.load.load();
        let cache = &self.shared.signatures;
        let e = explain(
            &zones,
            snapshots.geo.as_ref(),
            &health,
            latency,
            &load,
            question,
            cache,
        );
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
            steps: self.with_votes(e.trace.to_string(), a.decision.as_ref().map(|d| &d.0)),
            dnssec: e.signatures.map(|sigs| ExplainSigning {
                signatures: sigs
                    .into_iter()
                    .map(|s| ExplainSignature {
                        rrset: s.rrset,
                        key_tag: s.key_tag,
                        cached: s.cached,
                    })
                    .collect(),
            }),
        })
    }

    fn reload(&self) -> Result<u64, Vec<String>> {
        self.shared
            .reload()
            .map_err(|e| e.0.iter().map(ToString::to_string).collect())
    }

    fn console(&self, limit: usize) -> serde_json::Value {
        super::preview::console(&self.shared, limit)
    }

    fn service_map(&self, name: &str) -> Result<crate::diff::map::ServiceMap, ControlError> {
        super::preview::service_map(&self.shared, name)
            .ok_or_else(|| ControlError::NotFound(format!("no service {name} is configured")))
    }

    fn reload_preview(&self) -> Result<crate::diff::Report, Vec<String>> {
        super::preview::dry_run(&self.shared)
    }

    fn set_override(&self, text: &str, state: OverrideState) -> Result<(), ControlError> {
        self.set_override_with(text, state, &OverrideAsk::default())
    }

    fn set_override_with(
        &self,
        text: &str,
        state: OverrideState,
        ask: &OverrideAsk,
    ) -> Result<(), ControlError> {
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
        if let Some(cluster) = &self.shared.cluster {
            return cluster
                .set_override_blocking(&selector, forced, ask.clone())
                .map_err(ControlError::Unavailable);
        }
        if ask.expires_in.is_some() {
            return Err(ControlError::Invalid(
                "`expires_in` needs cluster mode; clear a local override with DELETE".into(),
            ));
        }
        let health = self.shared.health.clone();
        tokio::runtime::Handle::current()
            .block_on(health.force(selector, forced))
            .map_err(|e| ControlError::Unavailable(e.to_string()))
    }

    fn cluster(&self) -> Result<ClusterStatus, ControlError> {
        match &self.shared.cluster {
            Some(cluster) => Ok((*cluster.status()).clone()),
            None => Err(ControlError::NotFound(
                "cluster mode is off (no [cluster] section)".into(),
            )),
        }
    }

    fn clear_override(&self, text: &str) -> Result<(), ControlError> {
        let selector = selector(text)?;
        let in_cluster = match &self.shared.cluster {
            Some(cluster) => cluster
                .clear_override_blocking(&selector)
                .map_err(ControlError::Unavailable)?,
            None => false,
        };
        let health = self.shared.health.clone();
        let cleared = tokio::runtime::Handle::current()
            .block_on(health.clear(selector))
            .map_err(|e| ControlError::Unavailable(e.to_string()))?;
        if cleared || in_cluster {
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

    fn load_post(&self, rows: &[(String, f64)]) -> Result<usize, ControlError> {
        self.shared
            .load
            .post(rows)
            .map_err(ControlError::Unprocessable)
    }

    fn load(&self) -> Vec<crate::load::LoadView> {
        self.shared.load.list()
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
        let zones = self.shared.snapshots.zones.load();
        let geo = self.shared.snapshots.geo.as_ref();
        Ok(self.shared.latency.summary(network, geo, &zones))
    }
}

impl AppControl {
    /// The trace's lines, then in cluster mode one line per target of the deciding service:
    /// this instance's verdict, every instance's vote, the rule and the effective state.
    fn with_votes(&self, trace: String, service: Option<&Arc<str>>) -> Vec<String> {
        let mut steps: Vec<String> = trace.lines().map(str::to_string).collect();
        let (Some(_), Some(service)) = (&self.shared.cluster, service) else {
            return steps;
        };
        let zones = self.shared.snapshots.zones.load();
        let report = self.shared.health.report();
        let services = zones
            .iter()
            .flat_map(|z| z.nodes().filter_map(|n| n.service.clone()));
        let Some(svc) = services.into_iter().find(|s| s.name == *service) else {
            return steps;
        };
        let mut keys: Vec<&Arc<str>> = svc
            .pools
            .iter()
            .flat_map(|p| p.members.iter().filter_map(|m| m.target.as_ref()))
            .collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            let Some(v) = report.target(key).and_then(|t| t.cluster.as_ref()) else {
                continue;
            };
            let votes: Vec<String> = v
                .votes
                .iter()
                .map(|vote| format!("{} {}", vote.instance, vote.state.as_str()))
                .collect();
            steps.push(format!(
                "cluster: target {key}: votes [{}], rule {} ({:?}) -> {}",
                votes.join(", "),
                v.rule,
                v.decided_by,
                v.effective.as_str()
            ));
        }
        steps
    }
}
