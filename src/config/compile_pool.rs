//! Compile datacenters and pools (with their health targets) from a zone file's tables.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hickory_proto::rr::Name;
use toml::Spanned;

use super::error::Errors;
use super::rdata::parse_name;
use super::service_file::{DatacenterFile, MemberFile, Named, PoolFile};
use crate::geo::{Continent, country_continent};
use crate::health::check::CheckSpec;
use crate::health::target::TargetSpec;
use crate::policy::model::{DEFAULT_MIN_HEALTHY, DEFAULT_WEIGHT};
use crate::policy::{Answer, Datacenter, Member, Pool, Selection};

/// Largest member weight.
pub(crate) const MAX_WEIGHT: i64 = 1_000_000;

/// A zone's datacenters, in file order, with their ids by name.
pub(crate) struct Datacenters {
    pub(crate) list: Arc<[Datacenter]>,
    pub(crate) ids: HashMap<String, usize>,
}

pub(crate) fn compile_datacenters(
    file: &Named<DatacenterFile>,
    errors: &mut Errors,
) -> Datacenters {
    let mut list = Vec::new();
    let mut ids = HashMap::new();
    let mut entries: Vec<_> = file.iter().collect();
    entries.sort_by_key(|(name, _)| name.span().start);
    for (name, dc) in entries {
        if let Some(d) = datacenter(name.get_ref(), dc.get_ref(), errors) {
            ids.insert(name.get_ref().clone(), list.len());
            list.push(d);
        }
    }
    Datacenters {
        list: list.into(),
        ids,
    }
}

fn datacenter(name: &str, f: &DatacenterFile, errors: &mut Errors) -> Option<Datacenter> {
    let coordinates = match f.coordinates.get_ref().as_slice() {
        [lat, lon] if (-90.0..=90.0).contains(lat) && (-180.0..=180.0).contains(lon) => {
            (*lat, *lon)
        }
        _ => {
            errors.at(
                f.coordinates.span(),
                "coordinates must be [latitude, longitude] within [-90..90, -180..180]",
            );
            return None;
        }
    };
    let country = f.country.as_ref().and_then(|c| country_code(c, errors));
    let continent = match &f.continent {
        Some(c) => continent(c, errors),
        None => country.and_then(country_continent),
    };
    let bias = match &f.bias {
        Some(b) => errors.ranged::<i8>(b, -99..=99, "bias")?,
        None => 0,
    };
    Some(Datacenter {
        name: name.into(),
        coordinates,
        country,
        continent,
        bias,
    })
}

/// An ISO 3166-1 alpha-2 code, upper case.
pub(crate) fn country_code(c: &Spanned<String>, errors: &mut Errors) -> Option<[u8; 2]> {
    match c.get_ref().as_bytes() {
        [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
            Some([a.to_ascii_uppercase(), b.to_ascii_uppercase()])
        }
        _ => {
            errors.at(c.span(), "country must be a two-letter ISO 3166-1 code");
            None
        }
    }
}

pub(crate) fn continent(c: &Spanned<String>, errors: &mut Errors) -> Option<Continent> {
    let found = Continent::from_code(&c.get_ref().to_ascii_uppercase());
    if found.is_none() {
        errors.at(
            c.span(),
            "continent must be one of AF, AN, AS, EU, NA, OC, SA",
        );
    }
    found
}

/// What the pools of a zone compile to.
#[derive(Default)]
pub(crate) struct Pools {
    pub(crate) by_name: HashMap<String, Arc<Pool>>,
    pub(crate) targets: Vec<TargetSpec>,
}

pub(crate) struct PoolContext<'a> {
    pub(crate) origin: &'a Name,
    pub(crate) datacenters: &'a Datacenters,
    pub(crate) checks: &'a HashMap<String, Arc<CheckSpec>>,
}

pub(crate) fn compile_pools(
    file: &Named<PoolFile>,
    cx: &PoolContext,
    errors: &mut Errors,
) -> Pools {
    let mut out = Pools::default();
    for (name, pool) in file {
        let p = pool.get_ref();
        let selection = match p.selection.as_ref().map(|s| (s, s.get_ref().as_str())) {
            None | Some((_, "all")) => Selection::All,
            Some((_, "weighted")) => Selection::Weighted,
            Some((_, "hash")) => Selection::Hash,
            Some((s, _)) => {
                errors.at(s.span(), "selection must be `all`, `weighted` or `hash`");
                Selection::All
            }
        };
        let min_healthy = match &p.min_healthy {
            Some(m) => errors.ranged(m, 0..=65535, "min_healthy").unwrap_or(1),
            None => DEFAULT_MIN_HEALTHY,
        };
        let pool_name: Arc<str> = name.get_ref().as_str().into();
        let mut members = Vec::new();
        for m in p.members.get_ref() {
            if let Some((member, target)) = member(m, &pool_name, cx, errors) {
                members.push(member);
                out.targets.extend(target);
            }
        }
        // Members with errors were reported: the pool is not also called empty.
        if p.members.get_ref().is_empty() {
            errors.at(
                p.members.span(),
                format!("pool `{pool_name}` has no members"),
            );
        }
        let names = members
            .iter()
            .filter(|m| matches!(m.answer, Answer::Name(_)))
            .count();
        if names != 0 && names != members.len() {
            errors.at(p.members.span(), "a pool mixes addresses and host names");
        }
        let pool = Pool {
            name: pool_name,
            members,
            selection,
            min_healthy,
        };
        out.by_name.insert(name.get_ref().clone(), Arc::new(pool));
    }
    out
}

