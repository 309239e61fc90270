//! `meridian diff`: what a zone change does to answers, evaluated with the real policies over the client space.
//!
//! Two compiled [`ZoneSet`]s are compared: services added or removed; for every service
//! whose compiled form differs, where each share of the client space is answered before
//! and after ([`walk`]: `policy::evaluate_with` run on both, stepping through each network
//! by the ECS scope the decisions report); for `weighted` services the share of answers
//! each datacenter gets ([`shape`]); static records; targets, checks and datacenters.
//! Pure: the zones, the client space, the health snapshot and the latency table are
//! arguments; the caller reads files or the live server.

pub mod map;
mod model;
mod shape;
pub mod space;
mod text;
mod walk;

#[cfg(test)]
mod diff_tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::policy::Service;
use crate::zone::ZoneSet;

use model::display_name;
pub use model::{Inputs, Listed, Move, RecordChange, Report, SpaceView, WeightShift};
pub use space::{Basis, ClientSpace};

/// Compares `old` with `new` over `inputs`' client spaces.
pub fn compare(old: &ZoneSet, new: &ZoneSet, inputs: &Inputs<'_>) -> Report {
    let started = std::time::Instant::now();
    let mut report = Report {
        health: inputs.health_label.to_string(),
        spaces: inputs
            .spaces
            .iter()
            .map(|s| SpaceView {
                basis: s.basis.as_str().to_string(),
                networks: s.len(),
            })
            .collect(),
        ..Report::default()
    };
    shape::structure(old, new, &mut report);
    let old_services = services(old);
    let new_services = services(new);
    report.services = Listed::of(
        &old_services.keys().cloned().collect(),
        &new_services.keys().cloned().collect(),
    );
    let mut pairs = Vec::new();
    for (name, (old_zone_digest, old_svc)) in &old_services {
        let Some((new_zone_digest, new_svc)) = new_services.get(name) else {
            continue;
        };
        if old_zone_digest == new_zone_digest || !shape::service_changed(old_svc, new_svc) {
            continue;
        }
        pairs.push((old_svc.clone(), new_svc.clone()));
    }
    report.services_changed = pairs.len();
    for (old_svc, new_svc) in &pairs {
        report
            .weights
            .extend(shape::weight_shifts(old_svc, new_svc, inputs.health));
    }
    report.moves = walk::moves(&pairs, inputs);
    if inputs.spaces.iter().all(ClientSpace::is_empty) {
        report.unevaluated = pairs
            .iter()
            .filter(|(o, n)| !(walk::is_weighted(o) && walk::is_weighted(n)))
            .map(|(_, n)| display_name(&n.name))
            .collect();
    }
    report.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    report
}

/// Every service by name (without the final dot), with its zone's source digest.
fn services(zones: &ZoneSet) -> BTreeMap<String, ([u8; 32], Arc<Service>)> {
    zones
        .iter()
        .flat_map(|z| {
            z.nodes()
                .filter_map(|n| n.service.clone())
                .map(|s| (display_name(&s.name), (z.digest, s)))
        })
        .collect()
}
