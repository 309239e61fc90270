//! Converts a flat-layout GeoIP database into a MaxMind Country-layout one for the benchmark.
//!
//! Usage: `cargo run --release --example bench_country_mmdb [INPUT] [OUTPUT] [NETWORKS]`
//! (defaults: `geoip/geo-whois-asn-country.mmdb`, `bench/out/country.mmdb`,
//! `bench/out/networks.txt`).
//!
//! gdnsd's geoip plugin reads only the MaxMind layout (`continent.code`, `country.iso_code`),
//! so both servers in the benchmark get this file. The continent comes from Meridian's own
//! country table. NETWORKS lists every network written, one `CIDR COUNTRY` per line, for the
//! query generator (`bench/gen_queries.py`).

use std::collections::HashMap;
use std::io::Write;
use std::net::IpAddr;

use anyhow::Context;
use maxminddb::{Reader, WithinOptions};
use maxminddb_writer::Database;
use maxminddb_writer::metadata::IpVersion;
use maxminddb_writer::paths::IpAddrWithMask;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct FlatRecord<'a> {
    #[serde(borrow)]
    country_code: Option<&'a str>,
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
struct CountryRecord<'a> {
    continent: Code<'a>,
    country: IsoCode<'a>,
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let input = args
        .next()
        .unwrap_or_else(|| "geoip/geo-whois-asn-country.mmdb".to_owned());
    let output = args
        .next()
        .unwrap_or_else(|| "bench/out/country.mmdb".to_owned());
    let list = args
        .next()
        .unwrap_or_else(|| "bench/out/networks.txt".to_owned());

    let reader = Reader::open_readfile(&input).with_context(|| format!("opening {input}"))?;
    let mut db = Database::default();
    db.metadata.ip_version = IpVersion::V6;
    "GeoLite2-Country".clone_into(&mut db.metadata.database_type);
    db.metadata.languages = vec!["en".to_owned()];
    db.metadata.binary_format_major_version = 2;
    db.metadata.build_epoch = reader.metadata().build_epoch;
    db.metadata.description = HashMap::from([(
        "en".to_owned(),
        format!("Country layout converted from {input} for the Meridian benchmark"),
    )]);

    let file = std::fs::File::create(&list).with_context(|| format!("creating {list}"))?;
    let mut list_out = std::io::BufWriter::new(file);
    let mut values = HashMap::new();
    let (mut written, mut skipped) = (0usize, 0usize);
    let networks = reader
        .networks(WithinOptions::default())
        .with_context(|| format!("iterating {input}"))?;
    for item in networks {
        let item = item.with_context(|| format!("reading {input}"))?;
        let network = item.network().with_context(|| format!("reading {input}"))?;
        let record: Option<FlatRecord> =
            item.decode().with_context(|| format!("decoding {input}"))?;
        let Some(code) = record.and_then(|r| r.country_code) else {
            skipped += 1;
            continue;
        };
        let Some(continent) = country_bytes(code).and_then(meridian::geo::country_continent) else {
            skipped += 1;
            continue;
        };
        let country = code.to_ascii_uppercase();
        let data = match values.get(&country) {
            Some(data) => *data,
            None => {
                let data = db.insert_value(CountryRecord {
                    continent: Code {
                        code: continent.code(),
                    },
                    country: IsoCode { iso_code: &country },
                })?;
                values.insert(country.clone(), data);
                data
            }
        };
        let (addr, prefix) = (network.ip(), network.prefix());
        let path = match addr {
            IpAddr::V4(v4) => IpAddrWithMask::new(IpAddr::V6(v4.to_ipv6_compatible()), prefix + 96),
            IpAddr::V6(_) => IpAddrWithMask::new(addr, prefix),
        };
        db.insert_node(path, data);
        writeln!(list_out, "{addr}/{prefix} {country}")
            .with_context(|| format!("writing {list}"))?;
        written += 1;
    }
    list_out
        .flush()
        .with_context(|| format!("writing {list}"))?;

    let mut image = Vec::new();
    db.write_to(&mut image)?;
    std::fs::write(&output, &image).with_context(|| format!("writing {output}"))?;
    println!(
        "wrote {output}: {written} networks ({skipped} without a known country skipped), {} bytes; list in {list}",
        image.len()
    );
    Ok(())
}

fn country_bytes(code: &str) -> Option<[u8; 2]> {
    code.as_bytes().try_into().ok()
}
