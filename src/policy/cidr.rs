//! CIDR map: compact longest-prefix match for IPv4 and IPv6 that also yields the ECS scope.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

use super::addr_bits::{common_prefix, mask, to_bits};
use super::model::PoolId;

/// An ordered pool list (indices into the service's pools), shared by map entries.
pub(crate) type PoolList = Arc<[PoolId]>;

const NONE: u32 = u32::MAX;

/// One prefix of a map being built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CidrEntry {
    pub(crate) prefix: IpNet,
    /// Index into the pool lists given to [`CidrMap::build`].
    pub(crate) list: u32,
    /// Source line for error messages (0 = not from a file).
    pub(crate) line: u32,
}

/// Why a map could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CidrBuildError {
    #[error("line {line}: duplicate prefix {prefix} (first on line {first_line})")]
    Duplicate {
        prefix: IpNet,
        line: u32,
        first_line: u32,
    },
    #[error("line {line}: pool list {list} does not exist")]
    NoSuchList { list: u32, line: u32 },
    #[error("too many prefixes (at most {} per map)", u32::MAX - 1)]
    TooMany,
}

/// What a lookup found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CidrHit<'a> {
    /// The most specific entry covering the address: its prefix length and pool list.
    pub(crate) matched: Option<(u8, &'a [PoolId])>,
    /// Prefix length within which every address gets the same `matched`.
    pub(crate) scope: u8,
}

trait Key: Copy + Ord {
    const WIDTH: u8;
    fn from_bits(bits: u128) -> Self;
    fn bits(self) -> u128;
}

impl Key for u32 {
    const WIDTH: u8 = 32;
    fn from_bits(bits: u128) -> Self {
        bits as u32
    }
    fn bits(self) -> u128 {
        u128::from(self)
    }
}

impl Key for u128 {
    const WIDTH: u8 = 128;
    fn from_bits(bits: u128) -> Self {
        bits
    }
    fn bits(self) -> u128 {
        self
    }
}

/// Disjoint ranges covering the whole family: range i is `starts[i]..starts[i+1]`.
#[derive(Clone)]
struct Ranges<K> {
    starts: Vec<K>,
    entry: Vec<u32>,
}

impl<K: Key> Ranges<K> {
    fn max() -> u128 {
        u128::MAX >> (128 - u32::from(K::WIDTH))
    }

    /// Flattens entries sorted by (network, length) with no duplicates.
    fn build(sorted: &[(K, u8, u32)]) -> Self {
        let max = Self::max();
        let mut out = Self {
            starts: Vec::new(),
            entry: Vec::new(),
        };
        let mut stack: Vec<(u128, u32)> = Vec::new();
        let mut cur: u128 = 0;
        for &(net, len, id) in sorted {
            let net = net.bits();
            while let Some(&(end, top)) = stack.last().filter(|(end, _)| *end < net) {
                out.push(cur, top);
                cur = end + 1;
                stack.pop();
            }
            if cur < net {
                out.push(cur, stack.last().map_or(NONE, |t| t.1));
                cur = net;
            }
            let host = max.checked_shr(u32::from(len)).unwrap_or(0);
            stack.push((net | host, id));
        }
        let mut done = false;
        while let Some((end, id)) = stack.pop() {
            if !done && cur <= end {
                out.push(cur, id);
            }
            done |= end == max;
            cur = end.wrapping_add(1);
        }
        if !done {
            out.push(cur, NONE);
        }
        out.starts.shrink_to_fit();
        out.entry.shrink_to_fit();
        out
    }

    fn push(&mut self, start: u128, entry: u32) {
        if self.entry.last() != Some(&entry) {
            self.starts.push(K::from_bits(start));
            self.entry.push(entry);
        }
    }

    /// The entry covering `bits` and the scope of that answer.
    fn find(&self, bits: u128) -> (u32, u8) {
        let key = K::from_bits(bits);
        let i = self.starts.partition_point(|&s| s <= key).saturating_sub(1);
        let (Some(lo), Some(&entry)) = (self.starts.get(i), self.entry.get(i)) else {
            return (NONE, 0);
        };
        let width = K::WIDTH;
        let below = match lo.bits() {
            0 => 0,
            lo => common_prefix(bits, lo - 1, width) + 1,
        };
        let above = match self.starts.get(i + 1) {
            Some(next) => common_prefix(bits, next.bits(), width) + 1,
            None => 0,
        };
        (entry, below.max(above).min(width))
    }

    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.starts.capacity() * std::mem::size_of::<K>() + self.entry.capacity() * 4
    }
}

