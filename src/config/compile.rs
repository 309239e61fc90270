//! Compile one zone file's mirror into a `Zone`, collecting every error with its location.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use toml::Spanned;

use super::compile_check::compile_checks;
use super::compile_dnssec::compile_dnssec;
use super::compile_pool::{PoolContext, compile_datacenters, compile_pools};
use super::compile_service::{ReadAux, ServiceContext, compile_service};
use super::error::{ConfigError, Errors};
use super::file::{MAX_TTL, NameFile, RdataList, SoaFile, ZoneFile};
use super::rdata::{parse, parse_name};
use crate::health::target::TargetSpec;
use crate::zone::{Node, RRset, Zone, label_count};
use std::sync::Arc;

/// Zone TTL when the file does not set one.
pub const DEFAULT_TTL: u32 = 3600;

/// Parse and compile a zone file's text. `path` is only used in messages; `read` supplies
/// files the zone names (CIDR maps), relative to it.
pub fn compile_zone(path: &Path, text: &str, read: &mut ReadAux) -> Result<Zone, Vec<ConfigError>> {
    let file: ZoneFile = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        vec![ConfigError::at(path, text, span, e.message().trim_end())]
    })?;
    let mut errors = Errors::new(path, text);
    let zone = build(&file, &mut errors, read);
    match zone {
        Some(zone) if errors.list.is_empty() => Ok(zone),
        _ => Err(errors.into_sorted()),
    }
}

fn build(file: &ZoneFile, errors: &mut Errors, read: &mut ReadAux) -> Option<Zone> {
    let origin = match parse_name(file.origin.get_ref(), &Name::root()) {
        Ok(o) => o,
        Err(m) => {
            errors.at(file.origin.span(), m);
            return None;
        }
    };
    let ttl = match &file.ttl {
        Some(t) => errors.ranged(t, 0..=MAX_TTL, "ttl").unwrap_or(DEFAULT_TTL),
        None => DEFAULT_TTL,
    };
    let soa = soa_record(file, &origin, ttl, errors);
    let mut nodes: HashMap<Name, Node> = HashMap::new();
    let mut seen: HashMap<Name, Range<usize>> = HashMap::new();
    let mut entries: Vec<_> = file.records.iter().collect();
    entries.sort_by_key(|(name, _)| name.span().start);
    for (name, entry) in entries {
        let Some(owner) = owner_name(name, &origin, errors) else {
            continue;
        };
        if let Some(first) = seen.get(&owner) {
            let line = errors.line_of(first);
            errors.at(
                name.span(),
                format!("duplicate records for `{owner}` (first defined on line {line})"),
            );
            continue;
        }
        seen.insert(owner.clone(), name.span());
        let node = name_node(&owner, entry, &origin, ttl, errors);
        nodes.insert(owner, node);
    }
    apex(file, &origin, ttl, &mut nodes, errors);
    if let (Some(soa), Some(node)) = (&soa, nodes.get_mut(&origin)) {
        let set = RRset::new(RecordType::SOA, vec![soa.clone()]);
        node.rrsets.insert(0, set);
    }
    let targets = steering(file, &origin, &mut nodes, errors, read);
    check_cuts(file, &origin, &nodes, errors);
    add_empty_non_terminals(&origin, &mut nodes);
    let signing = file
        .dnssec
        .as_ref()
        .and_then(|d| compile_dnssec(d, &origin, errors, read));
    if let (Some(signing), Some(apex)) = (&signing, nodes.get_mut(&origin)) {
        for (rtype, records) in signing.apex_sets(&origin, ttl) {
            apex.rrsets.push(RRset::new(rtype, records));
        }
    }
    let mut zone = Zone::new(origin, soa?, nodes);
    zone.targets = targets;
    zone.signing = signing.map(Arc::new);
    Some(zone)
}

/// Datacenters, checks, pools and services; services become nodes of the zone.
fn steering(
    file: &ZoneFile,
    origin: &Name,
    nodes: &mut HashMap<Name, Node>,
    errors: &mut Errors,
    read: &mut ReadAux,
) -> Vec<TargetSpec> {
    let datacenters = compile_datacenters(&file.datacenters, errors);
    let checks = compile_checks(&file.checks, errors);
    let pcx = PoolContext {
        origin,
        datacenters: &datacenters,
        checks: &checks,
    };
    let pools = compile_pools(&file.pools, &pcx, errors);
    let scx = ServiceContext {
        origin,
        datacenters: &datacenters,
        pools: &pools.by_name,
    };
    for (name, service) in &file.services {
        let Some(owner) = owner_name(name, origin, errors) else {
            continue;
        };
        let node = nodes.entry(owner.clone()).or_default();
        if let Some(set) = node.rrsets.iter().find(|s| {
            matches!(
                s.rtype,
                RecordType::A
                    | RecordType::AAAA
                    | RecordType::CNAME
                    | RecordType::SOA
                    | RecordType::NS
            )
        }) {
            let rtype = set.rtype;
            errors.at(
                name.span(),
                format!("service `{owner}` also has static {rtype} records"),
            );
            continue;
        }
        if let Some(s) = compile_service(&owner, service, &scx, errors, read) {
            node.service = Some(Arc::new(s));
        }
    }
    pools.targets
}

