//! A flat IPv4 table built from a database's networks, for lookups that touch two or three
//! cache lines instead of walking twenty-odd tree nodes spread over the file.
//!
//! Networks are kept as they are in the database (start, prefix length, record), sorted by
//! start and packed into one `u64` each, with a direct index by the top 20 bits of the
//! address: slot `b` holds the last network starting at or before the first address of /20
//! number `b`, so a lookup reads two adjacent slots and then searches the one or two
//! networks between them (one cache line): two cache misses at most, where the database's
//! tree costs one per level below the cached top. Records are decoded once per distinct
//! record. Memory: 4 MiB of index plus 8 bytes per network.

use std::collections::HashMap;

use super::Location;

/// Bits of the address the index is keyed by.
const INDEX_BITS: u32 = 20;
/// Index slots: one per /20, plus the end.
const BUCKETS: usize = 1 << INDEX_BITS;

/// One database network.
#[derive(Clone, Copy)]
struct Entry {
    start: u32,
    prefix: u8,
    /// Index into `records`.
    record: u32,
}

/// Most distinct records a table holds (24 bits of a packed entry).
const MAX_RECORDS: usize = 1 << 24;

/// The table: answers exactly what the tree walk answers for IPv4 addresses with data.
pub struct V4Index {
    /// `index[b]`: the last entry starting at or before the first address of /20 number `b`
    /// (0 when none does); the networks holding addresses of that /20 are among
    /// `entries[index[b]..=index[b + 1]]`.
    index: Box<[u32]>,
    /// Start in the high 32 bits, then the prefix length (8 bits) and the record (24 bits).
    entries: Box<[u64]>,
    /// Distinct decoded records (`None`: a record without a usable location).
    records: Box<[Option<Location>]>,
}

/// Collects networks in ascending order of start (the order a tree walk yields them).
#[derive(Default)]
pub struct Builder {
    networks: Vec<Entry>,
    records: Vec<Option<Location>>,
    by_offset: HashMap<usize, u32>,
}

impl Builder {
    /// Add the network `start/prefix` whose record sits at `offset`; `decode` is called the
    /// first time an offset is seen.
    pub fn push(
        &mut self,
        start: u32,
        prefix: u8,
        offset: usize,
        decode: impl FnOnce() -> Option<Location>,
    ) {
        let record = match self.by_offset.get(&offset) {
            Some(r) => *r,
            None => {
                let r = self.records.len() as u32;
                self.records.push(decode());
                self.by_offset.insert(offset, r);
                r
            }
        };
        self.networks.push(Entry {
            start,
            prefix: prefix.min(32),
            record,
        });
    }

    /// The finished table; `None` when the networks are not disjoint and ascending.
    pub fn finish(mut self) -> Option<V4Index> {
        let ordered = self
            .networks
            .windows(2)
            .all(|w| u64::from(w[0].start) + size(w[0].prefix) <= u64::from(w[1].start));
        if !ordered || self.records.len() > MAX_RECORDS {
            return None;
        }
        let entries: Vec<u64> = self.networks.iter().map(pack).collect();
        let mut index = Vec::with_capacity(BUCKETS + 1);
        let mut last = 0;
        for bucket in 0..=BUCKETS as u64 {
            let low = bucket << (32 - INDEX_BITS);
            while last + 1 < self.networks.len() && u64::from(self.networks[last + 1].start) <= low
            {
                last += 1;
            }
            index.push(u32::try_from(last).ok()?);
        }
        self.networks.clear();
        Some(V4Index {
            index: index.into(),
            entries: entries.into(),
            records: std::mem::take(&mut self.records).into(),
        })
    }
}

/// Addresses in a network of `prefix` bits.
fn size(prefix: u8) -> u64 {
    1u64 << (32 - u32::from(prefix.min(32)))
}

fn end(e: &Entry) -> u64 {
    u64::from(e.start) + size(e.prefix)
}

fn pack(e: &Entry) -> u64 {
    (u64::from(e.start) << 32) | (u64::from(e.prefix) << 24) | u64::from(e.record)
}

fn unpack(v: u64) -> Entry {
    Entry {
        start: (v >> 32) as u32,
        prefix: (v >> 24) as u8,
        record: (v & 0xff_ffff) as u32,
    }
}

impl V4Index {
    /// The matched network's prefix length and location, or `None` when no network with
    /// data holds `addr` (the caller then asks the tree, which knows the empty network).
    pub fn lookup(&self, addr: u32) -> Option<(u8, Option<&Location>)> {
        let bucket = (addr >> (32 - INDEX_BITS)) as usize;
        let from = *self.index.get(bucket)? as usize;
        let to = *self.index.get(bucket + 1)? as usize;
        let slice = self.entries.get(from..=to)?;
        let key = (u64::from(addr) << 32) | 0xffff_ffff;
        let i = slice.partition_point(|e| *e <= key);
        let e = unpack(*slice.get(i.checked_sub(1)?)?);
        if u64::from(addr) >= end(&e) {
            return None;
        }
        let location = self.records.get(e.record as usize)?.as_ref();
        Some((e.prefix, location))
    }

    /// Networks held.
    pub fn networks(&self) -> usize {
        self.entries.len()
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

    fn ip(s: &str) -> u32 {
        u32::from(s.parse::<std::net::Ipv4Addr>().unwrap())
    }

    #[test]
    fn finds_networks_wide_and_narrow() {
        let mut b = Builder::default();
        b.push(ip("1.0.0.0"), 8, 100, || at(b"AU"));
        b.push(ip("2.3.4.0"), 24, 200, || at(b"FR"));
        b.push(ip("2.3.5.0"), 25, 100, || {
            panic!("offset 100 is decoded once")
        });
        b.push(ip("255.255.255.255"), 32, 300, || None);
        let t = b.finish().unwrap();
        let country = |a: &str| t.lookup(ip(a)).map(|(p, l)| (p, l.and_then(|l| l.country)));
        assert_eq!(country("1.2.3.4"), Some((8, Some(*b"AU"))));
        assert_eq!(country("1.255.255.255"), Some((8, Some(*b"AU"))));
        assert_eq!(country("2.3.4.200"), Some((24, Some(*b"FR"))));
        assert_eq!(country("2.3.5.127"), Some((25, Some(*b"AU"))));
        assert_eq!(country("2.3.5.128"), None);
        assert_eq!(country("0.255.255.255"), None);
        assert_eq!(country("255.255.255.255"), Some((32, None)));
        assert_eq!(t.networks(), 4);
    }

    #[test]
    fn overlapping_networks_are_refused() {
        let mut b = Builder::default();
        b.push(ip("10.0.0.0"), 8, 1, || None);
        b.push(ip("10.1.0.0"), 16, 2, || None);
        assert!(b.finish().is_none());
    }
}
