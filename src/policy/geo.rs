//! The `geo` policy map: CIDR > ASN > subdivision > country > continent > default, and its scope.

use rustc_hash::FxHashMap;
use std::fmt;
use std::sync::Arc;

use ipnet::IpNet;
use rand::Rng;

use crate::geo::{Continent, Locate, Location};

use super::addr_bits::{from_bits, mask, to_bits};
use super::cidr::{CidrMap, PoolList};
use super::eval::Eval;
use super::explain::{Event, ScopeInput};
use super::model::PoolId;

/// An ISO 3166-2 subdivision key such as `US-CA` (code of 1 to 3 letters or digits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Subdivision {
    country: [u8; 2],
    code: [u8; 3],
}

impl Subdivision {
    /// From a country and a code without the country prefix (as in [`Location`]).
    pub fn new(country: [u8; 2], code: &str) -> Option<Self> {
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
    pub fn parse(text: &str) -> Option<Self> {
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
    pub cidr: Option<Arc<CidrMap>>,
    pub asn: FxHashMap<u32, PoolList>,
    pub subdivision: FxHashMap<Subdivision, PoolList>,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: FxHashMap<[u8; 2], PoolList>,
    pub continent: FxHashMap<Continent, PoolList>,
    /// Pools for clients nothing else matches (also unlocated clients).
    pub default: PoolList,
}

/// Which map entry matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GeoKey {
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
    pub fn uses_location(&self) -> bool {
        !(self.asn.is_empty()
            && self.subdivision.is_empty()
            && self.country.is_empty()
            && self.continent.is_empty())
    }

    /// The most specific location entry matching `loc` (CIDR aside).
    pub fn match_location(&self, loc: &Location) -> (GeoKey, &[PoolId]) {
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

/// Picks the client's pool list, recording the scope the match relies on.
pub(super) fn choose<'a, R: Rng + ?Sized>(
    map: &'a GeoMap,
    ev: &mut Eval<'a, '_, R>,
    geo: &dyn Locate,
) -> &'a [PoolId] {
    let addr = ev.client.addr;
    if let Some(cidr) = map.cidr.as_deref() {
        let hit = cidr.lookup(addr);
        if let Some((len, pools)) = hit.matched {
            ev.need(ScopeInput::CidrEntry, hit.scope);
            note_match(
                ev,
                || {
                    let (bits, width) = to_bits(addr);
                    let net = IpNet::new(from_bits(mask(bits, width, len), width), len);
                    GeoKey::Cidr(net.unwrap_or_else(|_| IpNet::from(addr)))
                },
                pools,
            );
            return pools;
        }
        if hit.scope > 0 {
            ev.need(ScopeInput::CidrNeighbours, hit.scope);
        }
    }
    if !map.uses_location() {
        note_match(ev, || GeoKey::Default, &map.default);
        return &map.default;
    }
    let Some(loc) = ev.locate(geo) else {
        note_match(ev, || GeoKey::Default, &map.default);
        return &map.default;
    };
    let (key, pools) = map.match_location(&loc);
    note_match(ev, || key, pools);
    pools
}

fn note_match<R: Rng + ?Sized>(
    ev: &mut Eval<'_, '_, R>,
    key: impl FnOnce() -> GeoKey,
    pools: &[PoolId],
) {
    let service = ev.service;
    ev.note(|| Event::Matched {
        key: key(),
        pools: pools
            .iter()
            .map(|&p| {
                service
                    .pool(p)
                    .map_or_else(|| Arc::from("(invalid pool)"), |p| p.name.clone())
            })
            .collect(),
    });
}
