//! Operator overrides: selectors, the override-file format and which override wins for a target.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A state forced by an operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Forced {
    Up,
    Drain,
    Down,
}

/// What an override applies to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Selector {
    /// One target key, `192.0.2.10/web` (written bare or as `target:192.0.2.10/web`).
    Target(Arc<str>),
    /// Every target whose member is in the pool: `pool:web-eu`.
    Pool(Arc<str>),
    /// Every target in the datacenter: `datacenter:eu-west`.
    Datacenter(Arc<str>),
}

/// Where an override came from; for the same selector the cluster wins over this instance's
/// API, and the API over the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Source {
    File,
    Api,
    /// Set through any instance's admin API in cluster mode and stored in etcd.
    Cluster,
}

/// One override as parsed or requested.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Override {
    pub(crate) selector: Selector,
    pub(crate) state: Forced,
}

/// The override that decided a target's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct ForcedBy {
    pub(crate) state: Forced,
    #[serde(serialize_with = "crate::health::overrides::serialize_display")]
    pub(crate) selector: Selector,
    pub source: Source,
}

/// A line of the override file that could not be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct LineError {
    pub(crate) line: usize,
    pub(crate) message: String,
}

/// All overrides in force, by source.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct OverrideSet {
    pub(crate) file: BTreeMap<Selector, Forced>,
    pub(crate) api: BTreeMap<Selector, Forced>,
    pub(crate) cluster: BTreeMap<Selector, Forced>,
}

impl Selector {
    fn specificity(&self) -> u8 {
        match self {
            Selector::Target(_) => 2,
            Selector::Pool(_) => 1,
            Selector::Datacenter(_) => 0,
        }
    }

    /// Whether this selector covers a target with this key, datacenter and pools.
    pub(crate) fn matches(&self, key: &str, datacenter: &str, pools: &[Arc<str>]) -> bool {
        match self {
            Selector::Target(k) => &**k == key,
            Selector::Pool(p) => pools.iter().any(|q| q == p),
            Selector::Datacenter(d) => &**d == datacenter,
        }
    }
}

impl Selector {
    /// Whether any of `targets` (key, datacenter, pools) is covered by this selector.
    pub(crate) fn names_any<'t>(
        &self,
        mut targets: impl Iterator<Item = (&'t str, &'t str, &'t [Arc<str>])>,
    ) -> bool {
        targets.any(|(key, dc, pools)| self.matches(key, dc, pools))
    }

    /// What is missing when this selector names no target: an operator's typo, usually.
    pub(crate) fn names_nothing(&self) -> String {
        match self {
            Selector::Target(k) => format!("no health-checked target `{k}` is configured"),
            Selector::Pool(p) => {
                format!("no pool `{p}` with a health-checked member is configured")
            }
            Selector::Datacenter(d) => {
                format!("no datacenter `{d}` with a health-checked member is configured")
            }
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Target(k) => f.write_str(k),
            Selector::Pool(p) => write!(f, "pool:{p}"),
            Selector::Datacenter(d) => write!(f, "datacenter:{d}"),
        }
    }
}

impl FromStr for Selector {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (selector, name) = if let Some(name) = s.strip_prefix("pool:") {
            (Selector::Pool(name.into()), name)
        } else if let Some(name) = s.strip_prefix("datacenter:") {
            (Selector::Datacenter(name.into()), name)
        } else {
            let name = s.strip_prefix("target:").unwrap_or(s);
            let well_formed = name
                .rsplit_once('/')
                .is_some_and(|(addr, check)| !addr.is_empty() && !check.is_empty());
            if !well_formed {
                return Err(format!(
                    "{s:?} is neither pool:NAME, datacenter:NAME nor a target ADDRESS/CHECK"
                ));
            }
            (Selector::Target(name.into()), name)
        };
        if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("invalid selector {s:?}"));
        }
        Ok(selector)
    }
}

impl fmt::Display for Forced {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Forced::Up => "UP",
            Forced::Drain => "DRAIN",
            Forced::Down => "DOWN",
        })
    }
}

impl FromStr for Forced {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_uppercase().as_str() {
            "UP" => Ok(Forced::Up),
            "DOWN" => Ok(Forced::Down),
            "DRAIN" | "DRAINED" => Ok(Forced::Drain),
            _ => Err(format!("unknown state {s:?} (expected UP, DOWN or DRAIN)")),
        }
    }
}

impl OverrideSet {
    /// The override deciding a target: the most specific selector (target, then pool, then
    /// datacenter), then the cluster over the API over the file, then the most severe state
    /// (DOWN, DRAIN, UP).
    pub(crate) fn resolve(
        &self,
        key: &str,
        datacenter: &str,
        pools: &[Arc<str>],
    ) -> Option<ForcedBy> {
        self.entries()
            .filter(|(sel, _, _)| sel.matches(key, datacenter, pools))
            .max_by_key(|(sel, state, source)| (sel.specificity(), *source, *state))
            .map(|(sel, state, source)| ForcedBy {
                state,
                selector: sel.clone(),
                source,
            })
    }

