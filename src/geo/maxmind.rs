//! One memory-mapped MaxMind DB file (GeoIP2/GeoLite2 or flat DB-IP layout) and its lookups.

use std::cell::RefCell;
use std::fs::File;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use rustc_hash::FxHashMap;

use maxminddb::{MaxMindDbError, Mmap, Reader, WithinOptions};

use super::record::Record;
use super::table::{self, Tables};
use super::{GeoError, Locate, Location};

/// How many leading records the sanity check decodes.
const SANITY_RECORDS: usize = 64;

/// Decoded records each thread keeps, per open database, before starting over.
const CACHED_RECORDS: usize = 4096;

/// Identities of opened readers, so a thread's cache never answers for another file.
static READER_IDS: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// Decoded records by (reader, data offset). MaxMind databases store each distinct
    /// record once and many networks point at it (a country database has a few hundred), so
    /// after warm-up a lookup walks the tree and skips decoding.
    static DECODED: RefCell<FxHashMap<(u64, usize), Option<Location>>> =
        RefCell::new(FxHashMap::default());
}

/// The bytes behind a reader: a mapped file or a static image (e.g. `include_bytes!`).
enum Bytes {
    Mapped(Mmap),
    #[cfg(test)]
    Static(&'static [u8]),
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        match self {
            Self::Mapped(map) => map,
            #[cfg(test)]
            Self::Static(bytes) => bytes,
        }
    }
}

/// An open, sanity-checked MaxMind DB.
///
/// The file is memory-mapped: replace it by renaming a new file over it (as `geoipupdate`
/// does), never by rewriting it in place, and call [`super::GeoDb::reload`].
pub(crate) struct MmdbReader {
    reader: Reader<Bytes>,
    /// The networks as flat tables (built after opening).
    tables: OnceLock<Tables>,
    path: PathBuf,
    /// Unique per opened file (the key of the per-thread decoded-record cache).
    id: u64,
}

impl std::fmt::Debug for MmdbReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MmdbReader")
            .field("path", &self.path)
            .field("database_type", &self.database_type())
            .field("build_epoch", &self.build_epoch())
            .finish()
    }
}

impl MmdbReader {
    /// Maps the file, parses its metadata and decodes its first records.
    pub(crate) fn open(path: impl AsRef<Path>) -> Result<Self, GeoError> {
        let path = path.as_ref().to_path_buf();
        let open_err = |source| GeoError::Open {
            path: path.clone(),
            source,
        };
        let file = File::open(&path).map_err(open_err)?;
        // SAFETY: the mapping is read-only. Meridian requires database files to be replaced
        // by rename, not rewritten in place, so the mapped inode does not change under us.
        let map = unsafe { Mmap::map(&file) }.map_err(open_err)?;
        Self::from_bytes(Bytes::Mapped(map), path)
    }

    /// Reads a database image compiled into the binary; `label` stands in for the path.
    #[cfg(test)]
    pub(crate) fn from_static(
        bytes: &'static [u8],
        label: impl Into<PathBuf>,
    ) -> Result<Self, GeoError> {
        Self::from_bytes(Bytes::Static(bytes), label.into())
    }

    fn from_bytes(bytes: Bytes, path: PathBuf) -> Result<Self, GeoError> {
        match Reader::from_source(bytes) {
            Ok(reader) => {
                let id = READER_IDS.fetch_add(1, Ordering::Relaxed);
                let db = Self {
                    reader,
                    tables: OnceLock::new(),
                    path,
                    id,
                };
                db.sanity_check()?;
                Ok(db)
            }
            Err(source) => Err(GeoError::Invalid { path, source }),
        }
    }

    /// Decodes the first records; fails if one cannot be decoded or none carries a country,
    /// continent, coordinates or ASN (not a City/Country/ASN-style database).
    pub(crate) fn sanity_check(&self) -> Result<(), GeoError> {
        let fail = |reason: String| GeoError::Sanity {
            path: self.path.clone(),
            reason,
        };
        let networks = self
            .reader
            .networks(WithinOptions::default())
            .map_err(|e| fail(e.to_string()))?;
        let mut useful = false;
        for item in networks.take(SANITY_RECORDS) {
            let found = item.map_err(|e| fail(e.to_string()))?;
            let record: Option<Record<'_>> = found.decode().map_err(|e| fail(e.to_string()))?;
            useful |= record.is_some_and(|r| r.to_location(0).is_some());
        }
        if useful {
            Ok(())
        } else {
            Err(fail(format!(
                "none of the first {SANITY_RECORDS} records has a country, continent, location or ASN"
            )))
        }
    }

    /// The file this reader was opened from.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// When the database was built (seconds since the Unix epoch).
    pub(crate) fn build_epoch(&self) -> u64 {
        self.reader.metadata().build_epoch
    }

    /// The metadata `database_type`, e.g. `GeoLite2-City` or `DBIP-City-Lite`.
    pub(crate) fn database_type(&self) -> &str {
        &self.reader.metadata().database_type
    }

    /// The English description, else any description the database carries.
    pub(crate) fn description(&self) -> Option<&str> {
        let descriptions = &self.reader.metadata().description;
        descriptions
            .get("en")
            .or_else(|| descriptions.values().next())
            .map(String::as_str)
    }

