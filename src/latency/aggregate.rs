//! Neighbour aggregates: per group of client networks (AS + country, covering prefix, AS, subdivision, country) and datacenter, the measured networks' robust RTT residual.
//!
//! Built off the query path (see `policy::latency_build` and `policy::latency_index`) and
//! published inside the latency table by swap; the query path only looks groups up (no
//! allocation, no lock). The groups are split into [`SHARDS`] shared shards by a stable
//! hash, so an incremental update rebuilds only the shards it touches.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use crate::closed_set::closed_set;
use crate::geo::Location;

closed_set! {
    /// How a group of client networks is formed, most specific first.
    pub(crate) enum Level {
        /// Same origin AS and same country.
        AsnCountry => "asn_country",
        /// The covering IPv4 /20 or IPv6 /40.
        PrefixNarrow => "prefix_narrow",
        /// The covering IPv4 /16 or IPv6 /32.
        PrefixWide => "prefix_wide",
        /// Same origin AS, any country.
        Asn => "asn",
        /// Same country and subdivision.
        Subdivision => "subdivision",
        /// Same country.
        Country => "country",
    }
}

/// Bits of a group's hash that pick its shard.
const SHARD_BITS: u32 = 10;
/// Shards of the group map.
pub(crate) const SHARDS: usize = 1 << SHARD_BITS;

/// Prefix lengths of the covering-prefix levels: (IPv4, IPv6) for narrow, then wide.
pub(crate) const COVERING: [(u8, u8); 2] = [(20, 40), (16, 32)];

/// One group of client networks (hashable, 16 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Group {
    AsnCountry(u32, [u8; 2]),
    /// (IPv4?, prefix length, the address's leading 64 bits masked; IPv4 in the low 32).
    Prefix(bool, u8, u64),
    Asn(u32),
    /// (country, a hash of the subdivision code or name).
    Subdivision([u8; 2], u64),
    Country([u8; 2]),
}

fn prefix(addr: IpAddr, v4: u8, v6: u8) -> Group {
    match addr {
        IpAddr::V4(a) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(v4)).unwrap_or(0);
            Group::Prefix(true, v4, u64::from(u32::from(a) & mask))
        }
        IpAddr::V6(a) => {
            let hi = (u128::from(a) >> 64) as u64;
            let mask = u64::MAX.checked_shl(64 - u32::from(v6)).unwrap_or(0);
            Group::Prefix(false, v6, hi & mask)
        }
    }
}

impl Group {
    /// A stable hash of the group's fields: the low bits pick its shard, the rest its slot.
    fn hash(&self) -> usize {
        let h = match *self {
            Group::AsnCountry(a, [c0, c1]) => {
                1 ^ u64::from(a) << 8 ^ u64::from(c0) << 40 ^ u64::from(c1) << 48
            }
            Group::Prefix(v4, len, bits) => {
                crate::hash::mix(bits) ^ u64::from(len) << 1 ^ u64::from(v4)
            }
            Group::Asn(a) => 3 ^ u64::from(a) << 8,
            Group::Subdivision([c0, c1], s) => {
                crate::hash::mix(s) ^ u64::from(c0) << 40 ^ u64::from(c1) << 48
            }
            Group::Country([c0, c1]) => 5 ^ u64::from(c0) << 40 ^ u64::from(c1) << 48,
        };
        crate::hash::mix(h) as usize
    }

    /// The groups `addr` (located at `loc`) belongs to, in [`Level`] order.
    pub(crate) fn all(addr: IpAddr, loc: &Location) -> [Option<Group>; 6] {
        let asn = loc.asn.filter(|&a| a != 0);
        let sub = loc
            .subdivision
            .as_deref()
            .map(|s| crate::hash::bytes_hash(s.as_bytes()));
        [
            asn.zip(loc.country).map(|(a, c)| Group::AsnCountry(a, c)),
            Some(prefix(addr, COVERING[0].0, COVERING[0].1)),
            Some(prefix(addr, COVERING[1].0, COVERING[1].1)),
            asn.map(Group::Asn),
            loc.country.zip(sub).map(|(c, s)| Group::Subdivision(c, s)),
            loc.country.map(Group::Country),
        ]
    }
}

/// A group's estimate for one datacenter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Estimate {
    /// Index of the datacenter in the table's datacenter list.
    pub(crate) dc: u16,
    /// Weighted median of measured RTT minus great-circle prediction, ms.
    pub(crate) residual_ms: f32,
    /// Measured networks that contributed.
    pub(crate) networks: u32,
    /// Their samples (saturating).
    pub(crate) samples: u32,
    /// Weighted mean time of their newest samples (Unix seconds).
    pub(crate) updated: u32,
}

/// One slot of a shard: a group and its estimates, or free.
type Slot = Option<(Group, Arc<[Estimate]>)>;