    /// Every override, file first, then API, then cluster, as (selector, state, source).
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&Selector, Forced, Source)> {
        let file = self.file.iter().map(|(s, f)| (s, *f, Source::File));
        let api = self.api.iter().map(|(s, f)| (s, *f, Source::Api));
        let cluster = self.cluster.iter().map(|(s, f)| (s, *f, Source::Cluster));
        file.chain(api).chain(cluster)
    }
}

/// Parses the override file: one `SELECTOR STATE` per line, `#` starts a comment. Every bad line
/// is reported; a selector may appear once.
pub(crate) fn parse_override_file(text: &str) -> Result<Vec<Override>, Vec<LineError>> {
    let mut overrides = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<Selector, usize> = HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let content = raw.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        match parse_line(content) {
            Ok(o) => match seen.insert(o.selector.clone(), line) {
                Some(first) => errors.push(LineError {
                    line,
                    message: format!("{} already set on line {first}", o.selector),
                }),
                None => overrides.push(o),
            },
            Err(message) => errors.push(LineError { line, message }),
        }
    }
    if errors.is_empty() {
        Ok(overrides)
    } else {
        Err(errors)
    }
}

fn parse_line(content: &str) -> Result<Override, String> {
    let mut words = content.split_whitespace();
    let (Some(selector), Some(state), None) = (words.next(), words.next(), words.next()) else {
        return Err(format!("expected `SELECTOR STATE`, got {content:?}"));
    };
    Ok(Override {
        selector: selector.parse()?,
        state: state.parse()?,
    })
}

pub(crate) fn serialize_display<T: fmt::Display, S: serde::Serializer>(
    value: &T,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(s: &str) -> Selector {
        s.parse().unwrap()
    }

    #[test]
    fn selectors_parse_and_print() {
        for s in [
            "192.0.2.10/web",
            "2001:db8::1/web",
            "pool:web-eu",
            "datacenter:eu-west",
        ] {
            assert_eq!(sel(s).to_string(), s);
        }
        assert_eq!(sel("target:192.0.2.10/web"), sel("192.0.2.10/web"));
        assert_eq!(sel("pool:web-eu"), Selector::Pool("web-eu".into()));
        assert!("dc:eu".parse::<Selector>().is_err());
        assert!("192.0.2.10".parse::<Selector>().is_err());
        assert!("pool:".parse::<Selector>().is_err());
    }

    #[test]
    fn file_format() {
        let text = "# maintenance\n192.0.2.10/web DOWN\n\n  pool:web-eu drain # until Friday\ndatacenter:eu-west UP\n";
        let parsed = parse_override_file(text).unwrap();
        assert_eq!(
            parsed,
            vec![
                Override {
                    selector: sel("192.0.2.10/web"),
                    state: Forced::Down
                },
                Override {
                    selector: sel("pool:web-eu"),
                    state: Forced::Drain
                },
                Override {
                    selector: sel("datacenter:eu-west"),
                    state: Forced::Up
                },
            ]
        );
    }

    #[test]
    fn every_bad_line_is_reported() {
        let text =
            "192.0.2.10/web SIDEWAYS\nzone:x DOWN\npool:a DOWN extra\npool:a UP\npool:a DOWN\n";
        let errors = parse_override_file(text).unwrap_err();
        let lines: Vec<_> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [1, 2, 3, 5]);
        assert!(errors[3].message.contains("line 4"), "{}", errors[3]);
    }

    #[test]
    fn most_specific_then_api_then_most_severe() {
        let mut set = OverrideSet::default();
        let pools = [Arc::from("web-eu"), Arc::from("web-all")];
        let resolve = |set: &OverrideSet| {
            set.resolve("192.0.2.10/web", "eu-west", &pools)
                .map(|f| (f.state, f.source, f.selector.to_string()))
        };
        assert_eq!(resolve(&set), None);
        set.file.insert(sel("datacenter:eu-west"), Forced::Down);
        assert_eq!(
            resolve(&set),
            Some((Forced::Down, Source::File, "datacenter:eu-west".into()))
        );
        set.file.insert(sel("pool:web-eu"), Forced::Up);
        set.file.insert(sel("pool:web-all"), Forced::Drain);
        assert_eq!(
            resolve(&set),
            Some((Forced::Drain, Source::File, "pool:web-all".into()))
        );
        set.api.insert(sel("pool:web-eu"), Forced::Up);
        assert_eq!(
            resolve(&set),
            Some((Forced::Up, Source::Api, "pool:web-eu".into()))
        );
        set.cluster.insert(sel("pool:web-eu"), Forced::Down);
        assert_eq!(
            resolve(&set),
            Some((Forced::Down, Source::Cluster, "pool:web-eu".into()))
        );
        set.file.insert(sel("192.0.2.10/web"), Forced::Up);
        assert_eq!(
            resolve(&set),
            Some((Forced::Up, Source::File, "192.0.2.10/web".into()))
        );
        assert_eq!(set.resolve("192.0.2.11/web", "us-east", &[]), None);
    }
}