/// A longest-prefix-match map from client prefixes to pool lists.
///
/// The prefixes are flattened into sorted, disjoint address ranges, each labelled with
/// the most specific entry covering it (or none); a lookup is one binary search. The
/// range containing the client is exactly the set of addresses with the same match, so
/// the widest aligned block around the client inside that range is the scope the match
/// depends on: never shorter than the matched prefix, and long enough to exclude every
/// more specific entry next to the client (for a trie: the depth below which the
/// client's subtree holds no other entry). Entries with equal pool lists are not merged,
/// so the scope is conservative there. Memory: about 16 bytes per IPv4 prefix and 40 per
/// IPv6 prefix; a million prefixes parse and build in well under a second (release).
#[derive(Clone)]
pub struct CidrMap {
    v4: Ranges<u32>,
    v6: Ranges<u128>,
    entry_len: Vec<u8>,
    entry_list: Vec<u32>,
    lists: Vec<PoolList>,
}

impl Default for CidrMap {
    fn default() -> Self {
        Self {
            v4: Ranges::build(&[]),
            v6: Ranges::build(&[]),
            entry_len: Vec::new(),
            entry_list: Vec::new(),
            lists: Vec::new(),
        }
    }
}

impl fmt::Debug for CidrMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CidrMap")
            .field("prefixes", &self.len())
            .field("pool_lists", &self.lists.len())
            .finish()
    }
}

impl CidrMap {
    /// Builds a map; `entries[i].list` indexes `lists`. Host bits are ignored.
    pub(crate) fn build(
        entries: Vec<CidrEntry>,
        lists: Vec<PoolList>,
    ) -> Result<Self, CidrBuildError> {
        if entries.len() >= NONE as usize {
            return Err(CidrBuildError::TooMany);
        }
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for (id, e) in entries.iter().enumerate() {
            if e.list as usize >= lists.len() {
                return Err(CidrBuildError::NoSuchList {
                    list: e.list,
                    line: e.line,
                });
            }
            let (bits, width) = to_bits(e.prefix.addr());
            let len = e.prefix.prefix_len();
            let net = mask(bits, width, len);
            match e.prefix {
                IpNet::V4(_) => v4.push((net as u32, len, id as u32)),
                IpNet::V6(_) => v6.push((net, len, id as u32)),
            }
        }
        v4.sort_unstable();
        v6.sort_unstable();
        check_duplicates(&v4, &entries)?;
        check_duplicates(&v6, &entries)?;
        Ok(Self {
            v4: Ranges::build(&v4),
            v6: Ranges::build(&v6),
            entry_len: entries.iter().map(|e| e.prefix.prefix_len()).collect(),
            entry_list: entries.iter().map(|e| e.list).collect(),
            lists,
        })
    }

    /// Builds a map from prefixes and their pool lists (equal lists are shared).
    pub(crate) fn from_prefixes(
        prefixes: impl IntoIterator<Item = (IpNet, Vec<PoolId>)>,
    ) -> Result<Self, CidrBuildError> {
        let mut ids: HashMap<Vec<PoolId>, u32> = HashMap::new();
        let mut lists = Vec::new();
        let mut entries = Vec::new();
        for (prefix, pools) in prefixes {
            let list = *ids.entry(pools).or_insert_with_key(|pools| {
                lists.push(PoolList::from(pools.as_slice()));
                (lists.len() - 1) as u32
            });
            entries.push(CidrEntry {
                prefix,
                list,
                line: 0,
            });
        }
        Self::build(entries, lists)
    }

    /// Longest-prefix match for `addr` and the scope that match depends on.
    pub(crate) fn lookup(&self, addr: IpAddr) -> CidrHit<'_> {
        let (bits, _) = to_bits(addr);
        let (entry, scope) = match addr {
            IpAddr::V4(_) => self.v4.find(bits),
            IpAddr::V6(_) => self.v6.find(bits),
        };
        let idx = entry as usize;
        let matched = match (self.entry_len.get(idx), self.entry_list.get(idx)) {
            (Some(&len), Some(&list)) => self.lists.get(list as usize).map(|l| (len, &l[..])),
            _ => None,
        };
        CidrHit { matched, scope }
    }

    /// The distinct pool lists entries refer to.
    #[cfg(test)]
    pub(crate) fn lists(&self) -> &[PoolList] {
        &self.lists
    }

    /// Number of prefixes.
    pub(crate) fn len(&self) -> usize {
        self.entry_len.len()
    }

    /// Approximate heap bytes held (pool lists excluded).
    #[cfg(test)]
    pub(crate) fn memory_bytes(&self) -> usize {
        self.v4.bytes()
            + self.v6.bytes()
            + self.entry_len.capacity()
            + self.entry_list.capacity() * 4
    }
}

fn check_duplicates<K: Key>(
    sorted: &[(K, u8, u32)],
    entries: &[CidrEntry],
) -> Result<(), CidrBuildError> {
    for pair in sorted.windows(2) {
        let ((n0, l0, first), (n1, l1, dup)) = (pair[0], pair[1]);
        if n0 == n1 && l0 == l1 {
            let (first, dup) = (&entries[first as usize], &entries[dup as usize]);
            let (first, dup) = if first.line <= dup.line {
                (first, dup)
            } else {
                (dup, first)
            };
            return Err(CidrBuildError::Duplicate {
                prefix: dup.prefix.trunc(),
                line: dup.line,
                first_line: first.line,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "cidr_tests.rs"]
mod tests;
