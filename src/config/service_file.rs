//! The serde mirror of a zone file's steering tables: datacenters, checks, pools, services.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use toml::Spanned;

pub(crate) type Named<T> = BTreeMap<Spanned<String>, Spanned<T>>;
pub(crate) type Names = Spanned<Vec<Spanned<String>>>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DatacenterFile {
    /// `[latitude, longitude]` in degrees.
    pub(crate) coordinates: Spanned<Vec<f64>>,
    pub(crate) country: Option<Spanned<String>>,
    pub(crate) continent: Option<Spanned<String>>,
    pub(crate) bias: Option<Spanned<i64>>,
    // --- load-aware steering (compiled in `compile_load.rs`) ---
    pub(crate) capacity: Option<Spanned<f64>>,
    pub(crate) shed_start: Option<Spanned<f64>>,
    pub(crate) shed_full: Option<Spanned<f64>>,
    /// A PromQL query whose first sample is the datacenter's load.
    pub(crate) load_query: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckFile {
    #[serde(rename = "type")]
    pub(crate) kind: Spanned<String>,
    pub(crate) port: Option<Spanned<i64>>,
    pub(crate) interval: Option<Spanned<Seconds>>,
    pub(crate) timeout: Option<Spanned<Seconds>>,
    pub(crate) rise: Option<Spanned<i64>>,
    pub(crate) fall: Option<Spanned<i64>>,
    pub(crate) jitter: Option<Spanned<Seconds>>,
    pub(crate) method: Option<Spanned<String>>,
    pub(crate) path: Option<Spanned<String>>,
    pub(crate) host: Option<Spanned<String>>,
    pub(crate) sni: Option<Spanned<String>>,
    pub(crate) verify_tls: Option<Spanned<bool>>,
    pub(crate) expect_status: Option<Spanned<Vec<Spanned<StatusValue>>>>,
    pub(crate) body_contains: Option<Spanned<String>>,
    pub(crate) max_body: Option<Spanned<i64>>,
    pub(crate) headers: Option<Spanned<BTreeMap<String, String>>>,
    pub(crate) send: Option<Spanned<String>>,
    pub(crate) expect: Option<Spanned<String>>,
    pub(crate) max_reply: Option<Spanned<i64>>,
    /// Cluster mode: this check's quorum rule (`majority`, `all`, `any`, `up_fraction>F`).
    pub(crate) quorum: Option<Spanned<String>>,
    // --- load-aware steering (compiled in `compile_load.rs`) ---
    pub(crate) capacity: Option<Spanned<f64>>,
    pub(crate) shed_start: Option<Spanned<f64>>,
    pub(crate) shed_full: Option<Spanned<f64>>,
    /// The response header holding the load.
    pub(crate) load_header: Option<Spanned<String>>,
    /// The dotted JSON path of the load in the body.
    pub(crate) load_json: Option<Spanned<String>>,
    /// `tcp`: read the reply as an agent-style load report.
    pub(crate) load_agent: Option<Spanned<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PoolFile {
    pub(crate) selection: Option<Spanned<String>>,
    pub(crate) min_healthy: Option<Spanned<i64>>,
    pub(crate) members: Spanned<Vec<Spanned<MemberFile>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MemberFile {
    /// An IPv4 or IPv6 address (A/AAAA services).
    pub(crate) address: Option<Spanned<String>>,
    /// A host name (CNAME services).
    pub(crate) name: Option<Spanned<String>>,
    pub(crate) datacenter: Option<Spanned<String>>,
    pub(crate) weight: Option<Spanned<i64>>,
    pub(crate) check: Option<Spanned<String>>,
    /// Where to probe, `IP` or `IP:PORT`, when it is not the member address.
    pub(crate) probe: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServiceFile {
    pub(crate) policy: Spanned<String>,
    pub(crate) pools: Option<Names>,
    pub(crate) ttl: Option<Spanned<i64>>,
    pub(crate) max_answers: Option<Spanned<i64>>,
    pub(crate) all_down: Option<Spanned<String>>,
    pub(crate) fallback: Option<Names>,
    pub(crate) weight_by: Option<Spanned<String>>,
    pub(crate) mode: Option<Spanned<String>>,
    pub(crate) pool_weights: Option<Named<i64>>,
    pub(crate) geo: Option<Spanned<GeoFile>>,
    pub(crate) latency: Option<Spanned<LatencyFile>>,
}

/// `[services.NAME.latency]`: the `latency` policy's tolerance and tie handling.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LatencyFile {
    pub(crate) tolerance_ms: Option<Spanned<Number>>,
    pub(crate) tolerance_percent: Option<Spanned<Number>>,
    pub(crate) ties: Option<Spanned<String>>,
    pub(crate) min_samples: Option<Spanned<i64>>,
}

/// An integer or a float.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Number(pub f64);

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
pub(crate) struct GeoFile {
    pub(crate) default: Option<Names>,
    pub(crate) continent: Option<Named<Vec<Spanned<String>>>>,
    pub(crate) country: Option<Named<Vec<Spanned<String>>>>,
    pub(crate) subdivision: Option<Named<Vec<Spanned<String>>>>,
    pub(crate) asn: Option<Named<Vec<Spanned<String>>>>,
    pub(crate) cidr: Option<Named<Vec<Spanned<String>>>>,
    /// A file of `PREFIX POOL[,POOL...]` lines, relative to the zone file.
    pub(crate) cidr_file: Option<Spanned<String>>,
}

/// A duration: a number of seconds or a string with a unit (`500ms`, `10s`, `2m`, `1h`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Seconds(pub Result<f64, ()>);

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
pub(crate) enum StatusValue {
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
