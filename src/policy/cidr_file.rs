//! Parser for CIDR map files: `PREFIX POOL[,POOL...]` per line, `#` comments, errors with line numbers.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

use super::cidr::{CidrBuildError, CidrEntry, CidrMap, PoolList};
use super::model::PoolId;

/// Parsing stops collecting after this many errors.
pub(crate) const MAX_ERRORS: usize = 100;

/// A parsed file whose pool names are not yet resolved.
#[derive(Clone, Debug, Default)]
pub(crate) struct CidrFile {
    /// `entries[i].list` indexes `lists`.
    pub(crate) entries: Vec<CidrEntry>,
    pub(crate) lists: Vec<NamedList>,
}

/// A distinct pool list as written in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NamedList {
    pub(crate) pools: Vec<Arc<str>>,
    /// The first line that uses it (for error messages).
    pub(crate) line: u32,
}

/// One problem in a CIDR map file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub(crate) struct CidrFileError {
    pub(crate) line: u32,
    pub(crate) kind: CidrFileErrorKind,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CidrFileErrorKind {
    #[error("expected `PREFIX POOL[,POOL...]`, found only `{0}`")]
    MissingPools(String),
    #[error("invalid prefix `{0}`")]
    BadPrefix(String),
    #[error("{0} has host bits set (the network is {1})")]
    HostBits(IpNet, IpNet),
    #[error("empty pool name in `{0}`")]
    EmptyPoolName(String),
    #[error("unexpected `{0}` after the pool list (pools are separated by commas)")]
    Trailing(String),
    #[error("duplicate prefix {prefix} (first on line {first_line})")]
    Duplicate { prefix: IpNet, first_line: u32 },
    #[error("unknown pool `{0}`")]
    UnknownPool(String),
    #[error("{0}")]
    Build(String),
}

/// Parses a CIDR map file, collecting up to [`MAX_ERRORS`] errors.
///
/// ```text
/// # office networks go to the internal pool first
/// 203.0.113.0/24      internal,eu-west
/// 2001:db8:100::/40   eu-west          # trailing comments are fine
/// 198.51.100.7        internal         # a bare address is a /32 (or /128)
/// ```
/// Host bits must be clear and a prefix may appear once (checked by
/// [`CidrFile::resolve`]). Lines spelling a pool list identically share one list.
pub(crate) fn parse(text: &str) -> Result<CidrFile, Vec<CidrFileError>> {
    let mut file = CidrFile::default();
    let mut list_ids: HashMap<&str, u32> = HashMap::new();
    let mut errors = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = u32::try_from(n + 1).unwrap_or(u32::MAX);
        let content = raw.split('#').next().unwrap_or("");
        let mut words = content.split_whitespace();
        let Some(prefix_text) = words.next() else {
            continue;
        };
        let parsed = parse_line(prefix_text, words, &mut list_ids, &mut file.lists, line);
        match parsed {
            Ok(entry) => file.entries.push(entry),
            Err(kind) => errors.push(CidrFileError { line, kind }),
        }
        if errors.len() >= MAX_ERRORS {
            break;
        }
    }
    if errors.is_empty() {
        Ok(file)
    } else {
        Err(errors)
    }
}

fn parse_line<'t>(
    prefix_text: &str,
    mut words: impl Iterator<Item = &'t str>,
    list_ids: &mut HashMap<&'t str, u32>,
    lists: &mut Vec<NamedList>,
    line: u32,
) -> Result<CidrEntry, CidrFileErrorKind> {
    let prefix = parse_prefix(prefix_text)?;
    let pools = words
        .next()
        .ok_or_else(|| CidrFileErrorKind::MissingPools(prefix_text.to_owned()))?;
    if let Some(extra) = words.next() {
        return Err(CidrFileErrorKind::Trailing(extra.to_owned()));
    }
    let list = match list_ids.get(pools) {
        Some(&id) => id,
        None => {
            if pools.split(',').any(str::is_empty) {
                return Err(CidrFileErrorKind::EmptyPoolName(pools.to_owned()));
            }
            let id = lists.len() as u32;
            lists.push(NamedList {
                pools: pools.split(',').map(Arc::from).collect(),
                line,
            });
            list_ids.insert(pools, id);
            id
        }
    };
    Ok(CidrEntry { prefix, list, line })
}

