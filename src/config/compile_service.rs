//! Compile `[services.NAME]` tables into policy `Service`s: pools, policy, geo maps, all_down.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU16;
use std::sync::Arc;

use hickory_proto::rr::Name;
use ipnet::IpNet;
use toml::Spanned;

use super::compile_pool::{Datacenters, continent, country_code};
use super::error::Errors;
use super::file::MAX_TTL;
use super::rdata::parse_name;
use super::service_file::{GeoFile, Named, Names, ServiceFile};
use crate::policy::cidr_file;
use crate::policy::model::DEFAULT_TTL;
use crate::policy::{
    AllDown, Answer, CidrMap, GeoMap, Policy, PolicyKind, Pool, PoolId, PoolList, PoolWeight,
    Service, Subdivision, WeightBy, WeightMode,
};

/// Reads a file named in a zone file (a CIDR map), relative to that zone file.
pub(crate) type ReadAux<'a> = dyn FnMut(&str) -> Result<String, String> + 'a;

pub(crate) struct ServiceContext<'a> {
    pub(crate) origin: &'a Name,
    pub(crate) datacenters: &'a Datacenters,
    pub(crate) pools: &'a HashMap<String, Arc<Pool>>,
}

/// The pools one service uses, numbered in order of first mention.
struct Local<'a> {
    all: &'a HashMap<String, Arc<Pool>>,
    pools: Vec<Arc<Pool>>,
    ids: HashMap<String, PoolId>,
}

impl Local<'_> {
    fn id(&mut self, name: &Spanned<String>, errors: &mut Errors) -> Option<PoolId> {
        let id = self.id_by_name(name.get_ref());
        if id.is_none() {
            errors.at(name.span(), format!("unknown pool `{}`", name.get_ref()));
        }
        id
    }

    fn id_by_name(&mut self, name: &str) -> Option<PoolId> {
        if let Some(id) = self.ids.get(name) {
            return Some(*id);
        }
        let pool = self.all.get(name)?;
        self.ids.insert(name.to_string(), self.pools.len());
        self.pools.push(pool.clone());
        Some(self.pools.len() - 1)
    }

    fn list(&mut self, names: &[Spanned<String>], errors: &mut Errors) -> Vec<PoolId> {
        names.iter().filter_map(|n| self.id(n, errors)).collect()
    }
}

pub(crate) fn compile_service(
    owner: &Name,
    file: &Spanned<ServiceFile>,
    cx: &ServiceContext,
    errors: &mut Errors,
    read: &mut ReadAux,
) -> Option<Service> {
    let f = file.get_ref();
    let before = errors.list.len();
    let mut local = Local {
        all: cx.pools,
        pools: Vec::new(),
        ids: HashMap::new(),
    };
    let listed = f.pools.as_ref().map(|p| local.list(p.get_ref(), errors));
    let needs_pools = |errors: &mut Errors| {
        if listed.as_ref().is_none_or(Vec::is_empty) {
            errors.at(
                f.policy.span(),
                "this policy needs a non-empty `pools` list",
            );
        }
        listed.clone().unwrap_or_default()
    };
    let Some(kind) = PolicyKind::from_name(f.policy.get_ref()) else {
        let names: Vec<&str> = PolicyKind::ALL.iter().map(|k| k.as_str()).collect();
        let (last, rest) = names.split_last().expect("at least one policy");
        errors.at(
            f.policy.span(),
            format!(
                "unknown policy `{}`; expected {} or {last}",
                f.policy.get_ref(),
                rest.join(", ")
            ),
        );
        return None;
    };
    let policy = match kind {
        PolicyKind::Failover => Policy::Failover {
            pools: needs_pools(errors),
        },
        PolicyKind::Nearest => Policy::Nearest {
            pools: needs_pools(errors),
        },
        PolicyKind::Weighted => weighted(f, needs_pools(errors), &mut local, errors),
        PolicyKind::Geo => Policy::Geo(geo(f, listed.as_deref(), &mut local, errors, read)?),
        PolicyKind::Latency => super::compile_latency::latency(f, needs_pools(errors), errors),
    };
    super::compile_latency::only_for_latency(f, &policy, errors);
    check_families(&local.pools, file, errors);
    let service = Service {
        name: owner.to_ascii().into(),
        policy,
        pools: local.pools,
        datacenters: cx.datacenters.list.clone(),
        ttl: f
            .ttl
            .as_ref()
            .map_or(Some(DEFAULT_TTL), |t| errors.ranged(t, 0..=MAX_TTL, "ttl"))?,
        max_answers: match &f.max_answers {
            Some(m) => NonZeroU16::new(errors.ranged::<u16>(m, 1..=65535, "max_answers")?),
            None => None,
        },
        all_down: all_down(f, cx.origin, errors),
    };
    (errors.list.len() == before).then_some(service)
}

