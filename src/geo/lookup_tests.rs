//! Lookup tests against the committed test database, the default database and built variants.

use std::net::IpAddr;

use ipnet::IpNet;

use super::fixtures::{build_into, geoip_dir, source};
use super::testdb::{self, Layout, Source};
use super::{Continent, GeoDb, Locate, Location, MmdbReader, country_centroid, country_continent};

fn test_city() -> MmdbReader {
    MmdbReader::open(geoip_dir().join("test-city.mmdb")).expect("test-city.mmdb opens")
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("test address parses")
}

fn loc(
    country: &str,
    continent: Continent,
    subdivision: Option<&str>,
    coordinates: (f64, f64),
    asn: Option<u32>,
    prefix_len: u8,
) -> Location {
    let c = country.as_bytes();
    Location {
        country: Some([c[0], c[1]]),
        continent: Some(continent),
        subdivision: subdivision.map(std::sync::Arc::from),
        coordinates: Some(coordinates),
        asn,
        prefix_len,
    }
}

#[test]
fn test_city_lookups_v4_and_v6() {
    use Continent::*;
    let db = test_city();
    let cases = [
        (
            "192.0.2.1",
            loc("US", NA, Some("CA"), (37.3394, -121.895), Some(64496), 25),
        ),
        // 192.0.2.128/25 is split by the nested /28 at .192, so .130 sits in a /26 leaf.
        (
            "192.0.2.130",
            loc("US", NA, Some("NY"), (40.7128, -74.006), Some(64497), 26),
        ),
        (
            "192.0.2.200",
            loc("CA", NA, Some("QC"), (45.5019, -73.5674), None, 28),
        ),
        (
            "198.51.100.70",
            loc("FR", EU, Some("IDF"), (48.8566, 2.3522), None, 26),
        ),
        (
            "203.0.113.201",
            loc("SG", AS, None, (1.3521, 103.8198), None, 29),
        ),
        // Likewise the nested /29 at .200 leaves .129 in a /26 of 203.0.113.128/25.
        (
            "203.0.113.129",
            loc("AU", OC, Some("NSW"), (-33.8688, 151.2093), Some(64500), 26),
        ),
        (
            "198.19.255.255",
            loc("IN", AS, Some("MH"), (19.076, 72.8777), Some(64502), 16),
        ),
        (
            "8.8.8.8",
            loc("US", NA, Some("CA"), (37.4056, -122.0775), Some(15169), 24),
        ),
        (
            "::ffff:8.8.8.8",
            loc("US", NA, Some("CA"), (37.4056, -122.0775), Some(15169), 24),
        ),
        (
            "41.31.255.255",
            loc("ZA", AF, Some("GP"), (-26.2041, 28.0473), None, 11),
        ),
        (
            "2001:db8:1:1::5",
            loc("FR", EU, Some("IDF"), (48.8566, 2.3522), Some(64504), 64),
        ),
        (
            "2001:db8:2::1",
            loc("JP", AS, Some("27"), (34.6937, 135.5023), None, 48),
        ),
        (
            "2001:db8:ffff::1",
            loc("DE", EU, Some("BE"), (52.52, 13.405), Some(64503), 33),
        ),
        (
            "2804:14c::1",
            loc("BR", SA, Some("SP"), (-23.5505, -46.6333), None, 16),
        ),
    ];
    for (addr, want) in cases {
        assert_eq!(db.locate(ip(addr)), Some(want), "{addr}");
    }
}

#[test]
fn nothing_known_is_none() {
    let db = test_city();
    assert_eq!(db.locate(ip("127.0.0.1")), None);
    assert_eq!(db.locate(IpAddr::V6(testdb::UNLISTED_V6)), None);
}

#[test]
fn country_only_records_fall_back_to_the_country_table() {
    let db = test_city();
    let za = db.locate(ip("198.18.100.1")).expect("ZA entry");
    assert_eq!(za.country_str(), Some("ZA"));
    assert_eq!(za.continent, Some(Continent::AF));
    assert_eq!(za.coordinates, country_centroid(*b"ZA"));
    assert_eq!((za.subdivision, za.asn, za.prefix_len), (None, None, 18));
    let au = db.locate(ip("2404:6800:4003::1")).expect("AU entry");
    assert_eq!(au.continent, Some(Continent::OC));
    assert_eq!(au.coordinates, Some((-25.27, 133.78)));
    assert_eq!(au.prefix_len, 32);
}

