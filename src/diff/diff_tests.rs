//! Tests of `diff::compare` on zones written to a temporary directory and a made-up GeoIP.

use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;

use super::{ClientSpace, Inputs, Report, compare};
use crate::geo::{Continent, Locate, Location};
use crate::health::HealthSnapshot;
use crate::latency::{LatencyTable, TableConfig};
use crate::policy::LatencyView;

/// 10/8 in Europe, 20/8 in North America, 30/7 in Africa: a quarter, a quarter, a half.
struct World;

const NETS: [(&str, Continent); 3] = [
    ("10.0.0.0/8", Continent::EU),
    ("20.0.0.0/8", Continent::NA),
    ("30.0.0.0/7", Continent::AF),
];

impl Locate for World {
    fn locate(&self, addr: IpAddr) -> Option<Location> {
        NETS.iter().find_map(|(net, continent)| {
            let net: IpNet = net.parse().ok()?;
            net.contains(&addr).then(|| Location {
                continent: Some(*continent),
                prefix_len: net.prefix_len(),
                ..Location::default()
            })
        })
    }
}

fn zone(geo: &str, weights: (u32, u32), txt: &str) -> String {
    format!(
        r#"origin = "diff.test."
ns = ["ns1"]
[soa]
mname = "ns1"
rname = "hostmaster"
serial = 1
[records.ns1]
A = "192.0.2.53"
[records.info]
TXT = "{txt}"
[datacenters.eu]
coordinates = [50.1, 8.7]
country = "DE"
[datacenters.us]
coordinates = [39.0, -77.5]
country = "US"
[pools.eu]
members = [{{ address = "198.51.100.1", datacenter = "eu", weight = {} }}]
[pools.us]
members = [{{ address = "192.0.2.1", datacenter = "us", weight = {} }}]
[services.www]
policy = "geo"
pools = ["eu", "us"]
[services.www.geo]
default = ["us", "eu"]
continent = {{ {geo} }}
[services.split]
policy = "weighted"
pools = ["eu", "us"]
"#,
        weights.0, weights.1
    )
}

fn load(dir: &Path, text: &str) -> crate::zone::ZoneSet {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("diff.test.toml"), text).unwrap();
    crate::config::load_zones(dir).unwrap()
}

fn run(old: &str, new: &str) -> Report {
    let tmp = tempfile::tempdir().unwrap();
    let (old, new) = (
        load(&tmp.path().join("old"), old),
        load(&tmp.path().join("new"), new),
    );
    let networks: Vec<IpNet> = NETS.iter().map(|(n, _)| n.parse().unwrap()).collect();
    let spaces = ClientSpace::from_networks(&networks, &World);
    let health = HealthSnapshot::empty();
    let table = LatencyTable::new(TableConfig::default());
    let inputs = Inputs {
        geo: &World,
        health: &health,
        health_label: "all up",
        latency: LatencyView {
            table: &table,
            now: 0,
        },
        spaces: &spaces,
    };
    compare(&old, &new, &inputs)
}

const BEFORE: &str = r#"EU = ["eu"], AF = ["eu"]"#;

#[test]
fn the_same_zones_change_nothing() {
    let text = zone(BEFORE, (1, 1), "v1");
    let report = run(&text, &text);
    assert!(!report.changed(), "{report:?}");
    assert!(report.to_string().contains("no change"));
}

#[test]
fn a_continent_moved_is_its_share_of_addresses() {
    let report = run(
        &zone(BEFORE, (1, 1), "v1"),
        &zone(r#"EU = ["us"], AF = ["eu"]"#, (1, 1), "v1"),
    );
    assert!(report.changed());
    assert_eq!(report.moves.len(), 1, "{:?}", report.moves);
    let m = &report.moves[0];
    assert_eq!(
        (m.service.as_str(), m.qtype.as_str()),
        ("www.diff.test", "A")
    );
    assert_eq!((m.from.as_str(), m.to.as_str()), ("eu", "us"));
    assert!((m.percent - 25.0).abs() < 1e-9, "{}", m.percent);
    assert_eq!(m.continents, ["EU"]);
    let text = report.to_string();
    assert!(
        text.contains("www.diff.test A: 25.0 % of IPv4 addresses (EU) move from eu to us"),
        "{text}"
    );
}

#[test]
fn two_continents_moved_add_up() {
    let report = run(&zone(BEFORE, (1, 1), "v1"), &zone("", (1, 1), "v1"));
    assert_eq!(report.moves.len(), 1, "{:?}", report.moves);
    assert!((report.moves[0].percent - 75.0).abs() < 1e-9);
    assert_eq!(report.moves[0].continents, ["AF", "EU"]);
}

#[test]
fn weight_changes_and_records_are_reported() {
    let report = run(&zone(BEFORE, (1, 1), "v1"), &zone(BEFORE, (1, 3), "v2"));
    assert!(report.moves.is_empty(), "{:?}", report.moves);
    let shifts: Vec<(&str, f64, f64)> = report
        .weights
        .iter()
        .map(|w| (w.datacenter.as_str(), w.before, w.after))
        .collect();
    assert_eq!(shifts, [("eu", 50.0, 25.0), ("us", 50.0, 75.0)]);
    assert_eq!(report.records.len(), 1);
    let r = &report.records[0];
    assert_eq!(
        (r.name.as_str(), r.rtype.as_str(), r.change),
        ("info.diff.test", "TXT", "changed")
    );
    assert!(r.after[0].contains("v2"));
}

#[test]
fn services_and_datacenters_added_are_listed() {
    let old = zone(BEFORE, (1, 1), "v1");
    let new = format!(
        "{old}[datacenters.ap]\ncoordinates = [1.3, 103.8]\ncountry = \"SG\"\n\
         [pools.ap]\nmembers = [{{ address = \"203.0.113.1\", datacenter = \"ap\" }}]\n\
         [services.extra]\npolicy = \"failover\"\npools = [\"ap\"]\n"
    );
    let report = run(&old, &new);
    assert_eq!(report.services.added, ["extra.diff.test"]);
    assert_eq!(report.datacenters.added, ["ap"]);
    assert!(report.moves.is_empty());
}

#[test]
fn without_a_client_space_a_changed_service_still_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let old = load(&tmp.path().join("old"), &zone(BEFORE, (1, 1), "v1"));
    let new = load(
        &tmp.path().join("new"),
        &zone(r#"EU = ["us"]"#, (1, 1), "v1"),
    );
    let health = HealthSnapshot::empty();
    let table = LatencyTable::new(TableConfig::default());
    let inputs = Inputs {
        geo: &World,
        health: &health,
        health_label: "all up",
        latency: LatencyView {
            table: &table,
            now: 0,
        },
        spaces: &[],
    };
    let report = compare(&old, &new, &inputs);
    assert_eq!(report.unevaluated, ["www.diff.test"]);
    assert!(report.changed());
    assert!(
        report
            .to_string()
            .contains("www.diff.test: changed, not evaluated")
    );
}
