//! Flat network tables built from a database's networks, for lookups that touch about one
//! uncached cache line instead of walking twenty to forty tree nodes spread over the file.
//!
//! Networks are kept as they are in the database (start, prefix length, record), in a
//! static search tree per family (`search_tree.rs`) keyed by the network's start: the whole
//! IPv4 address, or the top 64 bits of an IPv6 address. IPv6 networks longer than /64 (rare
//! in GeoIP data) leave their /64 to the database's tree, as do addresses no network with
//! data holds. Records are decoded once per distinct record. Memory: 8 bytes per IPv4
//! network and 12 per IPv6 network, plus a few percent of separators.

use std::collections::HashMap;
use std::net::IpAddr;

use smallvec::SmallVec;

use super::Location;
use super::search_tree::{self, Key, SearchTree};

/// The record of a /64 holding IPv6 networks longer than /64: ask the database's tree.
/// Also the mask of the record's 24 bits in a value.
const TREE: u32 = (1 << 24) - 1;
/// Most distinct records a table holds: every 24-bit record index below `TREE`.
const MAX_RECORDS: usize = TREE as usize;

/// A network's prefix length (8 bits) and record (24 bits).
fn value(prefix: u8, record: u32) -> u32 {
    (u32::from(prefix) << 24) | record
}

/// One family's networks, keyed by start.
struct Family<K: Key> {
    tree: SearchTree<K>,
    /// Bits of the key (32 or 64): a prefix of this length is one key.
    bits: u32,
}

impl<K: Key + Into<u128>> Family<K> {
    /// The matched network's prefix length and record; `None` when the tree must answer.
    fn find(&self, key: K) -> Option<(u8, u32)> {
        let (_, start, v) = self.tree.floor(key)?;
        let (prefix, record) = ((v >> 24) as u8, v & TREE);
        let inside = key.into() < start.into() + size(self.bits, prefix);
        (inside && record != TREE).then_some((prefix, record))
    }
}

/// A family's networks as they arrive, checked to be disjoint and ascending.
struct Networks<K: Key> {
    tree: search_tree::Builder<K>,
    bits: u32,
    /// The first key past the last network; `None` once the order broke.
    end: Option<u128>,
}

impl<K: Key + Into<u128>> Networks<K> {
    fn new(bits: u32) -> Self {
        Self {
            tree: search_tree::Builder::default(),
            bits,
            end: Some(0),
        }
    }

    fn push(&mut self, start: K, prefix: u8, record: u32) {
        let Some(end) = self.end else {
            return;
        };
        let first = start.into();
        self.end = (first >= end).then(|| first + size(self.bits, prefix));
        self.tree.push(start, value(prefix, record));
    }

    fn finish(self) -> Option<Family<K>> {
        self.end?;
        Some(Family {
            tree: self.tree.finish(),
            bits: self.bits,
        })
    }
}

/// The IPv6 table's key of an address: its top 64 bits.
fn v6_key(addr: u128) -> u64 {
    (addr >> 64) as u64
}

/// Keys a network of `prefix` bits spans.
fn size(bits: u32, prefix: u8) -> u128 {
    1u128 << (bits - u32::from(prefix).min(bits))
}

/// The tables of one database.
pub(crate) struct Tables {
    v4: Option<Family<u32>>,
    v6: Option<Family<u64>>,
    /// Distinct decoded records (`None`: a record without a usable location).
    records: Box<[Option<Location>]>,
}

/// Collects networks in ascending order of start (the order a tree walk yields them).
pub(crate) struct Builder {
    v4: Networks<u32>,
    v6: Networks<u64>,
    /// True once a network holding all IPv4 space was seen (the tree answers those).
    v4_unusable: bool,
    records: Vec<Option<Location>>,
    by_offset: HashMap<usize, u32>,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            v4: Networks::new(32),
            v6: Networks::new(64),
            v4_unusable: false,
            records: Vec::new(),
            by_offset: HashMap::new(),
        }
    }
}

impl Builder {
    fn record(&mut self, offset: usize, decode: impl FnOnce() -> Option<Location>) -> u32 {
        if let Some(r) = self.by_offset.get(&offset) {
            return *r;
        }
        let r = self.records.len().min(MAX_RECORDS) as u32;
        self.records.push(decode());
        self.by_offset.insert(offset, r);
        r
    }

