//! The cluster's keys and values in etcd: layout, versioned JSON records, and strict parsing of what others wrote.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::config::cluster::is_label;
use crate::health::state::Observed;
use crate::health::{Forced, Selector};
use crate::load::{Observation, Sample, Source};

/// The record format this build writes; values with a higher `v` are ignored.
pub(crate) const FORMAT: u32 = 1;

/// What a key under the cluster's prefix names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Key {
    /// `members/<instance>`: an instance's registration, under its lease.
    Member(Arc<str>),
    /// `votes/<instance>/<target>`: an instance's verdict on a target, under its lease.
    Vote(Arc<str>, Arc<str>),
    /// `overrides/<selector>`: an operator override for the whole cluster.
    Override(Selector),
    /// `load/<instance>/<selector>`: a load value an instance observed, under its lease;
    /// the selector is `ADDRESS/CHECK` or `datacenter:NAME`.
    Load(Arc<str>, Arc<str>),
}

/// Why a key or value was ignored: the `reason` label of `meridian_cluster_ignored_values_total`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Ignored {
    #[error("not JSON of the expected shape: {0}")]
    Garbage(String),
    #[error("a key this version does not use")]
    ForeignKey,
    #[error("written by a newer format (v{0})")]
    FutureVersion(u32),
    #[error("{0}")]
    Invalid(String),
}

impl Ignored {
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Ignored::Garbage(_) => "garbage",
            Ignored::ForeignKey => "foreign_key",
            Ignored::FutureVersion(_) => "future_version",
            Ignored::Invalid(_) => "invalid",
        }
    }
}

/// `members/<instance>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MemberRecord {
    pub(crate) v: u32,
    pub(crate) instance: String,
    pub(crate) version: String,
    pub(crate) region: String,
    pub(crate) started_unix_ms: u64,
    /// SHA-256 of the compiled zones' sources (hex), to spot configuration drift.
    pub(crate) zone_digest: String,
}

/// `votes/<instance>/<target>`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct VoteRecord {
    pub(crate) v: u32,
    pub(crate) state: Observed,
    pub(crate) since_unix_ms: u64,
    pub(crate) reason: Option<String>,
    pub(crate) rtt_ms: Option<f64>,
}

/// `overrides/<selector>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OverrideRecord {
    pub(crate) v: u32,
    pub(crate) selector: String,
    pub(crate) state: Forced,
    /// Who asked (free text from the request, else the admin API of `instance`).
    pub(crate) who: String,
    pub(crate) reason: String,
    pub(crate) set_at_unix_ms: u64,
    /// When it clears itself; the key also carries an etcd lease of that length.
    pub(crate) expires_unix_ms: Option<u64>,
    /// The instance whose API stored it.
    pub(crate) instance: String,
}

/// `load/<instance>/<selector>`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct LoadRecord {
    pub(crate) v: u32,
    /// `value` (in the reporter's unit), `percent` (of capacity) or `saturated`.
    pub(crate) kind: String,
    pub(crate) value: f64,
    /// `probe`, `api` or `prometheus`: where the observing instance got it.
    pub(crate) source: String,
    /// When it was observed (Unix ms, the observer's clock).
    pub(crate) observed_at_ms: u64,
    /// When it stops counting (Unix ms).
    pub(crate) expires_at_ms: u64,
}

impl LoadRecord {
    pub(crate) fn new(o: &Observation) -> Self {
        let (kind, value) = match o.sample {
            Sample::Value(v) => ("value", v),
            Sample::Percent(p) => ("percent", p),
            Sample::Saturated => ("saturated", 0.0),
        };
        Self {
            v: FORMAT,
            kind: kind.into(),
            value,
            source: o.source.to_string(),
            observed_at_ms: o.observed_unix_ms,
            expires_at_ms: o.expires_unix_ms,
        }
    }

    /// The observation it carries for `selector`; `Err` for values no instance writes.
    pub(crate) fn observation(&self, selector: &str) -> Result<Observation, Ignored> {
        let invalid = |why: &str| Err(Ignored::Invalid(format!("load value: {why}")));
        if !(self.value.is_finite() && self.value >= 0.0) {
            return invalid("not a non-negative number");
        }
        let sample = match self.kind.as_str() {
            "value" => Sample::Value(self.value),
            "percent" => Sample::Percent(self.value),
            "saturated" => Sample::Saturated,
            _ => return invalid("unknown kind"),
        };
        let Some(source @ (Source::Probe | Source::Api | Source::Prometheus)) =
            Source::from_name(&self.source)
        else {
            return invalid("unknown source");
        };
        if self.expires_at_ms <= self.observed_at_ms {
            return invalid("expires before it was observed");
        }
        Ok(Observation {
            selector: selector.to_owned(),
            sample,
            source,
            observed_unix_ms: self.observed_at_ms,
            expires_unix_ms: self.expires_at_ms,
        })
    }
}

