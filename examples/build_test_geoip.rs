//! Rebuilds the test GeoIP database `geoip/test-city.mmdb` from `geoip/test-city.toml`.
//!
//! Usage: `cargo run --example build_test_geoip [city|flat|asn] [OUTPUT]`
//! (default: `city` into `geoip/test-city.mmdb`). The `flat` and `asn` layouts write the same
//! networks in the DB-IP lite and GeoLite2-ASN layouts, for trying those readers by hand.

#[allow(dead_code)]
#[path = "../src/geo/testdb.rs"]
mod testdb;

use anyhow::{Context, bail};

const SOURCE: &str = "geoip/test-city.toml";

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let layout = match args.next().as_deref() {
        None | Some("city") => testdb::Layout::City,
        Some("flat") => testdb::Layout::Flat,
        Some("asn") => testdb::Layout::Asn,
        Some(other) => bail!("unknown layout {other:?} (expected city, flat or asn)"),
    };
    let output = args
        .next()
        .unwrap_or_else(|| "geoip/test-city.mmdb".to_owned());
    let text = std::fs::read_to_string(SOURCE).with_context(|| format!("reading {SOURCE}"))?;
    let source = testdb::parse(&text)
        .map_err(anyhow::Error::msg)
        .context(SOURCE)?;
    let image = testdb::build(&source, layout)
        .map_err(anyhow::Error::msg)
        .context(SOURCE)?;
    std::fs::write(&output, &image).with_context(|| format!("writing {output}"))?;
    println!(
        "wrote {output}: {} networks, {} bytes",
        source.networks.len(),
        image.len()
    );
    Ok(())
}