    /// Add the IPv4 network `start/prefix` whose record sits at `offset`; `decode` is
    /// called the first time an offset is seen.
    pub(crate) fn push_v4(
        &mut self,
        start: u32,
        prefix: u8,
        offset: usize,
        decode: impl FnOnce() -> Option<Location>,
    ) {
        let record = self.record(offset, decode);
        self.v4.push(start, prefix.min(32), record);
    }

    /// Add the IPv6 network `start/prefix`, as `push_v4`.
    pub(crate) fn push_v6(
        &mut self,
        start: u128,
        prefix: u8,
        offset: usize,
        decode: impl FnOnce() -> Option<Location>,
    ) {
        let key = v6_key(start);
        if prefix > 64 {
            // The /64 goes to the tree, once.
            if self.v6.tree.last() != Some((key, value(64, TREE))) {
                self.v6.push(key, 64, TREE);
            }
            return;
        }
        let record = self.record(offset, decode);
        self.v6.push(key, prefix, record);
    }

    /// A network holding all IPv4 space: one record answers every IPv4 address, and the
    /// tree handles that case.
    pub(crate) fn covers_all_v4(&mut self) {
        self.v4_unusable = true;
    }

    /// The finished tables; a family whose networks are not disjoint and ascending, or a
    /// database with too many records, gets none (its lookups walk the tree).
    pub(crate) fn finish(self) -> Tables {
        let fits = self.records.len() < MAX_RECORDS;
        let v4 = self.v4.finish().filter(|_| fits && !self.v4_unusable);
        let v6 = self.v6.finish().filter(|_| fits);
        Tables {
            v4,
            v6,
            records: self.records.into(),
        }
    }
}

impl Tables {
    /// The matched network's prefix length and location, or `None` when the database's
    /// tree must answer (no table for the family, no network with data holds `addr`, or
    /// it lies in a /64 with longer networks or in ::/64).
    pub(crate) fn lookup(&self, addr: IpAddr) -> Option<(u8, Option<&Location>)> {
        let (prefix, record) = match addr {
            IpAddr::V4(a) => self.v4.as_ref()?.find(u32::from(a))?,
            IpAddr::V6(a) => {
                let key = v6_key(a.to_bits());
                if key == 0 {
                    return None;
                }
                self.v6.as_ref()?.find(key)?
            }
        };
        Some((prefix, self.records.get(record as usize)?.as_ref()))
    }

    /// Start fetching what looking up each of `addrs` will read.
    pub(crate) fn prefetch(&self, addrs: &[IpAddr]) {
        let mut v4: SmallVec<[u32; 32]> = SmallVec::new();
        let mut v6: SmallVec<[u64; 32]> = SmallVec::new();
        for addr in addrs {
            match addr.to_canonical() {
                IpAddr::V4(a) => v4.push(u32::from(a)),
                IpAddr::V6(a) => v6.push(v6_key(a.to_bits())),
            }
        }
        if let Some(f) = self.v4.as_ref().filter(|_| !v4.is_empty()) {
            f.tree.prefetch(&v4);
        }
        if let Some(f) = self.v6.as_ref().filter(|_| !v6.is_empty()) {
            f.tree.prefetch(&v6);
        }
    }

    /// Networks held per family (IPv4, IPv6; a /64 left to the tree counts as one).
    pub(crate) fn networks(&self) -> (usize, usize) {
        (
            self.v4.as_ref().map_or(0, |f| f.tree.len()),
            self.v6.as_ref().map_or(0, |f| f.tree.len()),
        )
    }