/// Every pool of a service must answer the same kind: addresses or host names.
fn check_families(pools: &[Arc<Pool>], file: &Spanned<ServiceFile>, errors: &mut Errors) {
    let named = |p: &Arc<Pool>| {
        p.members
            .iter()
            .any(|m| matches!(m.answer, Answer::Name(_)))
    };
    let names = pools.iter().filter(|p| named(p)).count();
    if names != 0 && names != pools.len() {
        errors.at(
            file.get_ref().policy.span(),
            "a service's pools must all hold addresses or all hold host names",
        );
    }
}

fn weighted(f: &ServiceFile, pools: Vec<PoolId>, local: &mut Local, errors: &mut Errors) -> Policy {
    let by = match f.weight_by.as_ref().map(|s| (s, s.get_ref().as_str())) {
        None | Some((_, "member")) => WeightBy::Member,
        Some((_, "pool")) => WeightBy::Pool,
        Some((s, _)) => {
            errors.at(s.span(), "weight_by must be `member` or `pool`");
            WeightBy::Member
        }
    };
    let mode = match f.mode.as_ref().map(|s| (s, s.get_ref().as_str())) {
        None | Some((_, "random")) => WeightMode::Random,
        Some((_, "hash")) => WeightMode::Hash,
        Some((s, _)) => {
            errors.at(s.span(), "mode must be `random` or `hash`");
            WeightMode::Random
        }
    };
    let mut weights: HashMap<PoolId, u32> = HashMap::new();
    for (name, w) in f.pool_weights.iter().flatten() {
        let (Some(id), Some(w)) = (
            local.id(name, errors),
            errors.ranged(w, 0..=1_000_000, "weight"),
        ) else {
            continue;
        };
        if !pools.contains(&id) {
            errors.at(
                name.span(),
                format!("pool `{}` is not in `pools`", name.get_ref()),
            );
        }
        weights.insert(id, w);
    }
    let pools = pools
        .into_iter()
        .map(|pool| PoolWeight {
            pool,
            weight: weights.get(&pool).copied().unwrap_or(1),
        })
        .collect();
    Policy::Weighted { by, mode, pools }
}

fn geo(
    f: &ServiceFile,
    listed: Option<&[PoolId]>,
    local: &mut Local,
    errors: &mut Errors,
    read: &mut ReadAux,
) -> Option<GeoMap> {
    let Some(g) = &f.geo else {
        errors.at(
            f.policy.span(),
            "a geo service needs a [services.NAME.geo] table",
        );
        return None;
    };
    let g: &GeoFile = g.get_ref();
    let default: PoolList = match (&g.default, listed) {
        (Some(d), _) => local.list(d.get_ref(), errors).into(),
        (None, Some(l)) if !l.is_empty() => l.into(),
        _ => {
            errors.at(
                f.policy.span(),
                "a geo service needs `default` (or `pools`)",
            );
            return None;
        }
    };
    let mut map = GeoMap {
        default,
        ..GeoMap::default()
    };
    let mut keys: Vec<(Key, PoolList)> = Vec::new();
    collect(&g.continent, local, errors, &mut keys, |k, e| {
        continent(k, e).map(Key::Continent)
    });
    collect(&g.country, local, errors, &mut keys, |k, e| {
        country_code(k, e).map(Key::Country)
    });
    collect(&g.subdivision, local, errors, &mut keys, subdivision);
    collect(&g.asn, local, errors, &mut keys, asn);
    collect(&g.cidr, local, errors, &mut keys, cidr);
    let mut prefixes = Vec::new();
    for (key, list) in keys {
        match key {
            Key::Continent(c) => drop(map.continent.insert(c, list)),
            Key::Country(c) => drop(map.country.insert(c, list)),
            Key::Subdivision(s) => drop(map.subdivision.insert(s, list)),
            Key::Asn(a) => drop(map.asn.insert(a, list)),
            Key::Cidr(net) => prefixes.push((net, list.to_vec())),
        }
    }
    map.cidr = cidr_map(g, prefixes, local, errors, read)?;
    Some(map)
}

enum Key {
    Continent(crate::geo::Continent),
    Country([u8; 2]),
    Subdivision(Subdivision),
    Asn(u32),
    Cidr(IpNet),
}

fn collect(
    table: &Option<Named<Vec<Spanned<String>>>>,
    local: &mut Local,
    errors: &mut Errors,
    keys: &mut Vec<(Key, PoolList)>,
    mut key: impl FnMut(&Spanned<String>, &mut Errors) -> Option<Key>,
) {
    for (k, pools) in table.iter().flatten() {
        let list: PoolList = local.list(pools.get_ref(), errors).into();
        if let Some(key) = key(k, errors) {
            keys.push((key, list));
        }
    }
}

