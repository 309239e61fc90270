//! The serde mirror of a zone policy file, with spans kept for error messages.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use toml::Spanned;

use super::service_file::{CheckFile, DatacenterFile, Named, PoolFile, ServiceFile};

/// Largest TTL allowed by RFC 2181.
pub(crate) const MAX_TTL: i64 = 2_147_483_647;

/// One zone policy file, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ZoneFile {
    pub(crate) origin: Spanned<String>,
    pub(crate) ttl: Option<Spanned<i64>>,
    pub(crate) ns: Option<Spanned<Vec<Spanned<String>>>>,
    pub(crate) soa: Option<Spanned<SoaFile>>,
    #[serde(default)]
    pub(crate) records: BTreeMap<Spanned<String>, Spanned<NameFile>>,
    #[serde(default)]
    pub(crate) datacenters: Named<DatacenterFile>,
    #[serde(default)]
    pub(crate) checks: Named<CheckFile>,
    #[serde(default)]
    pub(crate) pools: Named<PoolFile>,
    #[serde(default)]
    pub(crate) services: Named<ServiceFile>,
    pub(crate) dnssec: Option<Spanned<DnssecFile>>,
}

/// `[dnssec]`: the zone's signing keys and settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DnssecFile {
    pub(crate) algorithm: Option<Spanned<String>>,
    pub(crate) csk: Option<Spanned<String>>,
    pub(crate) ksk: Option<Spanned<String>>,
    pub(crate) zsk: Option<Spanned<String>>,
    pub(crate) signature_validity_days: Option<Spanned<i64>>,
    pub(crate) refresh_days: Option<Spanned<i64>>,
    pub(crate) cds: Option<bool>,
    pub(crate) enabled: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SoaFile {
    pub(crate) mname: Spanned<String>,
    pub(crate) rname: Spanned<String>,
    pub(crate) serial: Spanned<i64>,
    pub(crate) refresh: Option<Spanned<i64>>,
    pub(crate) retry: Option<Spanned<i64>>,
    pub(crate) expire: Option<Spanned<i64>>,
    pub(crate) minimum: Option<Spanned<i64>>,
    pub(crate) ttl: Option<Spanned<i64>>,
}

/// The static records at one name: one key per record type.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NameFile {
    pub(crate) ttl: Option<Spanned<i64>>,
    #[serde(rename = "A")]
    pub(crate) a: Option<Spanned<RdataList>>,
    #[serde(rename = "AAAA")]
    pub(crate) aaaa: Option<Spanned<RdataList>>,
    #[serde(rename = "CNAME")]
    pub(crate) cname: Option<Spanned<RdataList>>,
    #[serde(rename = "MX")]
    pub(crate) mx: Option<Spanned<RdataList>>,
    #[serde(rename = "TXT")]
    pub(crate) txt: Option<Spanned<RdataList>>,
    #[serde(rename = "SRV")]
    pub(crate) srv: Option<Spanned<RdataList>>,
    #[serde(rename = "CAA")]
    pub(crate) caa: Option<Spanned<RdataList>>,
    #[serde(rename = "PTR")]
    pub(crate) ptr: Option<Spanned<RdataList>>,
    #[serde(rename = "NS")]
    pub(crate) ns: Option<Spanned<RdataList>>,
}

/// One record's data: a presentation-format string, or (for TXT) a list of strings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Rdata {
    Text(String),
    Strings(Vec<String>),
}

/// The data of an RRset: one value or an array, each item with its span when known.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct RdataList(pub Vec<(Option<std::ops::Range<usize>>, Rdata)>);

impl<'de> Deserialize<'de> for Rdata {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Rdata;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Rdata, E> {
                Ok(Rdata::Text(s.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Rdata, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(Rdata::Strings(out))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for RdataList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RdataList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or an array of record data")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RdataList, E> {
                Ok(RdataList(vec![(None, Rdata::Text(s.to_string()))]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RdataList, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<Rdata>>()? {
                    let span = item.span();
                    out.push((Some(span), item.into_inner()));
                }
                Ok(RdataList(out))
            }
        }
        d.deserialize_any(V)
    }
}
