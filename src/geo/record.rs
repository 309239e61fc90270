//! Borrowed decoding of one GeoIP record (MaxMind City/Country/ASN and flat DB-IP layouts).

use std::fmt;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, SeqAccess, Visitor};

use super::{Continent, Location, country_centroid, country_continent};

/// The fields Meridian reads from either layout; everything else is skipped undecoded.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Record<'a> {
    // MaxMind GeoIP2 / GeoLite2 City and Country layout.
    #[serde(borrow)]
    continent: Option<Coded<'a>>,
    #[serde(borrow)]
    country: Option<Coded<'a>>,
    #[serde(borrow)]
    registered_country: Option<Coded<'a>>,
    #[serde(borrow)]
    subdivisions: Option<FirstSubdivision<'a>>,
    location: Option<Coordinates>,
    traits: Option<Traits>,
    // Flat layout (ip-location-db, DB-IP lite).
    #[serde(borrow)]
    country_code: Option<&'a str>,
    #[serde(borrow)]
    state1: Option<&'a str>,
    latitude: Option<Number>,
    longitude: Option<Number>,
    // GeoLite2-ASN and flat ASN layouts.
    autonomous_system_number: Option<Asn>,
}

/// A nested object with a `code` (continent) or `iso_code` (country, subdivision).
#[derive(Debug, Default, Deserialize)]
struct Coded<'a> {
    #[serde(borrow)]
    code: Option<&'a str>,
    #[serde(borrow)]
    iso_code: Option<&'a str>,
}

impl<'a> Coded<'a> {
    fn get(&self) -> Option<&'a str> {
        self.iso_code.or(self.code)
    }
}

/// A subdivision: its ISO code, else its English name (DB-IP lite has names only).
#[derive(Debug, Default, Deserialize)]
struct Subdivision<'a> {
    #[serde(borrow)]
    iso_code: Option<&'a str>,
    #[serde(borrow)]
    names: Option<English<'a>>,
}

#[derive(Debug, Default, Deserialize)]
struct English<'a> {
    #[serde(borrow)]
    en: Option<&'a str>,
}

#[derive(Debug, Default, Deserialize)]
struct Coordinates {
    latitude: Option<Number>,
    longitude: Option<Number>,
}

#[derive(Debug, Default, Deserialize)]
struct Traits {
    autonomous_system_number: Option<Asn>,
}

impl Record<'_> {
    /// The location this record describes, with table fallbacks; `None` if it says nothing.
    pub(super) fn to_location(&self, prefix_len: u8) -> Option<Location> {
        let country = [self.country.as_ref(), self.registered_country.as_ref()]
            .into_iter()
            .flatten()
            .find_map(|c| c.get().and_then(parse_country))
            .or_else(|| self.country_code.and_then(parse_country));
        let continent = self
            .continent
            .as_ref()
            .and_then(Coded::get)
            .and_then(Continent::from_code)
            .or_else(|| country.and_then(country_continent));
        let location = Location {
            country,
            continent,
            subdivision: self.subdivision().map(Arc::from),
            coordinates: self
                .coordinates()
                .or_else(|| country.and_then(country_centroid)),
            asn: self.asn(),
            prefix_len,
        };
        let known = location.country.is_some()
            || location.continent.is_some()
            || location.coordinates.is_some()
            || location.asn.is_some();
        known.then_some(location)
    }

    /// The autonomous system number, from either layout.
    pub(super) fn asn(&self) -> Option<u32> {
        self.autonomous_system_number
            .or_else(|| {
                self.traits
                    .as_ref()
                    .and_then(|t| t.autonomous_system_number)
            })
            .map(|Asn(n)| n)
    }

    fn subdivision(&self) -> Option<&str> {
        let code = self.subdivisions.as_ref().and_then(|s| s.0);
        code.or(self.state1)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    fn coordinates(&self) -> Option<(f64, f64)> {
        let (lat, lon) = match &self.location {
            Some(Coordinates {
                latitude: Some(lat),
                longitude: Some(lon),
            }) => (lat, lon),
            _ => (self.latitude.as_ref()?, self.longitude.as_ref()?),
        };
        let valid = (-90.0..=90.0).contains(&lat.0) && (-180.0..=180.0).contains(&lon.0);
        valid.then_some((lat.0, lon.0))
    }
}

/// Two ASCII letters, upper-cased; anything else is ignored.
fn parse_country(code: &str) -> Option<[u8; 2]> {
    match code.as_bytes() {
        [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
            Some([a.to_ascii_uppercase(), b.to_ascii_uppercase()])
        }
        _ => None,
    }
}

/// The code (or name) of the first element of `subdivisions`, without collecting the array.
#[derive(Debug, Default)]
struct FirstSubdivision<'a>(Option<&'a str>);

impl<'de: 'a, 'a> Deserialize<'de> for FirstSubdivision<'a> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct First<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for First<'a> {
            type Value = FirstSubdivision<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of subdivisions")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let first: Option<Subdivision<'a>> = seq.next_element()?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                let name = |s: Subdivision<'a>| s.iso_code.or(s.names.and_then(|n| n.en));
                Ok(FirstSubdivision(first.and_then(name)))
            }
        }
        deserializer.deserialize_seq(First(std::marker::PhantomData))
    }
}

/// A coordinate stored as double, float, integer or numeric string.
#[derive(Debug, Clone, Copy)]
struct Number(f64);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Number, E> {
                Ok(Number(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Number, E> {
                v.trim().parse().map(Number).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// An AS number stored as any unsigned width (or a decimal string).
#[derive(Debug, Clone, Copy)]
struct Asn(u32);

impl<'de> Deserialize<'de> for Asn {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Asn;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an AS number")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Asn, E> {
                u32::try_from(v).map(Asn).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Asn, E> {
                u32::try_from(v).map(Asn).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Asn, E> {
                let digits = v.trim().trim_start_matches("AS");
                digits.parse().map(Asn).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
