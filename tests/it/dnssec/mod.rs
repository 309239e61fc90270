//! DNSSEC over the real server: signing with DO=1 only, compact denial, TC and TCP, every
//! signature checked by hickory-proto's verifier, the `dnssec` commands and `check`.

mod budget;
mod cli;
mod protocol;
mod remembered;
mod rollover;
mod validate;

use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use hickory_proto::dnssec::Verifier;
use hickory_proto::dnssec::rdata::{DNSKEY, DNSSECRData, RRSIG};
use hickory_proto::op::Message;
use hickory_proto::rr::{DNSClass, RData, Record, RecordType};
use meridian::app::Running;
use meridian::config::ServerConfig;
use meridian::dnssec::{Algorithm, SigningKey};

use crate::support::backend::backend;
use crate::support::dns::{query, start_with, tcp, udp, with_edns};

pub struct World {
    pub server: Running,
    pub up: Vec<Arc<AtomicBool>>,
    pub _dir: tempfile::TempDir,
}

/// `[dnssec]` for a zone with a CSK at `keys/<zone>.csk.pem`.
pub fn write_key(dir: &Path, zone: &str, algorithm: Algorithm, role: &str) -> String {
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let name = format!("keys/{zone}.{role}.pem");
    let path = dir.join(&name);
    std::fs::write(&path, SigningKey::generate_pem(algorithm)).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    name
}

/// The zones of the tests: `example.test` (static, wildcards, a delegation, big TXT sets)
/// and `steer.test` (every policy, probing backends on 127.0.0.x), signed when `signed`.
pub async fn world(signed: bool, algorithm: Algorithm) -> World {
    world_with(signed, algorithm, |_| {}).await
}

/// `world` with server settings changed by `tweak`.
pub async fn world_with(
    signed: bool,
    algorithm: Algorithm,
    tweak: impl FnOnce(&mut ServerConfig),
) -> World {
    let dir = tempfile::tempdir().unwrap();
    let mut up = Vec::new();
    let mut steer = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/steer.toml"
    ))
    .to_string();
    for (probe, ip) in [
        ("EU_PROBE", "127.0.0.121"),
        ("US_PROBE", "127.0.0.122"),
        ("AP_PROBE", "127.0.0.123"),
    ] {
        let (addr, flag) = backend(ip).await;
        steer = steer.replace(probe, &addr.to_string());
        up.push(flag);
    }
    let static_zone = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/good/example.test.toml"
    ))
    .to_string();
    for (zone, mut text) in [("steer.test", steer), ("example.test", static_zone)] {
        if signed {
            let key = write_key(dir.path(), zone, algorithm, "csk");
            let _ = write!(
                text,
                "\n[dnssec]\nalgorithm = \"{}\"\ncsk = \"{key}\"\ncds = true\n",
                algorithm.as_str()
            );
        }
        std::fs::write(dir.path().join(format!("{zone}.toml")), text).unwrap();
    }
    let zones = dir.path().to_str().unwrap().to_string();
    let server = start_with(&zones, |c| {
        c.geoip = "geoip/test-city.mmdb".into();
        tweak(c);
    })
    .await;
    tokio::time::timeout(Duration::from_secs(5), server.health.wait_ready())
        .await
        .expect("warm start finishes")
        .unwrap();
    World {
        server,
        up,
        _dir: dir,
    }
}

/// A query with EDNS (1232 bytes), DO as given, the CO flag as given, ECS optional.
pub fn ask(name: &str, qtype: RecordType, dnssec_ok: bool, co: bool, ecs: Option<&str>) -> Message {
    let mut m = with_edns(query(name, qtype), 1232, ecs);
    if let Some(edns) = m.edns.as_mut() {
        edns.set_dnssec_ok(dnssec_ok);
        edns.flags_mut().z = if co { 0x4000 } else { 0 };
    }
    m
}

pub async fn over_udp(w: &World, m: &Message) -> Message {
    udp(w.server.udp_addrs[0], m).await
}

pub async fn over_tcp(w: &World, m: &Message) -> Message {
    tcp(w.server.tcp_addrs[0], m).await
}

/// The zone's DNSKEYs, asked over TCP with DO=1.
pub async fn dnskeys(w: &World, zone: &str) -> Vec<DNSKEY> {
    let reply = over_tcp(w, &ask(zone, RecordType::DNSKEY, true, false, None)).await;
    reply
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::DNSKEY(k)) => Some(k.clone()),
            _ => None,
        })
        .collect()
}

fn rrsig(r: &Record) -> Option<&RRSIG> {
    match &r.data {
        RData::DNSSEC(DNSSECRData::RRSIG(s)) => Some(s),
        _ => None,
    }
}

/// Check every RRSIG of `sections` with `keys`; returns the (owner, type) of every RRset that
/// carries a valid one. Panics on a signature that does not verify.
pub fn verify(sections: &[&[Record]], keys: &[DNSKEY]) -> Vec<(String, RecordType)> {
    let mut signed = Vec::new();
    for section in sections {
        for sig in section.iter().filter_map(|r| rrsig(r).map(|s| (r, s))) {
            let (record, s) = sig;
            let input = s.input();
            let key = keys
                .iter()
                .find(|k| k.calculate_key_tag().ok() == Some(input.key_tag))
                .unwrap_or_else(|| panic!("no DNSKEY with tag {}", input.key_tag));
            let covered = section
                .iter()
                .filter(|r| r.record_type() == input.type_covered && r.name == record.name);
            key.verify_rrsig(&record.name, DNSClass::IN, s, covered)
                .unwrap_or_else(|e| {
                    panic!(
                        "{} {} does not verify: {e}",
                        record.name, input.type_covered
                    )
                });
            signed.push((record.name.to_ascii().to_lowercase(), input.type_covered));
        }
    }
    signed
}

/// Every RRset (owner, type) of a section, RRSIGs aside.
pub fn rrsets(section: &[Record]) -> Vec<(String, RecordType)> {
    let mut out: Vec<(String, RecordType)> = section
        .iter()
        .filter(|r| r.record_type() != RecordType::RRSIG)
        .map(|r| (r.name.to_ascii().to_lowercase(), r.record_type()))
        .collect();
    out.dedup();
    out
}

pub fn has_rrsig(m: &Message) -> bool {
    m.answers
        .iter()
        .chain(&m.authorities)
        .chain(&m.additionals)
        .any(|r| r.record_type() == RecordType::RRSIG)
}
