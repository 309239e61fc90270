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
    let asn = (!config.geoip_asn.as_os_str().is_empty()).then(|| config.geoip_asn.clone());
    let db = GeoDb::open(&config.geoip, asn).context("opening the GeoIP database")?;
    Ok(Some(db))
}