    /// Bytes of both tables.
    pub(crate) fn bytes(&self) -> usize {
        self.v4.as_ref().map_or(0, |f| f.tree.bytes())
            + self.v6.as_ref().map_or(0, |f| f.tree.bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(country: &[u8; 2]) -> Option<Location> {
        Some(Location {
            country: Some(*country),
            ..Location::default()
        })
    }

    fn v4(s: &str) -> u32 {
        u32::from(s.parse::<std::net::Ipv4Addr>().unwrap())
    }

    fn v6(s: &str) -> u128 {
        s.parse::<std::net::Ipv6Addr>().unwrap().to_bits()
    }

    fn country(t: &Tables, a: &str) -> Option<(u8, Option<[u8; 2]>)> {
        let addr: IpAddr = a.parse().unwrap();
        t.lookup(addr).map(|(p, l)| (p, l.and_then(|l| l.country)))
    }

    #[test]
    fn finds_ipv4_networks_wide_and_narrow() {
        let mut b = Builder::default();
        b.push_v4(v4("1.0.0.0"), 8, 100, || at(b"AU"));
        b.push_v4(v4("2.3.4.0"), 24, 200, || at(b"FR"));
        b.push_v4(v4("2.3.5.0"), 25, 100, || {
            panic!("offset 100 is decoded once")
        });
        b.push_v4(v4("255.255.255.255"), 32, 300, || None);
        let t = b.finish();
        assert_eq!(country(&t, "1.2.3.4"), Some((8, Some(*b"AU"))));
        assert_eq!(country(&t, "1.255.255.255"), Some((8, Some(*b"AU"))));
        assert_eq!(country(&t, "2.3.4.200"), Some((24, Some(*b"FR"))));
        assert_eq!(country(&t, "2.3.5.127"), Some((25, Some(*b"AU"))));
        assert_eq!(country(&t, "2.3.5.128"), None);
        assert_eq!(country(&t, "0.255.255.255"), None);
        assert_eq!(country(&t, "255.255.255.255"), Some((32, None)));
        assert_eq!(t.networks(), (4, 0));
    }

    #[test]
    fn finds_ipv6_networks_and_leaves_long_ones_to_the_tree() {
        let mut b = Builder::default();
        b.push_v6(v6("::"), 8, 1, || at(b"ZZ"));
        b.push_v6(v6("2001:db8::"), 32, 2, || at(b"DE"));
        b.push_v6(v6("2a00:1::"), 48, 3, || at(b"NL"));
        b.push_v6(v6("2a00:2::1:0"), 112, 4, || at(b"BE"));
        b.push_v6(v6("2a00:2::2:0"), 112, 5, || at(b"LU"));
        b.push_v6(v6("ffff:ffff:ffff:ffff::"), 64, 6, || at(b"XX"));
        let t = b.finish();
        assert_eq!(country(&t, "2001:db8:ffff::1"), Some((32, Some(*b"DE"))));
        assert_eq!(country(&t, "2a00:1:0:ffff::"), Some((48, Some(*b"NL"))));
        assert_eq!(country(&t, "2a00:1:1::"), None, "past the /48");
        assert_eq!(country(&t, "2a00:2::1:5"), None, "a /64 left to the tree");
        assert_eq!(
            country(&t, "2a00:2:0:1::"),
            None,
            "the next /64 has no network"
        );
        assert_eq!(country(&t, "::1"), None, "::/64 is the tree's");
        assert_eq!(country(&t, "0:1::"), Some((8, Some(*b"ZZ"))));
        assert_eq!(
            country(&t, "ffff:ffff:ffff:ffff:ffff::"),
            Some((64, Some(*b"XX")))
        );
        assert_eq!(t.networks(), (0, 5), "the two /112s share one /64 entry");
    }

    #[test]
    fn overlapping_networks_leave_that_family_to_the_tree() {
        let mut b = Builder::default();
        b.push_v4(v4("10.0.0.0"), 8, 1, || None);
        b.push_v4(v4("10.1.0.0"), 16, 2, || None);
        b.push_v6(v6("2001:db8::"), 32, 1, || None);
        let t = b.finish();
        assert_eq!(t.networks(), (0, 1));
        assert_eq!(country(&t, "10.1.2.3"), None);
    }

    #[test]
    fn a_network_holding_all_ipv4_space_leaves_ipv4_to_the_tree() {
        let mut b = Builder::default();
        b.push_v4(v4("10.0.0.0"), 8, 1, || at(b"US"));
        b.covers_all_v4();
        assert_eq!(b.finish().networks(), (0, 0));
    }
}