fn subdivision(k: &Spanned<String>, errors: &mut Errors) -> Option<Key> {
    let found = Subdivision::parse(k.get_ref()).map(Key::Subdivision);
    if found.is_none() {
        errors.at(
            k.span(),
            "subdivision must look like `US-CA` (country-code)",
        );
    }
    found
}

fn asn(k: &Spanned<String>, errors: &mut Errors) -> Option<Key> {
    let text = k.get_ref();
    let digits = text
        .strip_prefix("AS")
        .or(text.strip_prefix("as"))
        .unwrap_or(text);
    let found = digits.parse::<u32>().ok().map(Key::Asn);
    if found.is_none() {
        errors.at(
            k.span(),
            "ASN must be a number such as `15169` or `AS15169`",
        );
    }
    found
}

fn cidr(k: &Spanned<String>, errors: &mut Errors) -> Option<Key> {
    match k.get_ref().parse::<IpNet>() {
        Ok(net) if net.trunc() == net => Some(Key::Cidr(net)),
        Ok(net) => {
            errors.at(
                k.span(),
                format!("{net} has host bits set (the network is {})", net.trunc()),
            );
            None
        }
        Err(_) => {
            errors.at(k.span(), "expected a prefix such as `203.0.113.0/24`");
            None
        }
    }
}

/// The CIDR map: inline `cidr` entries or a `cidr_file`, not both.
fn cidr_map(
    g: &GeoFile,
    inline: Vec<(IpNet, Vec<PoolId>)>,
    local: &mut Local,
    errors: &mut Errors,
    read: &mut ReadAux,
) -> Option<Option<Arc<CidrMap>>> {
    let Some(path) = &g.cidr_file else {
        if inline.is_empty() {
            return Some(None);
        }
        return match CidrMap::from_prefixes(inline) {
            Ok(map) => Some(Some(Arc::new(map))),
            Err(e) => {
                let span = g
                    .cidr
                    .as_ref()
                    .and_then(|c| c.keys().next())
                    .map(Spanned::span);
                errors.at(span.unwrap_or(0..0), e.to_string());
                None
            }
        };
    };
    if !inline.is_empty() {
        errors.at(path.span(), "use either `cidr` or `cidr_file`, not both");
        return None;
    }
    let text = match read(path.get_ref()) {
        Ok(t) => t,
        Err(e) => {
            errors.at(path.span(), e);
            return None;
        }
    };
    let report = |errors: &mut Errors, list: Vec<cidr_file::CidrFileError>| {
        for e in list {
            errors.at(path.span(), format!("{}:{e}", path.get_ref()));
        }
    };
    let parsed = match cidr_file::parse(&text) {
        Ok(p) => p,
        Err(list) => {
            report(errors, list);
            return None;
        }
    };
    match parsed.resolve(|name| local.id_by_name(name)) {
        Ok(map) => Some(Some(Arc::new(map))),
        Err(list) => {
            report(errors, list);
            None
        }
    }
}

fn all_down(f: &ServiceFile, origin: &Name, errors: &mut Errors) -> AllDown {
    let fallback = |list: &Names, errors: &mut Errors| {
        let answers = list.get_ref().iter().filter_map(|item| {
            if let Ok(ip) = item.get_ref().parse::<IpAddr>() {
                return Some(Answer::Addr(ip));
            }
            match parse_name(item.get_ref(), origin) {
                Ok(n) => Some(Answer::Name(n.to_ascii().into())),
                Err(e) => {
                    errors.at(item.span(), e);
                    None
                }
            }
        });
        AllDown::Fallback(answers.collect())
    };
    match (
        f.all_down.as_ref().map(|s| (s, s.get_ref().as_str())),
        &f.fallback,
    ) {
        (None | Some((_, "fail_open")), None) => AllDown::FailOpen,
        (Some((_, "nodata")), None) => AllDown::NoData,
        (Some((_, "servfail")), None) => AllDown::ServFail,
        (None | Some((_, "fallback")), Some(list)) => fallback(list, errors),
        (Some((s, "fallback")), None) => {
            errors.at(s.span(), "all_down = \"fallback\" needs a `fallback` list");
            AllDown::FailOpen
        }
        (Some((s, _)), Some(_))
            if ["fail_open", "nodata", "servfail"].contains(&s.get_ref().as_str()) =>
        {
            errors.at(
                s.span(),
                "`fallback` is only used with all_down = \"fallback\"",
            );
            AllDown::FailOpen
        }
        (Some((s, _)), _) => {
            errors.at(
                s.span(),
                "all_down must be `fail_open`, `nodata`, `servfail` or `fallback`",
            );
            AllDown::FailOpen
        }
    }
}
