//! The serde mirror of a zone file's steering tables: datacenters, checks, pools, services.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use toml::Spanned;

pub type Named<T> = BTreeMap<Spanned<String>, Spanned<T>>;
pub type Names = Spanned<Vec<Spanned<String>>>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatacenterFile {
    /// `[latitude, longitude]` in degrees.
    pub coordinates: Spanned<Vec<f64>>,
    pub country: Option<Spanned<String>>,
    pub continent: Option<Spanned<String>>,
    pub bias: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckFile {
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
    pub port: Option<Spanned<i64>>,
    pub interval: Option<Spanned<Seconds>>,
    pub timeout: Option<Spanned<Seconds>>,
    pub rise: Option<Spanned<i64>>,
    pub fall: Option<Spanned<i64>>,
    pub jitter: Option<Spanned<Seconds>>,
    pub method: Option<Spanned<String>>,
    pub path: Option<Spanned<String>>,
    pub host: Option<Spanned<String>>,
    pub sni: Option<Spanned<String>>,
    pub verify_tls: Option<Spanned<bool>>,
    pub expect_status: Option<Spanned<Vec<Spanned<StatusValue>>>>,
    pub body_contains: Option<Spanned<String>>,
    pub max_body: Option<Spanned<i64>>,
    pub headers: Option<Spanned<BTreeMap<String, String>>>,
    pub send: Option<Spanned<String>>,
    pub expect: Option<Spanned<String>>,
    pub max_reply: Option<Spanned<i64>>,
    /// Cluster mode: this check's quorum rule (`majority`, `all`, `any`, `up_fraction>F`).
    pub quorum: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolFile {
    pub selection: Option<Spanned<String>>,
    pub min_healthy: Option<Spanned<i64>>,
    pub members: Spanned<Vec<Spanned<MemberFile>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberFile {
    /// An IPv4 or IPv6 address (A/AAAA services).
    pub address: Option<Spanned<String>>,
    /// A host name (CNAME services).
    pub name: Option<Spanned<String>>,
    pub datacenter: Option<Spanned<String>>,
    pub weight: Option<Spanned<i64>>,
    pub check: Option<Spanned<String>>,
    /// Where to probe, `IP` or `IP:PORT`, when it is not the member address.
    pub probe: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceFile {
    pub policy: Spanned<String>,
    pub pools: Option<Names>,
    pub ttl: Option<Spanned<i64>>,
    pub max_answers: Option<Spanned<i64>>,
    pub all_down: Option<Spanned<String>>,
    pub fallback: Option<Names>,
    pub weight_by: Option<Spanned<String>>,
    pub mode: Option<Spanned<String>>,
    pub pool_weights: Option<Named<i64>>,
    pub geo: Option<Spanned<GeoFile>>,
    pub latency: Option<Spanned<LatencyFile>>,
}

/// `[services.NAME.latency]`: the `latency` policy's tolerance and tie handling.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyFile {
    pub tolerance_ms: Option<Spanned<Number>>,
    pub tolerance_percent: Option<Spanned<Number>>,
    pub ties: Option<Spanned<String>>,
    pub min_samples: Option<Spanned<i64>>,
}

/// An integer or a float.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Number(pub f64);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Number, E> {
                Ok(Number(v))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoFile {
    pub default: Option<Names>,
    pub continent: Option<Named<Vec<Spanned<String>>>>,
    pub country: Option<Named<Vec<Spanned<String>>>>,
    pub subdivision: Option<Named<Vec<Spanned<String>>>>,
    pub asn: Option<Named<Vec<Spanned<String>>>>,
    pub cidr: Option<Named<Vec<Spanned<String>>>>,
    /// A file of `PREFIX POOL[,POOL...]` lines, relative to the zone file.
    pub cidr_file: Option<Spanned<String>>,
}

/// A duration: a number of seconds or a string with a unit (`500ms`, `10s`, `2m`, `1h`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seconds(pub Result<f64, ()>);

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Seconds;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("seconds, or a duration such as \"500ms\", \"10s\", \"2m\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Seconds, E> {
                Ok(Seconds(Ok(v as f64)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Seconds, E> {
                Ok(Seconds(Ok(v as f64)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Seconds, E> {
                Ok(Seconds(Ok(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Seconds, E> {
                Ok(Seconds(parse_duration(v)))
            }
        }
        d.deserialize_any(V)
    }
}

fn parse_duration(text: &str) -> Result<f64, ()> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: f64 = number.parse().map_err(|_| ())?;
    let scale = match unit.trim() {
        "ms" => 0.001,
        "s" | "" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(()),
    };
    Ok(n * scale)
}

/// An expected HTTP status: a code (`200`) or a range (`"200-399"`).
#[derive(Debug, Clone, PartialEq)]
pub enum StatusValue {
    Code(i64),
    Text(String),
}

impl<'de> Deserialize<'de> for StatusValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = StatusValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a status code or a range such as \"200-399\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StatusValue, E> {
                Ok(StatusValue::Code(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StatusValue, E> {
                Ok(StatusValue::Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration("500ms"), Ok(0.5));
        assert_eq!(parse_duration("10s"), Ok(10.0));
        assert_eq!(parse_duration("2m"), Ok(120.0));
        assert_eq!(parse_duration("1.5"), Ok(1.5));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5d").is_err());
    }
}
