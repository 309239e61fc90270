//! Client location: the `Locate` seam, what a lookup yields, and the GeoIP readers behind it.

mod countries;
mod db;
mod error;
#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod lookup_tests;
mod maxmind;
mod record;
mod search_tree;
mod table;
#[cfg(test)]
mod testdb;

use std::net::IpAddr;
use std::sync::Arc;

pub use countries::{all_countries, country_centroid, country_continent};
pub use db::{DatabaseInfo, GeoDb};
pub(crate) use error::GeoError;
pub(crate) use maxmind::MmdbReader;

/// Continent codes as GeoIP databases spell them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Continent {
    /// Africa.
    AF,
    /// Antarctica.
    AN,
    /// Asia.
    AS,
    /// Europe.
    EU,
    /// North America.
    NA,
    /// Oceania.
    OC,
    /// South America.
    SA,
}

impl Continent {
    /// Parses a two-letter continent code (`"EU"`, `"na"`); `None` for anything else.
    pub(crate) fn from_code(code: &str) -> Option<Self> {
        match code.as_bytes() {
            [a, b] => match [a.to_ascii_uppercase(), b.to_ascii_uppercase()] {
                [b'A', b'F'] => Some(Self::AF),
                [b'A', b'N'] => Some(Self::AN),
                [b'A', b'S'] => Some(Self::AS),
                [b'E', b'U'] => Some(Self::EU),
                [b'N', b'A'] => Some(Self::NA),
                [b'O', b'C'] => Some(Self::OC),
                [b'S', b'A'] => Some(Self::SA),
                _ => None,
            },
            _ => None,
        }
    }

    /// The two-letter code, upper case.
    pub fn code(self) -> &'static str {
        match self {
            Self::AF => "AF",
            Self::AN => "AN",
            Self::AS => "AS",
            Self::EU => "EU",
            Self::NA => "NA",
            Self::OC => "OC",
            Self::SA => "SA",
        }
    }
}

/// What a GeoIP lookup knows about an address.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Location {
    /// ISO 3166-1 alpha-2, upper case.
    pub(crate) country: Option<[u8; 2]>,
    /// From the database, else derived from `country`.
    pub(crate) continent: Option<Continent>,
    /// ISO 3166-2 subdivision code without the country prefix (e.g. "CA" for US-CA) from
    /// MaxMind-layout databases; flat-layout databases (DB-IP lite) give the region name
    /// (`state1`, e.g. "California") instead.
    pub(crate) subdivision: Option<Arc<str>>,
    /// Latitude and longitude in degrees; the country centroid when the database has none.
    pub(crate) coordinates: Option<(f64, f64)>,
    pub(crate) asn: Option<u32>,
    /// Prefix length of the database network that matched the address (the IPv4 prefix
    /// length for IPv4 clients, even in IPv6-structured databases). With a separate ASN
    /// database it is the longer of the two matched prefixes.
    pub(crate) prefix_len: u8,
}

impl Location {
    /// The country as text (`"US"`), if known.
    pub fn country_str(&self) -> Option<&str> {
        self.country
            .as_ref()
            .and_then(|c| std::str::from_utf8(c).ok())
    }
}

/// Anything that can place an address on the map.
pub trait Locate: Send + Sync {
    /// `None` when nothing is known about the address.
    fn locate(&self, addr: IpAddr) -> Option<Location>;

    /// Start fetching what `locate` will read for each of `addrs`, so a batch of lookups
    /// waits for memory once rather than once per address (a hint; nothing by default).
    fn prefetch(&self, _addrs: &[IpAddr]) {}

    /// Changes whenever the answers may have changed (a database reload); 0 for
    /// locators that never change. Whoever caches locations compares it.
    fn generation(&self) -> u64 {
        0
    }
}

/// A locator that knows nothing (no database configured).
pub struct Nowhere;

impl Locate for Nowhere {
    fn locate(&self, _addr: IpAddr) -> Option<Location> {
        None
    }
}