/// Leaf prefix in the built tree: the matched network, deepened wherever another network's
/// insertion path splits it.
fn leaf_prefix(source: &Source, addr: IpAddr, matched: IpNet) -> u8 {
    let bits = |a: IpAddr| match a {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)) << 96, 32u32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    };
    let (addr_bits, width) = bits(addr);
    let mut depth = u32::from(matched.prefix_len());
    for net in source.networks.iter().filter_map(|n| n.net().ok()) {
        let (net_bits, net_width) = bits(net.network());
        let common = (addr_bits ^ net_bits).leading_zeros().min(width);
        if net_width == width && common < u32::from(net.prefix_len()) {
            depth = depth.max(common + 1);
        }
    }
    u8::try_from(depth).expect("prefix fits")
}

#[test]
fn committed_test_db_matches_its_source() {
    let source = source();
    let rebuilt = testdb::build(&source, Layout::City).expect("builds");
    let committed = std::fs::read(geoip_dir().join("test-city.mmdb")).expect("committed file");
    assert!(
        rebuilt == committed,
        "geoip/test-city.mmdb is stale: run `cargo run --example build_test_geoip`"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let db = MmdbReader::open(build_into(dir.path(), "city.mmdb", Layout::City, 1))
        .expect("rebuilt db opens");
    for network in &source.networks {
        for addr in testdb::ends(network.net().expect("valid cidr")) {
            let (want, matched) = testdb::longest_match(&source, addr).expect("in source");
            let got = db.locate(addr).expect("known address");
            let country = want
                .country
                .as_deref()
                .map(|c| [c.as_bytes()[0], c.as_bytes()[1]]);
            let coords = want
                .lat
                .zip(want.lon)
                .or_else(|| country.and_then(country_centroid));
            let continent = want.continent.as_deref().and_then(Continent::from_code);
            assert_eq!(got.country, country, "{addr}");
            assert_eq!(
                got.continent,
                continent.or_else(|| country_continent(country?))
            );
            assert_eq!(
                got.subdivision.as_deref(),
                want.subdivision.as_deref(),
                "{addr}"
            );
            assert_eq!(got.coordinates, coords, "{addr}");
            assert_eq!(got.asn, want.asn, "{addr}");
            assert_eq!(
                got.prefix_len,
                leaf_prefix(&source, addr, matched),
                "{addr}"
            );
        }
    }
}

#[test]
fn flat_layout_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = MmdbReader::open(build_into(dir.path(), "flat.mmdb", Layout::Flat, 1)).expect("opens");
    let got = db.locate(ip("2001:db8:3::9")).expect("US entry");
    assert_eq!(got.country_str(), Some("US"));
    assert_eq!(got.continent, Some(Continent::NA), "from the country table");
    assert_eq!(got.subdivision.as_deref(), Some("NY"));
    assert_eq!(got.coordinates, Some((40.7128, -74.006)));
    assert_eq!((got.asn, got.prefix_len), (None, 48));
    let only_country = db.locate(ip("81.2.69.160")).expect("GB entry");
    assert_eq!(only_country.coordinates, country_centroid(*b"GB"));
    assert_eq!(only_country.continent, Some(Continent::EU));
}

#[test]
fn asn_database_is_merged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flat = build_into(dir.path(), "flat.mmdb", Layout::Flat, 1);
    let asn = build_into(dir.path(), "asn.mmdb", Layout::Asn, 1);
    let db = GeoDb::open(flat, Some(asn)).expect("opens");
    let got = db.locate(ip("192.0.2.5")).expect("US entry");
    assert_eq!(
        (got.country_str(), got.asn, got.prefix_len),
        (Some("US"), Some(64496), 25)
    );
    // The ASN database has nothing for 198.51.100.64/26 beyond the /24's AS.
    let fr = db.locate(ip("198.51.100.65")).expect("FR entry");
    assert_eq!(
        (fr.country_str(), fr.asn, fr.prefix_len),
        (Some("FR"), Some(64498), 26)
    );
    let none = db.locate(ip("41.1.1.1")).expect("ZA entry");
    assert_eq!((none.country_str(), none.asn), (Some("ZA"), None));
    assert_eq!(
        db.asn_info().map(|i| i.database_type),
        Some("Meridian-Test-City-ASN".into())
    );
}