/// The key of `key` relative to `prefix`; `Err` for anything this version does not write.
pub(crate) fn parse_key(prefix: &str, key: &[u8]) -> Result<Key, Ignored> {
    let key = std::str::from_utf8(key).map_err(|_| Ignored::ForeignKey)?;
    let rest = key.strip_prefix(prefix).ok_or(Ignored::ForeignKey)?;
    let (kind, rest) = rest.split_once('/').ok_or(Ignored::ForeignKey)?;
    match kind {
        "members" if is_label(rest) => Ok(Key::Member(rest.into())),
        "votes" => match rest.split_once('/') {
            Some((instance, target)) if is_label(instance) && is_target(target) => {
                Ok(Key::Vote(instance.into(), target.into()))
            }
            _ => Err(Ignored::ForeignKey),
        },
        "overrides" => rest
            .parse::<Selector>()
            .map(Key::Override)
            .map_err(|_| Ignored::ForeignKey),
        "load" => match rest.split_once('/') {
            Some((instance, selector)) if is_label(instance) && is_load_selector(selector) => {
                Ok(Key::Load(instance.into(), selector.into()))
            }
            _ => Err(Ignored::ForeignKey),
        },
        _ => Err(Ignored::ForeignKey),
    }
}

/// The full key for `key` under `prefix`.
pub(crate) fn key_path(prefix: &str, key: &Key) -> String {
    match key {
        Key::Member(i) => format!("{prefix}members/{i}"),
        Key::Vote(i, t) => format!("{prefix}votes/{i}/{t}"),
        Key::Override(s) => format!("{prefix}overrides/{s}"),
        Key::Load(i, s) => format!("{prefix}load/{i}/{s}"),
    }
}

/// Decodes a value, refusing future formats and values whose identity disagrees with the key.
pub(crate) fn decode<T: for<'a> Deserialize<'a>>(value: &[u8]) -> Result<T, Ignored> {
    #[derive(Deserialize)]
    struct Versioned {
        v: u32,
    }
    let version: Versioned =
        serde_json::from_slice(value).map_err(|e| Ignored::Garbage(e.to_string()))?;
    if version.v > FORMAT {
        return Err(Ignored::FutureVersion(version.v));
    }
    if version.v == 0 {
        return Err(Ignored::Invalid("format version 0".into()));
    }
    serde_json::from_slice(value).map_err(|e| Ignored::Garbage(e.to_string()))
}

pub(crate) fn encode<T: Serialize>(record: &T) -> Vec<u8> {
    // Our record types always serialize.
    serde_json::to_vec(record).unwrap_or_default()
}

/// Checks that a member record agrees with its key.
pub(crate) fn check_member(instance: &str, r: &MemberRecord) -> Result<(), Ignored> {
    if r.instance != instance {
        return Err(Ignored::Invalid(format!(
            "member record for {:?} under key {instance:?}",
            r.instance
        )));
    }
    Ok(())
}

/// Checks that a vote is a verdict (up or down) with sane numbers.
pub(crate) fn check_vote(r: &VoteRecord) -> Result<(), Ignored> {
    if r.state == Observed::Unknown {
        return Err(Ignored::Invalid("a vote must be up or down".into()));
    }
    if r.rtt_ms.is_some_and(|ms| !ms.is_finite() || ms < 0.0) {
        return Err(Ignored::Invalid(
            "rtt_ms must be a non-negative number".into(),
        ));
    }
    Ok(())
}

/// Checks that an override record agrees with its key.
pub(crate) fn check_override(selector: &Selector, r: &OverrideRecord) -> Result<(), Ignored> {
    match r.selector.parse::<Selector>() {
        Ok(s) if &s == selector => Ok(()),
        _ => Err(Ignored::Invalid(format!(
            "override for {:?} under key {selector}",
            r.selector
        ))),
    }
}

