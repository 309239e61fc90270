//! Client location: the `Locate` seam and what a lookup yields.

use std::net::IpAddr;

/// Continent codes as GeoIP databases spell them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Continent {
    AF,
    AN,
    AS,
    EU,
    NA,
    OC,
    SA,
}

/// What a GeoIP lookup knows about an address.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Location {
    /// ISO 3166-1 alpha-2, upper case.
    pub country: Option<[u8; 2]>,
    pub continent: Option<Continent>,
    /// ISO 3166-2 subdivision code without the country prefix (e.g. "CA" for US-CA).
    pub subdivision: Option<String>,
    /// Latitude and longitude in degrees.
    pub coordinates: Option<(f64, f64)>,
    pub asn: Option<u32>,
    /// Prefix length of the database network that matched the address.
    pub prefix_len: u8,
}

/// Anything that can place an address on the map.
pub trait Locate: Send + Sync {
    fn locate(&self, addr: IpAddr) -> Option<Location>;
}

/// A locator that knows nothing (no database configured).
pub struct Nowhere;

impl Locate for Nowhere {
    fn locate(&self, _addr: IpAddr) -> Option<Location> {
        None
    }
}