fn parse_prefix(text: &str) -> Result<IpNet, CidrFileErrorKind> {
    let prefix = if text.contains('/') {
        text.parse::<IpNet>().ok()
    } else {
        text.parse::<IpAddr>().ok().map(IpNet::from)
    };
    let prefix = prefix.ok_or_else(|| CidrFileErrorKind::BadPrefix(text.to_owned()))?;
    if prefix.trunc() != prefix {
        return Err(CidrFileErrorKind::HostBits(prefix, prefix.trunc()));
    }
    Ok(prefix)
}

impl CidrFile {
    /// Resolves pool names to ids (`pool_id` returns `None` for unknown names) and builds the map.
    pub(crate) fn resolve(
        self,
        mut pool_id: impl FnMut(&str) -> Option<PoolId>,
    ) -> Result<CidrMap, Vec<CidrFileError>> {
        let mut errors = Vec::new();
        let mut lists = Vec::with_capacity(self.lists.len());
        for named in &self.lists {
            let mut ids = Vec::with_capacity(named.pools.len());
            for name in &named.pools {
                match pool_id(name) {
                    Some(id) => ids.push(id),
                    None if errors.len() < MAX_ERRORS => errors.push(CidrFileError {
                        line: named.line,
                        kind: CidrFileErrorKind::UnknownPool(name.to_string()),
                    }),
                    None => {}
                }
            }
            lists.push(PoolList::from(ids));
        }
        if !errors.is_empty() {
            errors.sort_by_key(|e| e.line);
            return Err(errors);
        }
        CidrMap::build(self.entries, lists).map_err(|e| vec![build_error(e)])
    }
}

fn build_error(e: CidrBuildError) -> CidrFileError {
    match e {
        CidrBuildError::Duplicate {
            prefix,
            line,
            first_line,
        } => CidrFileError {
            line,
            kind: CidrFileErrorKind::Duplicate { prefix, first_line },
        },
        other => CidrFileError {
            line: 0,
            kind: CidrFileErrorKind::Build(other.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(name: &str) -> Option<PoolId> {
        ["internal", "eu-west", "us-east"]
            .iter()
            .position(|n| *n == name)
    }

    #[test]
    fn parses_comments_shared_lists_and_bare_addresses() {
        let text = "# header\n\n203.0.113.0/24 internal,eu-west\n\
                    2001:db8:100::/40\teu-west   # trailing\n\
                    198.51.100.7 internal,eu-west\n";
        let file = parse(text).unwrap();
        assert_eq!(file.entries.len(), 3);
        assert_eq!(file.lists.len(), 2);
        assert_eq!(file.entries[2].list, file.entries[0].list);
        assert_eq!(
            file.entries[2].prefix,
            "198.51.100.7/32".parse::<IpNet>().unwrap()
        );
        assert_eq!(file.lists[1].line, 4);
        let map = file.resolve(names).unwrap();
        let hit = map.lookup("203.0.113.9".parse().unwrap());
        assert_eq!(hit.matched, Some((24, &[0, 1][..])));
    }

    #[test]
    fn reports_every_bad_line_with_its_number() {
        let text = "10.0.0.0/8 internal\n10.0.0.1/8 internal\nnonsense internal\n\
                    10.1.0.0/16\n10.2.0.0/16 a, b\n10.3.0.0/16 a,,b\n10.4.0.0/33 a\n";
        let errors = parse(text).unwrap_err();
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "line 2: 10.0.0.1/8 has host bits set (the network is 10.0.0.0/8)",
                "line 3: invalid prefix `nonsense`",
                "line 4: expected `PREFIX POOL[,POOL...]`, found only `10.1.0.0/16`",
                "line 5: unexpected `b` after the pool list (pools are separated by commas)",
                "line 6: empty pool name in `a,,b`",
                "line 7: invalid prefix `10.4.0.0/33`",
            ]
        );
    }

    #[test]
    fn unknown_pools_and_duplicates_name_their_lines() {
        let errors = parse("10.0.0.0/8 internal\n10.1.0.0/16 nope,us-east\n")
            .unwrap()
            .resolve(names)
            .unwrap_err();
        assert_eq!(errors[0].to_string(), "line 2: unknown pool `nope`");
        let errors = parse("10.0.0.0/8 internal\n\n10.0.0.0/8 us-east\n")
            .unwrap()
            .resolve(names)
            .unwrap_err();
        assert_eq!(
            errors[0].to_string(),
            "line 3: duplicate prefix 10.0.0.0/8 (first on line 1)"
        );
    }

    #[test]
    fn error_collection_is_capped() {
        let text = "bad\n".repeat(500);
        assert_eq!(parse(&text).unwrap_err().len(), MAX_ERRORS);
    }
}
