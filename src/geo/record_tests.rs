//! Decoding records of every shape through a one-network database.

use std::collections::BTreeMap;

use serde::Serialize;

use super::super::{Locate, MmdbReader};
use super::*;

/// A one-network database (198.51.100.0/24) whose record is `value`.
fn reader_with<T: Serialize>(value: T) -> MmdbReader {
    let mut db = maxminddb_writer::Database::default();
    db.metadata.binary_format_major_version = 2;
    db.metadata.database_type = "Record-Test".into();
    let data = db.insert_value(value).expect("serialises");
    let net: maxminddb_writer::paths::IpAddrWithMask = "198.51.100.0/24".parse().expect("net");
    db.insert_node(net, data);
    let bytes = db.write_to(Vec::new()).expect("writes");
    MmdbReader::from_static(Box::leak(bytes.into_boxed_slice()), "record-test").expect("opens")
}

fn locate<T: Serialize>(value: T) -> Option<Location> {
    reader_with(value).locate("198.51.100.7".parse().expect("address"))
}

#[derive(Serialize)]
struct Names {
    en: &'static str,
    de: &'static str,
}

#[derive(Serialize)]
struct NamedSubdivision {
    geoname_id: u32,
    names: Names,
}

#[derive(Serialize)]
struct Registered {
    iso_code: &'static str,
    names: Names,
}

#[derive(Serialize)]
struct DbipLike {
    registered_country: Registered,
    subdivisions: Vec<NamedSubdivision>,
    city: BTreeMap<&'static str, u32>,
}

#[test]
fn names_only_subdivision_and_registered_country() {
    let got = locate(DbipLike {
        registered_country: Registered {
            iso_code: "de",
            names: Names {
                en: "Germany",
                de: "Deutschland",
            },
        },
        subdivisions: vec![
            NamedSubdivision {
                geoname_id: 1,
                names: Names {
                    en: "Hesse",
                    de: "Hessen",
                },
            },
            NamedSubdivision {
                geoname_id: 2,
                names: Names {
                    en: "Other",
                    de: "Andere",
                },
            },
        ],
        city: BTreeMap::from([("geoname_id", 7)]),
    })
    .expect("known");
    assert_eq!(got.country_str(), Some("DE"));
    assert_eq!(got.continent, Some(Continent::EU));
    assert_eq!(got.subdivision.as_deref(), Some("Hesse"));
    assert_eq!(got.coordinates, country_centroid(*b"DE"));
    assert_eq!(got.prefix_len, 24);
}

#[derive(Serialize)]
struct FlatOddTypes {
    country_code: &'static str,
    latitude: f32,
    longitude: &'static str,
    autonomous_system_number: u16,
}

#[test]
fn numbers_of_any_width_are_accepted() {
    let got = locate(FlatOddTypes {
        country_code: "JP",
        latitude: 35.5,
        longitude: "139.25",
        autonomous_system_number: 2516,
    })
    .expect("known");
    assert_eq!(got.coordinates, Some((35.5, 139.25)));
    assert_eq!(got.asn, Some(2516));
}

#[derive(Serialize)]
struct BadValues {
    country_code: &'static str,
    latitude: f64,
    longitude: f64,
}

#[test]
fn out_of_range_coordinates_and_bad_codes_are_dropped() {
    let got = locate(BadValues {
        country_code: "FR",
        latitude: 123.0,
        longitude: 2.0,
    });
    assert_eq!(got.and_then(|l| l.coordinates), country_centroid(*b"FR"));
    let got = locate(BadValues {
        country_code: "France",
        latitude: 1.0,
        longitude: 2.0,
    });
    assert_eq!(
        got.map(|l| (l.country, l.coordinates)),
        Some((None, Some((1.0, 2.0))))
    );
}

#[test]
fn wrongly_typed_records_fail_the_sanity_lookup() {
    let mut db = maxminddb_writer::Database::default();
    db.metadata.binary_format_major_version = 2;
    let data = db.insert_value(BTreeMap::from([("country", "US")]));
    let net: maxminddb_writer::paths::IpAddrWithMask = "10.0.0.0/8".parse().expect("net");
    db.insert_node(net, data.expect("serialises"));
    let bytes = db.write_to(Vec::new()).expect("writes");
    let error = MmdbReader::from_static(Box::leak(bytes.into_boxed_slice()), "typed-test")
        .expect_err("refused");
    assert!(error.to_string().contains("typed-test"), "{error}");
}
