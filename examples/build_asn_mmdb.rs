//! Builds `geoip/asn.mmdb` (AS numbers only) from ip-location-db's `asn-ipv4.csv` and `asn-ipv6.csv`.
//!
//! Usage: `cargo run --release --example build_asn_mmdb DIR [OUTPUT] [BUILD_EPOCH]`, where
//! DIR is the `package/` directory of `npm pack @ip-location-db/asn` (see geoip/README.md).
//! Rows are `start,end,asn,organisation` (inclusive ranges); adjacent ranges of the same AS
//! are merged, each range is split into CIDR blocks, and only `autonomous_system_number` is
//! written (no organisation names: a third of the size, and Meridian reads only the number).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};

use anyhow::{Context, bail};
use maxminddb_writer::Database;
use maxminddb_writer::metadata::IpVersion;
use maxminddb_writer::paths::IpAddrWithMask;
use serde::Serialize;

#[derive(Serialize)]
struct AsnRecord {
    autonomous_system_number: u32,
}

/// Inclusive ranges as 128-bit numbers (IPv4 under `::/96`), with their AS number.
fn read(path: &str, v4: bool) -> anyhow::Result<Vec<(u128, u128, u32)>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    let num = |s: &str| -> anyhow::Result<u128> {
        let ip: IpAddr = s.parse().with_context(|| format!("{path}: {s:?}"))?;
        Ok(match ip {
            IpAddr::V4(a) if v4 => u128::from(u32::from(a)),
            IpAddr::V6(a) if !v4 => u128::from(a),
            _ => bail!("{path}: {s:?} is of the wrong family"),
        })
    };
    let mut rows: Vec<(u128, u128, u32)> = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let mut f = line.splitn(4, ',');
        let (Some(a), Some(b), Some(asn)) = (f.next(), f.next(), f.next()) else {
            bail!("{path}: short line {line:?}");
        };
        let (a, b, asn) = (num(a)?, num(b)?, asn.parse::<u32>()?);
        match rows.last_mut() {
            Some(last) if last.2 == asn && last.1.checked_add(1) == Some(a) => last.1 = b,
            _ => rows.push((a, b, asn)),
        }
    }
    Ok(rows)
}

/// The CIDR blocks covering `start..=end` in a `bits`-wide space: (first address, prefix).
fn blocks(mut start: u128, end: u128, bits: u32) -> Vec<(u128, u32)> {
    let mut out = Vec::new();
    loop {
        let mut size = if start == 0 {
            bits
        } else {
            start.trailing_zeros().min(bits)
        };
        while size > 0 && (size == 128 || start + ((1u128 << size) - 1) > end) {
            size -= 1;
        }
        out.push((start, bits - size));
        let last = start
            + if size == 128 {
                u128::MAX
            } else {
                (1u128 << size) - 1
            };
        if last >= end {
            return out;
        }
        start = last + 1;
    }
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        bail!("usage: build_asn_mmdb DIR [OUTPUT] [BUILD_EPOCH]");
    };
    let output = args.next().unwrap_or_else(|| "geoip/asn.mmdb".to_owned());
    let epoch: u64 = args.next().map_or(Ok(0), |s| s.parse())?;
    let mut db = Database::default();
    db.metadata.ip_version = IpVersion::V6;
    "ip-location-db-ASN".clone_into(&mut db.metadata.database_type);
    db.metadata.languages = vec!["en".to_owned()];
    db.metadata.binary_format_major_version = 2;
    db.metadata.build_epoch = epoch;
    db.metadata.description = HashMap::from([(
        "en".to_owned(),
        "AS numbers from ip-location-db asn (RouteViews, NRO, DB-IP; CC BY 4.0)".to_owned(),
    )]);
    let mut values = HashMap::new();
    let mut networks = 0usize;
    for (file, v4) in [("asn-ipv4.csv", true), ("asn-ipv6.csv", false)] {
        let (bits, offset) = if v4 { (32, 96) } else { (128, 0) };
        for (a, b, asn) in read(&format!("{dir}/{file}"), v4)? {
            let data = match values.get(&asn) {
                Some(&d) => d,
                None => {
                    let d = db
                        .insert_value(AsnRecord {
                            autonomous_system_number: asn,
                        })
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    values.insert(asn, d);
                    d
                }
            };
            for (start, len) in blocks(a, b, bits) {
                let addr = IpAddr::V6(Ipv6Addr::from(start));
                let len = u8::try_from(len + offset)?;
                db.insert_node(IpAddrWithMask::new(addr, len), data);
                networks += 1;
            }
        }
    }
    let mut out = Vec::new();
    db.write_to(&mut out).map_err(|e| anyhow::anyhow!("{e}"))?;
    std::fs::write(&output, &out).with_context(|| format!("writing {output}"))?;
    println!(
        "wrote {output}: {networks} networks, {} AS numbers, {} bytes",
        values.len(),
        out.len()
    );
    Ok(())
}
