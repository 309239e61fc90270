//! The parts of a diff read off the compiled zones without evaluating: static records,
//! targets, checks, datacenters, whether a service changed, and `weighted` shares.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::hash::{Hash as _, Hasher as _};

use super::model::{Listed, RecordChange, Report, WeightShift, answer_text, display_name};
use crate::health::HealthSnapshot;
use crate::policy::{Policy, PoolWeight, Service, Want, WeightBy};
use crate::zone::{Zone, ZoneSet};

/// Shares closer than this (percentage points) are the same share.
const SHARE_EPSILON: f64 = 0.05;

/// Zones, static records, targets, checks and datacenters added, removed or changed.
pub(super) fn structure(old: &ZoneSet, new: &ZoneSet, report: &mut Report) {
    let (old_zones, new_zones) = (by_origin(old), by_origin(new));
    report.zones = Listed::of(
        &old_zones.keys().cloned().collect(),
        &new_zones.keys().cloned().collect(),
    );
    let empty = BTreeMap::new();
    for origin in old_zones
        .keys()
        .chain(new_zones.keys())
        .collect::<BTreeSet<_>>()
    {
        let (o, n) = (old_zones.get(origin), new_zones.get(origin));
        if let (Some(o), Some(n)) = (o, n)
            && o.digest == n.digest
        {
            continue;
        }
        let before = o.map_or_else(|| empty.clone(), |z| records(z));
        let after = n.map_or_else(|| empty.clone(), |z| records(z));
        for key in before.keys().chain(after.keys()).collect::<BTreeSet<_>>() {
            let (b, a) = (before.get(key), after.get(key));
            let change = match (b, a) {
                (None, Some(_)) => "added",
                (Some(_), None) => "removed",
                (Some(b), Some(a)) if b != a => "changed",
                _ => continue,
            };
            report.records.push(RecordChange {
                name: key.0.clone(),
                rtype: key.1.clone(),
                change,
                before: b.cloned().unwrap_or_default(),
                after: a.cloned().unwrap_or_default(),
            });
        }
    }
    let (ot, nt) = (old.targets(), new.targets());
    let keys = |t: &[crate::health::target::TargetSpec]| -> BTreeSet<String> {
        t.iter().map(|t| t.key.to_string()).collect()
    };
    report.targets = Listed::of(&keys(&ot), &keys(&nt));
    let checks = |t: &[crate::health::target::TargetSpec]| -> BTreeSet<String> {
        t.iter().map(|t| t.check.name.to_string()).collect()
    };
    report.checks = Listed::of(&checks(&ot), &checks(&nt));
    report.datacenters = Listed::of(&datacenters(old), &datacenters(new));
}

fn by_origin(set: &ZoneSet) -> BTreeMap<String, &Zone> {
    set.iter().map(|z| (display_name(&z.name), z)).collect()
}

/// Static RRsets by (owner, type): the records in presentation format, sorted.
fn records(zone: &Zone) -> BTreeMap<(String, String), Vec<String>> {
    let mut out = BTreeMap::new();
    for name in zone.names() {
        let Some(node) = zone.node(name) else {
            continue;
        };
        for set in &node.rrsets {
            let mut texts: Vec<String> = set.records.iter().map(ToString::to_string).collect();
            texts.sort_unstable();
            out.insert(
                (display_name(&name.to_ascii()), set.rtype.to_string()),
                texts,
            );
        }
    }
    out
}

fn datacenters(zones: &ZoneSet) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for zone in zones.iter() {
        let mut seen: Vec<*const crate::policy::Datacenter> = Vec::new();
        for service in zone.nodes().filter_map(|n| n.service.as_ref()) {
            let ptr = service.datacenters.as_ptr();
            if seen.contains(&ptr) {
                continue;
            }
            seen.push(ptr);
            names.extend(service.datacenters.iter().map(|d| d.name.to_string()));
        }
    }
    names
}

/// Whether two compiled services may answer differently. A CIDR map shows only its size
/// in the compiled form's description, so a service with one counts as changed whenever
/// its zone's sources changed (the caller checks that first).
pub(super) fn service_changed(old: &Service, new: &Service) -> bool {
    let (a, b) = (fingerprint(old), fingerprint(new));
    a.0 != b.0 || a.1 || b.1
}

/// A hash of the service's full description, and whether it holds a non-empty CIDR map.
fn fingerprint(service: &Service) -> (u64, bool) {
    let mut text = String::new();
    let _ = write!(text, "{service:?}");
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    let cidr = text.contains("CidrMap { prefixes: ") && !text.contains("CidrMap { prefixes: 0,");
    (hasher.finish(), cidr)
}

/// Per-datacenter answer shares of a `weighted` service that moved.
pub(super) fn weight_shifts(
    old: &Service,
    new: &Service,
    health: &HealthSnapshot,
) -> Vec<WeightShift> {
    let mut out = Vec::new();
    for want in [Want::V4, Want::V6, Want::Name] {
        let (Some(before), Some(after)) = (shares(old, want, health), shares(new, want, health))
        else {
            continue;
        };
        let names: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
        for name in names {
            let b = before.get(name).copied().unwrap_or(0.0);
            let a = after.get(name).copied().unwrap_or(0.0);
            if (a - b).abs() >= SHARE_EPSILON {
                out.push(WeightShift {
                    service: display_name(&new.name),
                    qtype: want.to_string(),
                    datacenter: name.clone(),
                    before: b,
                    after: a,
                });
            }
        }
    }
    out
}

/// Percent of answers per datacenter for a `weighted` service and query type; `None` for
/// other policies or when no member serves the type. Members that are down, drained or
/// weigh 0 get nothing (the same eligibility the policy applies, all-down left aside).
fn shares(service: &Service, want: Want, health: &HealthSnapshot) -> Option<BTreeMap<String, f64>> {
    let Policy::Weighted { by, pools, .. } = &service.policy else {
        return None;
    };
    let mut raw: BTreeMap<String, f64> = BTreeMap::new();
    let pool_weight = |pw: &PoolWeight| match by {
        WeightBy::Member => 1.0,
        WeightBy::Pool => f64::from(pw.weight),
    };
    for pw in pools {
        let Some(pool) = service.pool(pw.pool) else {
            continue;
        };
        let usable: Vec<_> = pool
            .members
            .iter()
            .filter(|m| want.accepts(&m.answer) && m.weight > 0)
            .filter(|m| {
                m.target
                    .as_deref()
                    .is_none_or(|t| health.status(t).usable())
            })
            .collect();
        let total: f64 = usable.iter().map(|m| f64::from(m.weight)).sum();
        if total <= 0.0 {
            continue;
        }
        for m in usable {
            let name = match service.datacenter(m.datacenter) {
                Some(dc) => dc.name.to_string(),
                None => answer_text(&m.answer),
            };
            let w = match by {
                WeightBy::Member => f64::from(m.weight),
                WeightBy::Pool => pool_weight(pw) * f64::from(m.weight) / total,
            };
            *raw.entry(name).or_default() += w;
        }
    }
    let sum: f64 = raw.values().sum();
    if sum <= 0.0 {
        return None;
    }
    Some(raw.into_iter().map(|(k, v)| (k, 100.0 * v / sum)).collect())
}