fn owner_name(name: &Spanned<String>, origin: &Name, errors: &mut Errors) -> Option<Name> {
    match parse_name(name.get_ref(), origin) {
        Ok(owner) if origin.zone_of(&owner) => Some(owner),
        Ok(owner) => {
            errors.at(
                name.span(),
                format!("name `{owner}` is outside zone `{origin}`"),
            );
            None
        }
        Err(m) => {
            errors.at(name.span(), m);
            None
        }
    }
}

fn soa_record(file: &ZoneFile, origin: &Name, ttl: u32, errors: &mut Errors) -> Option<Record> {
    let Some(soa) = &file.soa else {
        errors.at(
            file.origin.span(),
            format!("zone `{origin}` has no [soa] table"),
        );
        return None;
    };
    let s: &SoaFile = soa.get_ref();
    let mname = parse_name(s.mname.get_ref(), origin).map_err(|m| errors.at(s.mname.span(), m));
    let rname = parse_name(s.rname.get_ref(), origin).map_err(|m| errors.at(s.rname.span(), m));
    let serial = errors.ranged::<u32>(&s.serial, 0..=i64::from(u32::MAX), "serial");
    let mut time = |v: &Option<Spanned<i64>>, default: i32, what: &str| match v {
        Some(v) => errors.ranged::<i32>(v, 0..=MAX_TTL, what),
        None => Some(default),
    };
    let refresh = time(&s.refresh, 7200, "refresh");
    let retry = time(&s.retry, 1800, "retry");
    let expire = time(&s.expire, 1_209_600, "expire");
    let minimum = time(&s.minimum, 300, "minimum").map(|m| m as u32);
    let soa_ttl = time(&s.ttl, ttl as i32, "ttl").map(|t| t as u32);
    let data = SOA::new(
        mname.ok()?,
        rname.ok()?,
        serial?,
        refresh?,
        retry?,
        expire?,
        minimum?,
    );
    Some(Record::from_rdata(
        origin.clone(),
        soa_ttl?,
        RData::SOA(data),
    ))
}

/// The record types a name may carry, with how they appear in `NameFile`.
fn typed_lists(entry: &NameFile) -> [(RecordType, Option<&Spanned<RdataList>>); 9] {
    // Destructured without `..`: a field added to `NameFile` does not compile until it is
    // listed here with its record type, so it cannot be accepted and dropped.
    let NameFile {
        ttl: _,
        a,
        aaaa,
        cname,
        mx,
        txt,
        srv,
        caa,
        ptr,
        ns,
    } = entry;
    [
        (RecordType::A, a.as_ref()),
        (RecordType::AAAA, aaaa.as_ref()),
        (RecordType::CNAME, cname.as_ref()),
        (RecordType::MX, mx.as_ref()),
        (RecordType::TXT, txt.as_ref()),
        (RecordType::SRV, srv.as_ref()),
        (RecordType::CAA, caa.as_ref()),
        (RecordType::PTR, ptr.as_ref()),
        (RecordType::NS, ns.as_ref()),
    ]
}

fn name_node(
    owner: &Name,
    entry: &Spanned<NameFile>,
    origin: &Name,
    zone_ttl: u32,
    errors: &mut Errors,
) -> Node {
    let e = entry.get_ref();
    let ttl = match &e.ttl {
        Some(t) => errors.ranged(t, 0..=MAX_TTL, "ttl").unwrap_or(zone_ttl),
        None => zone_ttl,
    };
    let mut node = Node::default();
    let present: Vec<_> = typed_lists(e)
        .into_iter()
        .filter_map(|(t, l)| l.map(|l| (t, l)))
        .collect();
    for (rtype, list) in &present {
        if let Some(set) = rrset(owner, *rtype, list, origin, ttl, errors) {
            node.rrsets.push(set);
        }
    }
    if let Some((_, cname)) = present.iter().find(|(t, _)| *t == RecordType::CNAME) {
        if present.len() > 1 {
            errors.at(
                cname.span(),
                format!("CNAME at `{owner}` beside other data"),
            );
        } else if cname.get_ref().0.len() > 1 {
            errors.at(cname.span(), format!("more than one CNAME at `{owner}`"));
        }
        if owner == origin {
            errors.at(cname.span(), "CNAME at the zone apex beside its SOA and NS");
        }
    }
    if let Some((_, ns)) = present.iter().find(|(t, _)| *t == RecordType::NS) {
        if owner == origin {
            errors.at(
                ns.span(),
                "apex NS records belong in the top-level `ns` list",
            );
        }
        node.cut = owner != origin;
    }
    node
}

