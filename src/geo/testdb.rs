//! Builds Meridian's test GeoIP databases from `geoip/test-city.toml` (tests and the example).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};

use ipnet::IpNet;
use maxminddb_writer::Database;
use maxminddb_writer::metadata::IpVersion;
use maxminddb_writer::paths::IpAddrWithMask;
use serde::{Deserialize, Serialize};

/// The whole source file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Source {
    pub(crate) database_type: String,
    pub(crate) description: String,
    pub(crate) build_epoch: u64,
    pub(crate) networks: Vec<Network>,
}

/// One network and what the database should say about it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Network {
    pub(crate) cidr: String,
    pub(crate) country: Option<String>,
    pub(crate) continent: Option<String>,
    pub(crate) subdivision: Option<String>,
    pub(crate) lat: Option<f64>,
    pub(crate) lon: Option<f64>,
    pub(crate) asn: Option<u32>,
}

impl Network {
    /// The parsed network; the source must give it without host bits.
    pub(crate) fn net(&self) -> Result<IpNet, String> {
        let net: IpNet = self
            .cidr
            .parse()
            .map_err(|e| format!("{}: {e}", self.cidr))?;
        if net.trunc() != net {
            return Err(format!("{}: host bits set", self.cidr));
        }
        Ok(net)
    }
}

/// Which record layout to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    /// GeoIP2/GeoLite2 City: `continent.code`, `country.iso_code`, `subdivisions`,
    /// `location`, `traits.autonomous_system_number`.
    City,
    /// ip-location-db / DB-IP lite: `country_code`, `state1`, `latitude`, `longitude`.
    Flat,
    /// GeoLite2-ASN: `autonomous_system_number`, `autonomous_system_organization`.
    Asn,
}

pub(crate) fn parse(text: &str) -> Result<Source, String> {
    toml::from_str(text).map_err(|e| e.to_string())
}

/// The longest-prefix source entry containing `addr` (what a lookup must return).
pub(crate) fn longest_match(source: &Source, addr: IpAddr) -> Option<(&Network, IpNet)> {
    source
        .networks
        .iter()
        .filter_map(|n| n.net().ok().map(|net| (n, net)))
        .filter(|(_, net)| net.contains(&addr))
        .max_by_key(|(_, net)| net.prefix_len())
}

/// Writes the database image: IPv6-structured, IPv4 networks under `::/96`.
pub(crate) fn build(source: &Source, layout: Layout) -> Result<Vec<u8>, String> {
    let mut db = Database::default();
    db.metadata.ip_version = IpVersion::V6;
    db.metadata.database_type = match layout {
        Layout::City => source.database_type.clone(),
        Layout::Flat => format!("{}-Flat", source.database_type),
        Layout::Asn => format!("{}-ASN", source.database_type),
    };
    db.metadata.languages = vec!["en".to_owned()];
    db.metadata.binary_format_major_version = 2;
    db.metadata.build_epoch = source.build_epoch;
    db.metadata.description = HashMap::from([("en".to_owned(), source.description.clone())]);

    let mut entries = Vec::new();
    for network in &source.networks {
        entries.push((tree_path(network.net()?), network));
    }
    // Broader networks first: inserting a narrower one then splits the broader leaf.
    entries.sort_by_key(|(path, _)| path.mask);
    for (path, network) in entries {
        let data = match layout {
            Layout::City => db.insert_value(city_record(network)),
            Layout::Flat => db.insert_value(flat_record(network)),
            Layout::Asn => match network.asn {
                Some(asn) => db.insert_value(asn_record(asn)),
                None => continue,
            },
        };
        db.insert_node(path, data.map_err(|e| e.to_string())?);
    }
    let mut out = Vec::new();
    db.write_to(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

fn tree_path(net: IpNet) -> IpAddrWithMask {
    match net {
        IpNet::V4(v4) => IpAddrWithMask::new(
            IpAddr::V6(v4.addr().to_ipv6_compatible()),
            v4.prefix_len() + 96,
        ),
        IpNet::V6(v6) => IpAddrWithMask::new(IpAddr::V6(v6.addr()), v6.prefix_len()),
    }
}

#[derive(Serialize)]
struct Code<'a> {
    code: &'a str,
}

#[derive(Serialize)]
struct IsoCode<'a> {
    iso_code: &'a str,
}

#[derive(Serialize)]
struct LatLon {
    latitude: f64,
    longitude: f64,
}

#[derive(Serialize)]
struct AsnTraits {
    autonomous_system_number: u32,
}

#[derive(Serialize)]
struct CityRecord<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    continent: Option<Code<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    country: Option<IsoCode<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subdivisions: Option<Vec<IsoCode<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<LatLon>,
    #[serde(skip_serializing_if = "Option::is_none")]
    traits: Option<AsnTraits>,
}

fn lat_lon(network: &Network) -> Option<LatLon> {
    Some(LatLon {
        latitude: network.lat?,
        longitude: network.lon?,
    })
}

fn city_record(network: &Network) -> CityRecord<'_> {
    CityRecord {
        continent: network.continent.as_deref().map(|code| Code { code }),
        country: network
            .country
            .as_deref()
            .map(|iso_code| IsoCode { iso_code }),
        subdivisions: (network.subdivision.as_deref()).map(|iso_code| vec![IsoCode { iso_code }]),
        location: lat_lon(network),
        traits: network.asn.map(|n| AsnTraits {
            autonomous_system_number: n,
        }),
    }
}

#[derive(Serialize)]
struct FlatRecord<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    country_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state1: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    latitude: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    longitude: Option<f64>,
}

fn flat_record(network: &Network) -> FlatRecord<'_> {
    FlatRecord {
        country_code: network.country.as_deref(),
        state1: network.subdivision.as_deref(),
        latitude: network.lat,
        longitude: network.lon,
    }
}

#[derive(Serialize)]
struct AsnRecord {
    autonomous_system_number: u32,
    autonomous_system_organization: String,
}

fn asn_record(asn: u32) -> AsnRecord {
    AsnRecord {
        autonomous_system_number: asn,
        autonomous_system_organization: format!("Test network AS{asn}"),
    }
}

/// The first and last address of a network.
pub(crate) fn ends(net: IpNet) -> [IpAddr; 2] {
    [net.network(), net.broadcast()]
}

/// An address that is not in any test network (for "nothing known" checks).
pub(crate) const UNLISTED_V6: Ipv6Addr = Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 1);