#[test]
fn default_database_knows_well_known_addresses() {
    let db = MmdbReader::open(geoip_dir().join("geo-whois-asn-country.mmdb")).expect("opens");
    for (addr, country, continent) in [
        ("8.8.8.8", "US", Continent::NA),
        ("::ffff:8.8.8.8", "US", Continent::NA),
        ("1.1.1.1", "AU", Continent::OC),
        ("193.0.0.1", "NL", Continent::EU),
        ("2001:4860:4860::8888", "US", Continent::NA),
    ] {
        let got = db.locate(ip(addr)).expect("known address");
        assert_eq!(got.country_str(), Some(country), "{addr}");
        assert_eq!(got.continent, Some(continent), "{addr}");
        assert!(got.coordinates.is_some(), "centroid for {addr}");
        let max = if addr.contains(':') && !addr.contains('.') {
            128
        } else {
            32
        };
        assert!(
            (1..=max).contains(&got.prefix_len),
            "{addr}: {}",
            got.prefix_len
        );
    }
}

/// The flat tables answer exactly what the tree walk answers: the same prefix length and
/// location for random IPv4 and IPv6 addresses (seeded) and for both ends of networks.
#[test]
fn network_tables_match_the_tree() {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(20_261_123);
    for name in ["geo-whois-asn-country.mmdb", "test-city.mmdb"] {
        let reader = MmdbReader::open(geoip_dir().join(name)).expect("database opens");
        let mut addrs: Vec<IpAddr> = (0..20_000)
            .map(|_| IpAddr::V4(rng.random::<u32>().into()))
            .collect();
        // IPv6: anywhere, and in 2000::/4 where the allocated networks are, at random
        // lengths so that short and long networks are both hit.
        addrs.extend((0..20_000).map(|i| {
            let bits: u128 = rng.random();
            let bits = if i % 2 == 0 {
                bits
            } else {
                (2u128 << 124) | (bits >> 4)
            };
            let keep = rng.random_range(16..=128u32);
            IpAddr::V6((bits & (u128::MAX << (128 - keep))).into())
        }));
        // Around the networks the test databases name, where boundaries are.
        for base in [
            "81.2.69.0",
            "89.160.20.112",
            "2.125.160.216",
            "216.160.83.56",
        ] {
            let b = u32::from(base.parse::<std::net::Ipv4Addr>().unwrap());
            addrs.extend((0..512).map(|d| IpAddr::V4(b.wrapping_add(d).wrapping_sub(256).into())));
        }
        for base in ["2001:218::", "2a02:cf40::", "2001:480::", "::"] {
            let b = base.parse::<std::net::Ipv6Addr>().unwrap().to_bits();
            addrs.extend((0..128).map(|d| IpAddr::V6((b + (d << 64) + d).into())));
        }
        let tree: Vec<_> = addrs.iter().map(|a| reader.lookup(*a).unwrap()).collect();
        let (v4, v6) = reader.index_networks().expect("tables build");
        assert!(v4 > 0 && v6 > 0, "{name}: {v4} {v6}");
        let mut answered = 0;
        for (a, expected) in addrs.iter().zip(&tree) {
            let got = reader.lookup(*a).unwrap();
            assert_eq!(&got, expected, "{name}: {a}");
            answered += usize::from(expected.1.is_some());
        }
        // The country database covers most of the space; the test City database a few spots.
        assert!(answered > 200, "{name}: only {answered} found");
    }
}

/// The shipped ASN database names the origin AS of well-known networks, in both families.
#[test]
fn shipped_asn_database_knows_well_known_networks() {
    let db = MmdbReader::open(geoip_dir().join("asn.mmdb")).expect("opens");
    for (addr, asn) in [
        ("1.1.1.1", 13335),
        ("8.8.8.8", 15169),
        ("193.0.0.1", 3333),
        ("2001:4860:4860::8888", 15169),
    ] {
        let (prefix, got) = db.lookup_asn(ip(addr)).expect("lookup");
        assert_eq!(got, Some(asn), "{addr}");
        assert!(prefix >= 8, "{addr}: /{prefix}");
    }
    let merged = GeoDb::open(
        geoip_dir().join("geo-whois-asn-country.mmdb"),
        Some(geoip_dir().join("asn.mmdb")),
    )
    .expect("opens");
    let loc = merged.locate(ip("1.1.1.1")).expect("located");
    assert_eq!((loc.country_str(), loc.asn), (Some("AU"), Some(13335)));
}