fn rrset(
    owner: &Name,
    rtype: RecordType,
    list: &Spanned<RdataList>,
    origin: &Name,
    ttl: u32,
    errors: &mut Errors,
) -> Option<RRset> {
    let mut records: Vec<Record> = Vec::new();
    if list.get_ref().0.is_empty() {
        errors.at(list.span(), format!("{rtype} at `{owner}` has no data"));
        return None;
    }
    for (span, item) in &list.get_ref().0 {
        let span = span.clone().unwrap_or_else(|| list.span());
        match parse(rtype, item, origin) {
            Ok(data) if records.iter().any(|r| r.data == data) => {
                errors.at(span, format!("duplicate {rtype} record at `{owner}`"));
            }
            Ok(data) => records.push(Record::from_rdata(owner.clone(), ttl, data)),
            Err(m) => errors.at(span, m),
        }
    }
    Some(RRset::new(rtype, records))
}

fn apex(
    file: &ZoneFile,
    origin: &Name,
    ttl: u32,
    nodes: &mut HashMap<Name, Node>,
    errors: &mut Errors,
) {
    let mut records = Vec::new();
    match &file.ns {
        Some(ns) if !ns.get_ref().is_empty() => {
            for n in ns.get_ref() {
                match parse_name(n.get_ref(), origin) {
                    Ok(target) => records.push(Record::from_rdata(
                        origin.clone(),
                        ttl,
                        RData::NS(hickory_proto::rr::rdata::NS(target)),
                    )),
                    Err(m) => errors.at(n.span(), m),
                }
            }
        }
        Some(ns) => errors.at(ns.span(), format!("zone `{origin}` needs at least one NS")),
        None => errors.at(
            file.origin.span(),
            format!("zone `{origin}` has no `ns` list"),
        ),
    }
    let node = nodes.entry(origin.clone()).or_default();
    node.rrsets.push(RRset::new(RecordType::NS, records));
}

/// Below a delegation only glue (A/AAAA) may exist; at it only NS and glue.
fn check_cuts(file: &ZoneFile, origin: &Name, nodes: &HashMap<Name, Node>, errors: &mut Errors) {
    let cuts: Vec<&Name> = nodes
        .iter()
        .filter(|(_, n)| n.cut)
        .map(|(k, _)| k)
        .collect();
    for name in file.records.keys() {
        let Ok(owner) = parse_name(name.get_ref(), origin) else {
            continue;
        };
        let Some(cut) = cuts.iter().find(|c| c.zone_of(&owner)) else {
            continue;
        };
        let bad = nodes
            .get(&owner)
            .into_iter()
            .flat_map(|n| &n.rrsets)
            .find(|s| {
                let glue = matches!(s.rtype, RecordType::A | RecordType::AAAA);
                !(glue || s.rtype == RecordType::NS && owner == **cut)
            });
        if let Some(set) = bad {
            let what = set.rtype;
            errors.at(
                name.span(),
                format!("{what} at `{owner}` is hidden by the delegation at `{cut}`; only NS and glue A/AAAA may be there"),
            );
        }
    }
}

/// Names between each owner and the origin exist with no data (RFC 4592 empty non-terminals).
fn add_empty_non_terminals(origin: &Name, nodes: &mut HashMap<Name, Node>) {
    let apex = label_count(origin);
    let owners: Vec<Name> = nodes.keys().cloned().collect();
    for owner in owners {
        for n in apex..label_count(&owner) {
            nodes.entry(owner.trim_to(n)).or_default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each record type's key in a zone file fills the list `typed_lists` gives that type.
    #[test]
    fn every_record_key_reaches_its_type() {
        let empty: NameFile = toml::from_str("").expect("an empty name parses");
        for (rtype, list) in typed_lists(&empty) {
            assert!(list.is_none(), "{rtype}");
            let entry: NameFile =
                toml::from_str(&format!("{rtype} = \"x\"")).expect("one record parses");
            let found: Vec<RecordType> = typed_lists(&entry)
                .into_iter()
                .filter_map(|(t, l)| l.map(|_| t))
                .collect();
            assert_eq!(found, [rtype], "the key `{rtype}`");
        }
    }
}