    /// 4 or 6.
    pub(crate) fn ip_version(&self) -> u16 {
        self.reader.metadata().ip_version
    }

    /// Start fetching what looking up each of `addrs` will read.
    pub(super) fn prefetch(&self, addrs: &[IpAddr]) {
        if let Some(t) = self.tables.get() {
            t.prefetch(addrs);
        }
    }

    /// The matched network's prefix length and what the database says about `addr`.
    ///
    /// IPv4-mapped IPv6 addresses are looked up as IPv4; IPv4 prefix lengths are reported
    /// relative to IPv4 even in IPv6-structured databases.
    pub(super) fn lookup(&self, addr: IpAddr) -> Result<(u8, Option<Location>), MaxMindDbError> {
        let addr = addr.to_canonical();
        if let Some((prefix_len, location)) = self.tables.get().and_then(|t| t.lookup(addr)) {
            let location = location.map(|l| Location {
                prefix_len,
                ..l.clone()
            });
            return Ok((prefix_len, location));
        }
        let found = self.reader.lookup(addr)?;
        let network = found.network()?;
        let prefix_len = if addr.is_ipv4() && network.is_ipv6() {
            // The tree ended above the IPv4 subtree: wider than any IPv4 network.
            network.prefix().saturating_sub(96)
        } else {
            network.prefix()
        };
        let Some(offset) = found.offset() else {
            return Ok((prefix_len, None));
        };
        let key = (self.id, offset);
        let cached = DECODED.with_borrow(|cache| cache.get(&key).cloned());
        let location = match cached {
            Some(location) => location,
            None => {
                let record: Option<Record<'_>> = found.decode()?;
                let location = record.and_then(|r| r.to_location(0));
                DECODED.with_borrow_mut(|cache| {
                    if cache.len() >= CACHED_RECORDS {
                        cache.clear();
                    }
                    cache.insert(key, location.clone());
                });
                location
            }
        };
        Ok((prefix_len, location.map(|l| Location { prefix_len, ..l })))
    }

    /// Build the flat tables lookups use from now on (about a hundred milliseconds for a
    /// million networks; lookups walk the tree until they are ready). Returns the networks
    /// they hold, IPv4 and IPv6.
    pub(crate) fn index_networks(&self) -> Result<(usize, usize), MaxMindDbError> {
        let mut builder = table::Builder::default();
        for item in self.reader.networks(WithinOptions::default())? {
            let found = item?;
            let network = found.network()?;
            let Some(offset) = found.offset() else {
                continue;
            };
            let decode = || {
                found
                    .decode::<Record<'_>>()
                    .ok()
                    .flatten()
                    .and_then(|r| r.to_location(0))
            };
            match network.network() {
                IpAddr::V4(a) => builder.push_v4(u32::from(a), network.prefix(), offset, decode),
                // The IPv4 space of an IPv6 database is ::/96 (its ::ffff:0:0/96 alias is
                // not iterated).
                IpAddr::V6(a) if network.prefix() >= 96 && a.segments()[..6] == [0; 6] => {
                    builder.push_v4(a.to_bits() as u32, network.prefix() - 96, offset, decode);
                }
                IpAddr::V6(a) => {
                    if a.is_unspecified() && network.prefix() < 96 {
                        builder.covers_all_v4();
                    }
                    builder.push_v6(a.to_bits(), network.prefix(), offset, decode);
                }
            }
        }
        let tables = builder.finish();
        let networks = tables.networks();
        let _ = self.tables.set(tables);
        Ok(networks)
    }

    /// Every network the database holds data for (IPv4 networks of an IPv6-structured
    /// database as IPv4), in tree order: the client space `meridian diff` walks.
    pub(crate) fn networks(&self) -> Result<Vec<ipnet::IpNet>, MaxMindDbError> {
        let mut out = Vec::new();
        for item in self.reader.networks(WithinOptions::default())? {
            let found = item?;
            if found.offset().is_none() {
                continue;
            }
            let network = found.network()?;
            let net = match network.network() {
                IpAddr::V6(a) if network.prefix() >= 96 && a.segments()[..6] == [0; 6] => {
                    ipnet::Ipv4Net::new(
                        std::net::Ipv4Addr::from(a.to_bits() as u32),
                        network.prefix() - 96,
                    )
                    .map(ipnet::IpNet::V4)
                }
                addr => ipnet::IpNet::new(addr, network.prefix()),
            };
            if let Ok(net) = net {
                out.push(net);
            }
        }
        Ok(out)
    }

    /// Memory the flat tables take (0 until built).
    pub(crate) fn table_bytes(&self) -> usize {
        self.tables.get().map_or(0, Tables::bytes)
    }

    /// The AS number for `addr`, with the matched prefix length.
    pub(super) fn lookup_asn(&self, addr: IpAddr) -> Result<(u8, Option<u32>), MaxMindDbError> {
        let (prefix_len, location) = self.lookup(addr)?;
        Ok((prefix_len, location.and_then(|l| l.asn)))
    }
}

impl Locate for MmdbReader {
    fn locate(&self, addr: IpAddr) -> Option<Location> {
        match self.lookup(addr) {
            Ok((_, location)) => location,
            Err(error) => {
                tracing::debug!(%addr, path = %self.path.display(), %error, "GeoIP lookup failed");
                None
            }
        }
    }
}
