//! The Handler that fuzz targets and property tests query: the good test zones, the steering zone and the test GeoIP database, unsigned or signed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use meridian::config::compile::compile_zone;
use meridian::dns::{Handler, Snapshots};
use meridian::dnssec::{Algorithm, SigningKey};
use meridian::geo::GeoDb;
use meridian::health::{HealthSnapshot, Status, TargetHealth};
use meridian::zone::{Zone, ZoneSet};

/// Largest UDP reply the fixture handler sends (the server default).
pub const MAX_UDP: u16 = 1232;

/// Zone files the fixture serves, relative to the repository root.
pub const ZONE_FILES: [&str; 3] = [
    "tests/fixtures/good/example.test.toml",
    "tests/fixtures/good/sub.example.test.toml",
    "tests/fixtures/steer.toml",
];

/// Names worth asking: every kind of answer the fixture zones give.
pub const NAMES: [&str; 22] = [
    "example.test.",
    "www.example.test.",
    "alias.example.test.",
    "chain.example.test.",
    "out.example.test.",
    "loop1.example.test.",
    "dangling.example.test.",
    "b.deep.example.test.",
    "x.apps.example.test.",
    "exists.apps.example.test.",
    "a.cn.example.test.",
    "host.sub.example.test.",
    "big.example.test.",
    "huge.example.test.",
    "_sip._tcp.example.test.",
    "caa.example.test.",
    "www.child.example.test.",
    "nope.example.test.",
    "geo.steer.test.",
    "fo.steer.test.",
    "api.steer.test.",
    "cdn.steer.test.",
];

/// Which targets the health snapshot marks down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// Nothing probed yet: every member counts as up.
    AllUp,
    /// The eu datacenter's probe fails: geo answers fail over.
    EuDown,
    /// Every probe fails: fallback and fail-open answers.
    AllDown,
}

/// The repository root, from the directory of the crate being built.
pub fn repo_root(manifest_dir: &str) -> PathBuf {
    let dir = Path::new(manifest_dir);
    if dir.join("tests/fixtures/steer.toml").is_file() {
        dir.to_path_buf()
    } else {
        dir.parent().unwrap_or(dir).to_path_buf()
    }
}

/// Whether the fixture zones are signed (a fresh ECDSA CSK per zone, CDS published).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signed {
    No,
    Yes,
}

/// Compile the fixture zones. Probes point at unused loopback ports (nothing is probed:
/// the health snapshot decides which targets are down).
pub fn zones(root: &Path, signed: Signed) -> ZoneSet {
    let compiled = ZONE_FILES.iter().map(|file| {
        let path = root.join(file);
        let mut text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
            .replace("EU_PROBE", "127.0.0.1:9")
            .replace("US_PROBE", "127.0.0.1:10")
            .replace("AP_PROBE", "127.0.0.1:11");
        let key = SigningKey::generate_pem(Algorithm::EcdsaP256Sha256);
        if signed == Signed::Yes {
            text.push_str("\n[dnssec]\ncsk = \"csk.pem\"\ncds = true\n");
        }
        let mut key_file = |name: &str| match name {
            "csk.pem" => Ok(key.clone()),
            _ => Err(format!("no file {name}")),
        };
        compile_zone(&path, &text, &mut key_file)
            .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()))
    });
    ZoneSet::new(compiled.collect::<Vec<Zone>>())
}

fn snapshot(zones: &ZoneSet, health: Health) -> HealthSnapshot {
    let mut targets = HashMap::new();
    for spec in zones.targets() {
        let down = match health {
            Health::AllUp => false,
            Health::EuDown => spec.probe_addr.port() == 9,
            Health::AllDown => true,
        };
        let status = if down { Status::Down } else { Status::Up };
        let entry = TargetHealth {
            status,
            forced: false,
        };
        targets.insert(spec.key.clone(), entry);
    }
    HealthSnapshot::new(1, targets)
}

/// One Handler per health state, unsigned then signed: pick one with [`pick`].
pub fn handlers(root: &Path) -> Vec<Handler> {
    [Signed::No, Signed::Yes]
        .into_iter()
        .flat_map(|signed| {
            [Health::AllUp, Health::EuDown, Health::AllDown].map(|h| handler(root, h, signed))
        })
        .collect()
}

/// The index into [`handlers`] a fuzz input's selector byte chooses: its value mod 3 the
/// health state, bit 0x40 the signed zones (bits 0x10 and 0x20 are the transport and source).
pub fn pick(selector: u8) -> usize {
    usize::from(selector % 3) + if selector & 0x40 == 0 { 0 } else { 3 }
}

/// A Handler over the fixture zones, the test GeoIP database and the given health.
pub fn handler(root: &Path, health: Health, signed: Signed) -> Handler {
    let zones = zones(root, signed);
    let health = snapshot(&zones, health);
    let geo = GeoDb::open(root.join("geoip/test-city.mmdb"), None).expect("test GeoIP database");
    let snapshots = Arc::new(Snapshots {
        zones: ArcSwap::from_pointee(zones),
        health: Arc::new(ArcSwap::from_pointee(health)),
        geo: Arc::new(geo),
        latency: Arc::new(meridian::latency::Live::new(
            meridian::latency::TableConfig::default(),
            10_000,
        )),
        load: Arc::new(ArcSwap::from_pointee(
            meridian::load::LoadSnapshot::default(),
        )),
    });
    Handler::new(snapshots, MAX_UDP)
}