/// A shard: an open-addressing table (linear probing, at most half full, length a power
/// of two or 0), rebuilt whole when it changes. The published set holds each shard's
/// (pointer, length) inline, so a lookup reads its slot directly: one cache line for the
/// slot, one for the estimates.
type Shard = Arc<[Slot]>;

/// Every qualifying group's estimates. A published set is immutable; cloning shares every
/// shard, and [`Aggregates::apply`] on a clone rebuilds only the shards it changes.
#[derive(Clone, Debug, Default)]
pub struct Aggregates {
    /// Empty, or exactly [`SHARDS`] shards.
    shards: Vec<Shard>,
    /// Groups held (so `is_empty` costs nothing on the query path).
    count: usize,
    /// Measured networks placed (located with coordinates) when built.
    pub(crate) placed: usize,
}

/// A shard holding `entries`.
fn shard(entries: Vec<(Group, Arc<[Estimate]>)>) -> Shard {
    if entries.is_empty() {
        return Arc::from(Vec::new());
    }
    let mut slots: Vec<Slot> = vec![None; (entries.len() * 2).next_power_of_two()];
    let mask = slots.len() - 1;
    for (group, estimates) in entries {
        let mut i = group.hash() >> SHARD_BITS & mask;
        while slots[i].is_some() {
            i = (i + 1) & mask;
        }
        slots[i] = Some((group, estimates));
    }
    Arc::from(slots)
}

impl Aggregates {
    pub(crate) fn new(groups: HashMap<Group, Box<[Estimate]>>, placed: usize) -> Self {
        let mut out = Self {
            shards: Vec::new(),
            count: 0,
            placed,
        };
        let changes = groups.into_iter().map(|(g, e)| (g, Some(Arc::from(e))));
        out.apply(changes.collect());
        out
    }

    /// Sets (`Some`) or removes (`None`) groups' estimates, rebuilding each shard they
    /// fall in once (shards nobody changed stay shared).
    pub(crate) fn apply(&mut self, mut changes: Vec<(Group, Option<Arc<[Estimate]>>)>) {
        if changes.is_empty() {
            return;
        }
        if self.shards.is_empty() {
            self.shards = vec![shard(Vec::new()); SHARDS];
        }
        changes.sort_by_key(|(g, _)| g.hash() & (SHARDS - 1));
        for run in changes.chunk_by(|a, b| a.0.hash() & (SHARDS - 1) == b.0.hash() & (SHARDS - 1)) {
            let i = run[0].0.hash() & (SHARDS - 1);
            let mut held: HashMap<Group, Arc<[Estimate]>> =
                self.shards[i].iter().flatten().cloned().collect();
            let before = held.len();
            for (group, estimates) in run {
                match estimates {
                    Some(e) => held.insert(*group, e.clone()),
                    None => held.remove(group),
                };
            }
            self.count = self.count + held.len() - before;
            self.shards[i] = shard(held.into_iter().collect());
        }
    }

    /// Every group and its estimates (in no particular order).
    pub(crate) fn groups(&self) -> impl Iterator<Item = (&Group, &Arc<[Estimate]>)> {
        self.shards
            .iter()
            .flat_map(|s| s.iter().flatten())
            .map(|(g, e)| (g, e))
    }