fn member(
    m: &Spanned<MemberFile>,
    pool: &Arc<str>,
    cx: &PoolContext,
    errors: &mut Errors,
) -> Option<(Member, Option<TargetSpec>)> {
    let f = m.get_ref();
    let answer = match (&f.address, &f.name) {
        (Some(a), None) => match a.get_ref().parse::<IpAddr>() {
            Ok(ip) => Answer::Addr(ip),
            Err(_) => {
                errors.at(a.span(), format!("invalid IP address {:?}", a.get_ref()));
                return None;
            }
        },
        (None, Some(n)) => match parse_name(n.get_ref(), cx.origin) {
            Ok(name) => Answer::Name(name.to_ascii().into()),
            Err(e) => {
                errors.at(n.span(), e);
                return None;
            }
        },
        _ => {
            errors.at(
                m.span(),
                "a member needs exactly one of `address` or `name`",
            );
            return None;
        }
    };
    // Every field is checked, so one run reports each of the member's errors.
    let datacenter = match &f.datacenter {
        Some(d) => match cx.datacenters.ids.get(d.get_ref()) {
            Some(id) => Ok(Some(*id)),
            None => {
                errors.at(d.span(), format!("unknown datacenter `{}`", d.get_ref()));
                Err(())
            }
        },
        None => Ok(None),
    };
    let weight = match &f.weight {
        Some(w) => errors.ranged(w, 0..=MAX_WEIGHT, "weight").ok_or(()),
        None => Ok(DEFAULT_WEIGHT),
    };
    let target = match &f.check {
        Some(c) => {
            let dc = datacenter.unwrap_or(None);
            target(f, c, &answer, dc, pool, cx, errors)
                .map(Some)
                .ok_or(())
        }
        None => {
            if let Some(p) = &f.probe {
                errors.at(p.span(), "`probe` needs a `check`");
            }
            Ok(None)
        }
    };
    let (Ok(datacenter), Ok(weight), Ok(target)) = (datacenter, weight, target) else {
        return None;
    };
    let member = Member {
        answer,
        datacenter,
        weight,
        target: target.as_ref().map(|t| t.key.clone()),
    };
    Some((member, target))
}

fn target(
    f: &MemberFile,
    check: &Spanned<String>,
    answer: &Answer,
    datacenter: Option<usize>,
    pool: &Arc<str>,
    cx: &PoolContext,
    errors: &mut Errors,
) -> Option<TargetSpec> {
    let Some(spec) = cx.checks.get(check.get_ref()) else {
        errors.at(check.span(), format!("unknown check `{}`", check.get_ref()));
        return None;
    };
    let (host, default_ip) = match answer {
        Answer::Addr(ip) => (ip.to_string(), Some(*ip)),
        Answer::Name(n) => (n.trim_end_matches('.').to_string(), None),
    };
    let probe_addr = match &f.probe {
        Some(p) => probe(p, spec.probe_port(), errors)?,
        None => match (default_ip, spec.probe_port()) {
            (Some(ip), Some(port)) => SocketAddr::new(ip, port),
            (None, _) => {
                errors.at(
                    check.span(),
                    "a host-name member needs `probe = \"IP[:PORT]\"`",
                );
                return None;
            }
            (Some(_), None) => {
                errors.at(
                    check.span(),
                    "this tcp check has no port: set `port` or `probe`",
                );
                return None;
            }
        },
    };
    let dc_name = datacenter.map_or_else(|| Arc::from(""), |d| cx.datacenters.list[d].name.clone());
    Some(TargetSpec {
        key: format!("{host}/{}", spec.name).into(),
        probe_addr,
        check: spec.clone(),
        datacenter: dc_name,
        pools: vec![pool.clone()],
    })
}

/// `IP`, `IP:PORT` or `[IPv6]:PORT`; the check's port when none is given.
fn probe(p: &Spanned<String>, port: Option<u16>, errors: &mut Errors) -> Option<SocketAddr> {
    let text = p.get_ref().trim();
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Some(addr);
    }
    match (text.parse::<IpAddr>(), port) {
        (Ok(ip), Some(port)) => Some(SocketAddr::new(ip, port)),
        (Ok(_), None) => {
            errors.at(p.span(), "this tcp check has no port: write `IP:PORT`");
            None
        }
        (Err(_), _) => {
            errors.at(p.span(), "probe must be `IP`, `IP:PORT` or `[IPv6]:PORT`");
            None
        }
    }
}
