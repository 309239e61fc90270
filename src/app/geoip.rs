//! The GeoIP database the configuration names, opened the same way by `serve` and `explain`.

use anyhow::Context as _;

use crate::config::ServerConfig;
use crate::geo::GeoDb;

/// The configured GeoIP database (with the ASN database when one is set), or `None` when
/// `geoip` is not set.
pub(crate) fn open(config: &ServerConfig) -> anyhow::Result<Option<GeoDb>> {
    if config.geoip.as_os_str().is_empty() {
        return Ok(None);
    }
    let asn = if config.geoip_asn.as_os_str().is_empty() {
        shipped_asn(&config.geoip)
    } else {
        Some(config.geoip_asn.clone())
    };
    let db = GeoDb::open(&config.geoip, asn).context("opening the GeoIP database")?;
    Ok(Some(db))
}

/// The shipped ASN database (`asn.mmdb` beside it) when `geoip` names the shipped country
/// database and that file is present, so neighbour estimates by AS work out of the box.
fn shipped_asn(geoip: &std::path::Path) -> Option<std::path::PathBuf> {
    let shipped = geoip.file_name()? == "geo-whois-asn-country.mmdb";
    let asn = geoip.with_file_name("asn.mmdb");
    (shipped && asn.is_file()).then_some(asn)
}
