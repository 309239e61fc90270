//! The `geo` policy's map from client location to pool lists, and the key a match used.

use rustc_hash::FxHashMap;
use std::fmt;
use std::sync::Arc;

use ipnet::IpNet;

use crate::geo::{Continent, Location};

use super::cidr::{CidrMap, PoolList};
use super::model::PoolId;

/// An ISO 3166-2 subdivision key such as `US-CA` (code of 1 to 3 letters or digits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Subdivision {
    country: [u8; 2],
    code: [u8; 3],
}

impl Subdivision {
    /// From a country and a code without the country prefix (as in [`Location`]).
    pub(crate) fn new(country: [u8; 2], code: &str) -> Option<Self> {
        let bytes = code.as_bytes();
        if !(1..=3).contains(&bytes.len())
            || !bytes.iter().all(u8::is_ascii_alphanumeric)
            || !country.iter().all(u8::is_ascii_alphabetic)
        {
            return None;
        }
        let mut out = [0u8; 3];
        for (o, b) in out.iter_mut().zip(bytes) {
            *o = b.to_ascii_uppercase();
        }
        Some(Self {
            country: country.map(|c| c.to_ascii_uppercase()),
            code: out,
        })
    }

    /// Parses `US-CA` (case-insensitive).
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (country, code) = text.split_once('-')?;
        Self::new(country.as_bytes().try_into().ok()?, code)
    }
}

impl fmt::Display for Subdivision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code: String = self
            .code
            .iter()
            .take_while(|&&b| b != 0)
            .map(|&b| char::from(b))
            .collect();
        write!(
            f,
            "{}{}-{code}",
            char::from(self.country[0]),
            char::from(self.country[1])
        )
    }
}

/// Client location → ordered pool list. Lookup order, most specific first: CIDR prefix
/// (longest match), ASN, subdivision, country, continent, then `default`. The first key
/// that matches decides; its pools are tried in order (later ones are failover) and the
/// search never falls through to a less specific key because pools are down.
#[derive(Clone, Debug, Default)]
pub struct GeoMap {
    /// Prefix map, usually loaded from a file next to the zone ([`super::cidr_file`]).
    pub(crate) cidr: Option<Arc<CidrMap>>,
    pub(crate) asn: FxHashMap<u32, PoolList>,
    pub(crate) subdivision: FxHashMap<Subdivision, PoolList>,
    /// ISO 3166-1 alpha-2, upper case.
    pub(crate) country: FxHashMap<[u8; 2], PoolList>,
    pub(crate) continent: FxHashMap<Continent, PoolList>,
    /// Pools for clients nothing else matches (also unlocated clients).
    pub(crate) default: PoolList,
}

/// Which map entry matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum GeoKey {
    Cidr(IpNet),
    Asn(u32),
    Subdivision(Subdivision),
    Country([u8; 2]),
    Continent(Continent),
    Default,
}

impl fmt::Display for GeoKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GeoKey::Cidr(net) => write!(f, "CIDR {net}"),
            GeoKey::Asn(asn) => write!(f, "AS{asn}"),
            GeoKey::Subdivision(s) => write!(f, "subdivision {s}"),
            GeoKey::Country(c) => write!(f, "country {}", String::from_utf8_lossy(c)),
            GeoKey::Continent(c) => write!(f, "continent {c:?}"),
            GeoKey::Default => write!(f, "default"),
        }
    }
}

impl GeoMap {
    /// Whether any entry is keyed by a GeoIP attribute (otherwise no lookup is needed).
    pub(crate) fn uses_location(&self) -> bool {
        !(self.asn.is_empty()
            && self.subdivision.is_empty()
            && self.country.is_empty()
            && self.continent.is_empty())
    }

    /// The most specific location entry matching `loc` (CIDR aside).
    pub(crate) fn match_location(&self, loc: &Location) -> (GeoKey, &[PoolId]) {
        let asn = loc
            .asn
            .and_then(|a| Some((GeoKey::Asn(a), self.asn.get(&a)?)));
        let sub = || {
            let s = Subdivision::new(loc.country?, loc.subdivision.as_deref()?)?;
            Some((GeoKey::Subdivision(s), self.subdivision.get(&s)?))
        };
        let country = || {
            loc.country
                .and_then(|c| Some((GeoKey::Country(c), self.country.get(&c)?)))
        };
        let continent = || {
            let c = loc.continent?;
            Some((GeoKey::Continent(c), self.continent.get(&c)?))
        };
        asn.or_else(sub)
            .or_else(country)
            .or_else(continent)
            .map_or((GeoKey::Default, &self.default[..]), |(k, l)| (k, &l[..]))
    }
}