    /// A shared empty set (no estimates from neighbours).
    pub(crate) fn empty() -> Arc<Aggregates> {
        Arc::new(Aggregates::default())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Groups held.
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// Groups held per level.
    pub(crate) fn per_level(&self) -> [usize; 6] {
        let mut n = [0; 6];
        for (g, _) in self.groups() {
            n[level_of(g) as usize] += 1;
        }
        n
    }

    /// Query path: a group's estimates, by datacenter index (no allocation, no lock).
    pub(crate) fn get(&self, group: &Group) -> Option<&[Estimate]> {
        let h = group.hash();
        let shard = self.shards.get(h & (SHARDS - 1))?;
        let mask = shard.len().checked_sub(1)?;
        let mut i = h >> SHARD_BITS & mask;
        // At most half the slots are taken, so a free one ends every probe.
        loop {
            match shard.get(i)? {
                None => return None,
                Some((g, e)) if g == group => return Some(e),
                Some(_) => i = (i + 1) & mask,
            }
        }
    }

    /// Heap bytes held: every shard's slots (32 bytes each) and reference counts, and
    /// each group's shared estimates (two reference counts, 16 bytes, then 20 bytes per
    /// datacenter).
    pub(crate) fn heap_bytes(&self) -> usize {
        let slots: usize = self
            .shards
            .iter()
            .map(|s| 16 + s.len() * size_of::<Slot>())
            .sum();
        let cells: usize = self
            .groups()
            .map(|(_, v)| 16 + v.len() * size_of::<Estimate>())
            .sum();
        slots + cells
    }
}

/// The level a group belongs to.
pub(crate) fn level_of(group: &Group) -> Level {
    match group {
        Group::AsnCountry(..) => Level::AsnCountry,
        Group::Prefix(v4, len, _) => {
            let narrow = if *v4 { COVERING[0].0 } else { COVERING[0].1 };
            if *len == narrow {
                Level::PrefixNarrow
            } else {
                Level::PrefixWide
            }
        }
        Group::Asn(_) => Level::Asn,
        Group::Subdivision(..) => Level::Subdivision,
        Group::Country(_) => Level::Country,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(asn: Option<u32>, country: &str, sub: Option<&str>) -> Location {
        Location {
            country: Some(country.as_bytes().try_into().unwrap()),
            subdivision: sub.map(Arc::from),
            asn,
            ..Location::default()
        }
    }

    fn estimates(ms: f32) -> Option<Arc<[Estimate]>> {
        let e = Estimate {
            dc: 0,
            residual_ms: ms,
            networks: 1,
            samples: 1,
            updated: 0,
        };
        Some(Arc::from(vec![e]))
    }

    #[test]
    fn shards_find_every_group_and_changes_leave_published_sets_alone() {
        let mut a = Aggregates::default();
        assert_eq!(a.get(&Group::Asn(1)), None);
        a.apply(
            (0..5000u32)
                .map(|i| (Group::Asn(i), estimates(i as f32)))
                .collect(),
        );
        assert_eq!(a.len(), 5000);
        for i in 0..5000u32 {
            assert_eq!(a.get(&Group::Asn(i)).unwrap()[0].residual_ms, i as f32);
            assert_eq!(a.get(&Group::Country([b'A', i as u8])), None);
        }
        let published = a.clone();
        let mut changes: Vec<_> = (0..100u32).map(|i| (Group::Asn(i), None)).collect();
        changes.push((Group::Asn(100), estimates(-1.0)));
        changes.push((Group::Asn(7000), estimates(7.0)));
        changes.push((Group::Asn(9999), None));
        a.apply(changes);
        assert_eq!(a.len(), 5000 - 100 + 1);
        assert_eq!(a.groups().count(), a.len());
        assert_eq!(a.get(&Group::Asn(5)), None);
        assert_eq!(a.get(&Group::Asn(100)).unwrap()[0].residual_ms, -1.0);
        assert_eq!(a.get(&Group::Asn(7000)).unwrap()[0].residual_ms, 7.0);
        assert_eq!(published.get(&Group::Asn(5)).unwrap()[0].residual_ms, 5.0);
        assert_eq!(
            published.get(&Group::Asn(100)).unwrap()[0].residual_ms,
            100.0
        );
        assert_eq!(published.len(), 5000);
        let shared = a.shards.iter().zip(&published.shards);
        assert!(shared.filter(|(x, y)| Arc::ptr_eq(x, y)).count() > SHARDS / 2);
        a.apply((0..8000u32).map(|i| (Group::Asn(i), None)).collect());
        assert!(a.is_empty());
        assert_eq!(a.groups().count(), 0);
    }

    #[test]
    fn groups_follow_the_levels() {
        let a: IpAddr = "198.51.100.77".parse().unwrap();
        let g = Group::all(a, &loc(Some(3320), "DE", Some("BE")));
        assert_eq!(g[0], Some(Group::AsnCountry(3320, *b"DE")));
        assert_eq!(g[1], Some(Group::Prefix(true, 20, 0xc633_6000)));
        assert_eq!(g[2], Some(Group::Prefix(true, 16, 0xc633_0000)));
        assert_eq!(g[3], Some(Group::Asn(3320)));
        assert!(matches!(g[4], Some(Group::Subdivision(c, _)) if c == *b"DE"));
        assert_eq!(g[5], Some(Group::Country(*b"DE")));
        for (i, g) in g.iter().enumerate() {
            assert_eq!(level_of(&g.unwrap()) as usize, i);
        }
        let none = Group::all(a, &loc(None, "DE", None));
        assert_eq!((none[0], none[3], none[4]), (None, None, None));
        let v6: IpAddr = "2001:db8:1234:5678::1".parse().unwrap();
        let g = Group::all(v6, &loc(Some(0), "JP", None));
        assert_eq!(g[0], None, "AS 0 is no AS");
        assert_eq!(g[1], Some(Group::Prefix(false, 40, 0x2001_0db8_1200_0000)));
        assert_eq!(g[2], Some(Group::Prefix(false, 32, 0x2001_0db8_0000_0000)));
        assert_eq!(level_of(&g[2].unwrap()), Level::PrefixWide);
        assert_eq!(size_of::<Group>(), 16);
    }
}