fn is_load_selector(s: &str) -> bool {
    match s.strip_prefix("datacenter:") {
        Some(dc) => {
            !dc.is_empty()
                && dc.len() <= 300
                && !dc
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || c == '/')
        }
        None => is_target(s),
    }
}

fn is_target(s: &str) -> bool {
    s.rsplit_once('/')
        .is_some_and(|(a, c)| !a.is_empty() && !c.is_empty())
        && s.len() <= 300
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "/meridian/test/";

    #[test]
    fn keys_round_trip() {
        for key in [
            Key::Member("ns1".into()),
            Key::Vote("ns1".into(), "192.0.2.10/web".into()),
            Key::Vote("ns-2".into(), "2001:db8::1/web".into()),
            Key::Override("pool:web-eu".parse().unwrap()),
            Key::Override("192.0.2.10/web".parse().unwrap()),
            Key::Load("ns1".into(), "192.0.2.10/web".into()),
            Key::Load("ns1".into(), "datacenter:dc-a".into()),
        ] {
            let path = key_path(P, &key);
            assert_eq!(parse_key(P, path.as_bytes()), Ok(key), "{path}");
        }
    }

    #[test]
    fn foreign_keys_are_refused() {
        for bad in [
            "/other/members/ns1",
            "/meridian/test/members/",
            "/meridian/test/members/a/b",
            "/meridian/test/votes/ns1",
            "/meridian/test/votes/ns1/nocheck",
            "/meridian/test/overrides/zone:x",
            "/meridian/test/leader",
            "/meridian/test/load/ns1",
            "/meridian/test/load/ns1/datacenter:",
            "/meridian/test/load/ns1/pool:web",
        ] {
            assert_eq!(
                parse_key(P, bad.as_bytes()),
                Err(Ignored::ForeignKey),
                "{bad}"
            );
        }
        assert_eq!(parse_key(P, &[0xff, 0xfe]), Err(Ignored::ForeignKey));
    }

    #[test]
    fn values_are_checked_before_use() {
        let vote = br#"{"v":1,"state":"down","since_unix_ms":5,"reason":"timeout","rtt_ms":null}"#;
        let r: VoteRecord = decode(vote).unwrap();
        check_vote(&r).unwrap();
        assert!(matches!(
            decode::<VoteRecord>(b"garbage"),
            Err(Ignored::Garbage(_))
        ));
        let future = br#"{"v":7,"state":"down"}"#;
        assert_eq!(decode::<VoteRecord>(future), Err(Ignored::FutureVersion(7)));
        let unknown = br#"{"v":1,"state":"unknown","since_unix_ms":5,"reason":null,"rtt_ms":null}"#;
        let r: VoteRecord = decode(unknown).unwrap();
        assert!(check_vote(&r).is_err());
        let sel: Selector = "pool:a".parse().unwrap();
        let o = OverrideRecord {
            v: 1,
            selector: "pool:b".into(),
            state: Forced::Down,
            who: "x".into(),
            reason: String::new(),
            set_at_unix_ms: 0,
            expires_unix_ms: None,
            instance: "ns1".into(),
        };
        assert!(check_override(&sel, &o).is_err());
        let back: OverrideRecord = decode(&encode(&o)).unwrap();
        assert_eq!(back, o);

        let obs = Observation {
            selector: "datacenter:a".into(),
            sample: Sample::Percent(87.5),
            source: Source::Api,
            observed_unix_ms: 1_000,
            expires_unix_ms: 61_000,
        };
        let r: LoadRecord = decode(&encode(&LoadRecord::new(&obs))).unwrap();
        assert_eq!(r.observation("datacenter:a"), Ok(obs));
        for bad in [
            r#"{"v":1,"kind":"value","value":-1,"source":"api","observed_at_ms":1,"expires_at_ms":2}"#,
            r#"{"v":1,"kind":"lots","value":1,"source":"api","observed_at_ms":1,"expires_at_ms":2}"#,
            r#"{"v":1,"kind":"value","value":1,"source":"cluster","observed_at_ms":1,"expires_at_ms":2}"#,
            r#"{"v":1,"kind":"value","value":1,"source":"api","observed_at_ms":2,"expires_at_ms":2}"#,
        ] {
            let r: LoadRecord = decode(bad.as_bytes()).unwrap();
            assert!(
                matches!(r.observation("x/y"), Err(Ignored::Invalid(_))),
                "{bad}"
            );
        }
    }
}
