//! Where a service answers each country right now, and its pools' members up: the console's Services view.
//!
//! Each country is evaluated as one client located at its centroid (country, continent and
//! coordinates known; no subdivision, ASN or CIDR entry applies), with the live health and
//! latency table, through the same `policy::evaluate_with` the query path runs.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;

use super::walk::Labels;
use crate::geo::{Locate, Location, all_countries};
use crate::health::HealthSnapshot;
use crate::policy::{self, Client, LatencyView, Service, Want};

/// One pool of a service and how many of its members may be answered.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PoolState {
    /// The pool's name.
    pub name: String,
    /// Members in the pool.
    pub members: usize,
    /// Members up (healthy or not yet probed, not drained, weight above 0).
    pub up: usize,
}

/// A service as the console shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServiceMap {
    /// The service, without the final dot.
    pub name: String,
    /// Its policy.
    pub policy: String,
    /// Its pools.
    pub pools: Vec<PoolState>,
    /// The query type the map is for (`A`, else `AAAA`, else `CNAME`).
    pub qtype: String,
    /// Country code → where a client there is answered (datacenters joined by `+`).
    pub countries: BTreeMap<String, String>,
}

/// A locator that places every address at one location.
struct At(Location);

impl Locate for At {
    fn locate(&self, _addr: IpAddr) -> Option<Location> {
        Some(self.0.clone())
    }
}

/// The service's pools and how many members of each are up.
pub fn pool_states(service: &Service, health: &HealthSnapshot) -> Vec<PoolState> {
    service
        .pools
        .iter()
        .map(|p| PoolState {
            name: p.name.to_string(),
            members: p.members.len(),
            up: p
                .members
                .iter()
                .filter(|m| m.weight > 0)
                .filter(|m| {
                    m.target
                        .as_deref()
                        .is_none_or(|t| health.status(t).usable())
                })
                .count(),
        })
        .collect()
}

/// The service's pools and, per country, where its clients are answered now.
pub fn service_map(
    service: &Service,
    health: &HealthSnapshot,
    latency: LatencyView<'_>,
) -> ServiceMap {
    let pools = pool_states(service, health);
    let want = [Want::V4, Want::V6, Want::Name]
        .into_iter()
        .find(|w| {
            service
                .pools
                .iter()
                .any(|p| p.members.iter().any(|m| w.accepts(&m.answer)))
        })
        .unwrap_or(Want::V4);
    let labels = Labels::new(service);
    let client = Client {
        addr: IpAddr::V4(Ipv4Addr::new(0, 0, 0, 1)),
        source_prefix: 32,
        from_ecs: false,
    };
    let mut countries = BTreeMap::new();
    for (code, continent, coordinates) in all_countries() {
        let geo = At(Location {
            country: Some(code),
            continent: Some(continent),
            coordinates: Some(coordinates),
            prefix_len: 32,
            ..Location::default()
        });
        let inputs = policy::Inputs {
            geo: &geo,
            health,
            latency,
            load: crate::load::LoadSnapshot::none(),
        };
        let decision = policy::evaluate_with(
            service,
            want,
            &client,
            &inputs,
            &mut StdRng::seed_from_u64(0),
            None,
        );
        let code = String::from_utf8_lossy(&code).into_owned();
        countries.insert(code, labels.label(&decision));
    }
    ServiceMap {
        name: super::model::display_name(&service.name),
        policy: service.policy.kind().to_string(),
        pools,
        qtype: want.to_string(),
        countries,
    }
}
