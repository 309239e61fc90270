//! `GeoDb`: the published GeoIP readers behind `ArcSwap`, reloaded on demand or on file change.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;

use super::{GeoError, Locate, Location, MmdbReader};

/// One consistent pair of readers; a query loads it once.
#[derive(Debug)]
struct Generation {
    primary: MmdbReader,
    asn: Option<MmdbReader>,
}

/// What a file looked like when last (re)loaded; a change triggers a reload.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

type Stamps = (Option<Stamp>, Option<Stamp>);

/// Metadata of one loaded database, for status pages and metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatabaseInfo {
    pub(crate) path: PathBuf,
    pub(crate) database_type: String,
    pub(crate) description: Option<String>,
    /// Seconds since the Unix epoch.
    pub(crate) build_epoch: u64,
    pub(crate) ip_version: u16,
}

impl From<&MmdbReader> for DatabaseInfo {
    fn from(reader: &MmdbReader) -> Self {
        Self {
            path: reader.path().to_path_buf(),
            database_type: reader.database_type().to_owned(),
            description: reader.description().map(str::to_owned),
            build_epoch: reader.build_epoch(),
            ip_version: reader.ip_version(),
        }
    }
}

/// The GeoIP database (and optional ASN database) currently in use.
pub struct GeoDb {
    primary_path: PathBuf,
    asn_path: Option<PathBuf>,
    current: ArcSwap<Generation>,
    /// Stamps of the files behind `current`; also serialises reloads.
    loaded: Mutex<Stamps>,
    reloads: tokio::sync::watch::Sender<u64>,
}

impl GeoDb {
    /// Opens the location database (City, Country or flat layout) and, optionally, an ASN
    /// database whose AS numbers are merged into every location.
    pub fn open(path: impl Into<PathBuf>, asn_path: Option<PathBuf>) -> Result<Self, GeoError> {
        let primary_path = path.into();
        let stamps = (stamp(&primary_path), asn_path.as_deref().and_then(stamp));
        let generation = Arc::new(open_generation(&primary_path, asn_path.as_deref())?);
        index_in_background(Arc::clone(&generation));
        Ok(Self {
            primary_path,
            asn_path,
            current: ArcSwap::new(generation),
            loaded: Mutex::new(stamps),
            reloads: tokio::sync::watch::Sender::new(0),
        })
    }

    /// Re-opens both files and swaps them in only if both open and pass the sanity lookup;
    /// otherwise the previous readers stay in use and the error names the failing file.
    pub(crate) fn reload(&self) -> Result<(), GeoError> {
        let mut loaded = self
            .loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let stamps = self.stamps();
        let generation = Arc::new(open_generation(
            &self.primary_path,
            self.asn_path.as_deref(),
        )?);
        index_in_background(Arc::clone(&generation));
        self.current.store(generation);
        *loaded = stamps;
        self.reloads.send_modify(|count| *count += 1);
        Ok(())
    }

    /// Counts successful reloads; `changed()` on the receiver wakes after each swap.
    pub(crate) fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.reloads.subscribe()
    }

    /// Build time of the location database in use (seconds since the Unix epoch).
    pub fn build_epoch(&self) -> u64 {
        self.current.load().primary.build_epoch()
    }

    /// The location database's `database_type` (e.g. `GeoLite2-City`).
    #[cfg(test)]
    pub(crate) fn database_type(&self) -> String {
        self.current.load().primary.database_type().to_owned()
    }

    /// The location database's description, if it has one.
    #[cfg(test)]
    pub(crate) fn description(&self) -> Option<String> {
        self.current.load().primary.description().map(str::to_owned)
    }

    /// Memory the location database's network tables take: 0 until they are built (lookups
    /// walk the database's tree until then).
    pub fn table_bytes(&self) -> usize {
        self.current.load().primary.table_bytes()
    }

    /// Every network of the location database in use (see `meridian diff`).
    pub(crate) fn networks(&self) -> Result<Vec<ipnet::IpNet>, GeoError> {
        let generation = self.current.load();
        generation
            .primary
            .networks()
            .map_err(|source| GeoError::Invalid {
                path: generation.primary.path().to_path_buf(),
                source,
            })
    }

    /// Metadata of the location database in use.
    pub(crate) fn info(&self) -> DatabaseInfo {
        DatabaseInfo::from(&self.current.load().primary)
    }

    /// Metadata of the ASN database in use, if one is configured.
    #[cfg(test)]
    pub(crate) fn asn_info(&self) -> Option<DatabaseInfo> {
        self.current.load().asn.as_ref().map(DatabaseInfo::from)
    }

    /// Polls both files every `interval` and reloads when their size, mtime or inode
    /// change, until `cancel` fires. A failed reload is logged once per file version.
    pub(crate) async fn watch(self: Arc<Self>, interval: Duration, cancel: CancellationToken) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failed: Option<Stamps> = None;
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let now = self.stamps();
            // A reload holds the lock while it opens files: skip this tick rather than block.
            let unchanged = match self.loaded.try_lock() {
                Ok(loaded) => *loaded == now,
                Err(std::sync::TryLockError::Poisoned(p)) => *p.into_inner() == now,
                Err(std::sync::TryLockError::WouldBlock) => true,
            };
            if unchanged || failed.as_ref() == Some(&now) {
                continue;
            }
            failed = (!self.reload_in_background().await).then_some(now);
        }
    }

    /// Reloads off the runtime threads and logs the outcome; true if the swap happened.
    async fn reload_in_background(self: &Arc<Self>) -> bool {
        let db = Arc::clone(self);
        match tokio::task::spawn_blocking(move || db.reload()).await {
            Ok(Ok(())) => {
                let info = self.info();
                tracing::info!(
                    path = %info.path.display(),
                    database_type = %info.database_type,
                    build_epoch = info.build_epoch,
                    "GeoIP database reloaded"
                );
                true
            }
            Ok(Err(error)) => {
                tracing::warn!(
                    path = %error.path().display(),
                    error = %error,
                    "GeoIP database reload failed; keeping the previous database"
                );
                false
            }
            Err(join) => {
                tracing::error!(path = %self.primary_path.display(), error = %join, "GeoIP reload task failed");
                false
            }
        }
    }

    fn stamps(&self) -> Stamps {
        (
            stamp(&self.primary_path),
            self.asn_path.as_deref().and_then(stamp),
        )
    }
}

impl Locate for GeoDb {
    fn prefetch(&self, addrs: &[IpAddr]) {
        self.current.load().primary.prefetch(addrs);
    }

    fn generation(&self) -> u64 {
        *self.reloads.borrow()
    }

    fn locate(&self, addr: IpAddr) -> Option<Location> {
        let generation = self.current.load();
        let (prefix_len, location) = match generation.primary.lookup(addr) {
            Ok((prefix_len, location)) => (Some(prefix_len), location),
            Err(error) => {
                tracing::debug!(%addr, %error, "GeoIP lookup failed");
                (None, None)
            }
        };
        match &generation.asn {
            None => location,
            Some(asn) => merge_asn(location, prefix_len, asn.lookup_asn(addr).ok()),
        }
    }
}

/// Adds the ASN database's answer; the result holds on the intersection of both networks.
fn merge_asn(
    location: Option<Location>,
    primary_prefix: Option<u8>,
    asn: Option<(u8, Option<u32>)>,
) -> Option<Location> {
    let Some((asn_prefix, asn)) = asn else {
        return location;
    };
    let mut location = match (location, asn) {
        (Some(location), _) => location,
        (None, Some(_)) => Location::default(),
        (None, None) => return None,
    };
    location.asn = asn.or(location.asn);
    location.prefix_len = primary_prefix.unwrap_or(0).max(asn_prefix);
    Some(location)
}

/// Build the flat network tables of a new generation on a thread of their own; lookups walk
/// the search tree until they are ready.
fn index_in_background(generation: Arc<Generation>) {
    let spawned = std::thread::Builder::new()
        .name("geoip-index".into())
        .spawn(move || {
            for reader in std::iter::once(&generation.primary).chain(&generation.asn) {
                let started = std::time::Instant::now();
                match reader.index_networks() {
                    Ok((v4, v6)) => tracing::info!(
                        path = %reader.path().display(),
                        v4,
                        v6,
                        kib = reader.table_bytes() / 1024,
                        ms = started.elapsed().as_millis() as u64,
                        "GeoIP network tables built"
                    ),
                    Err(error) => tracing::warn!(
                        path = %reader.path().display(),
                        %error,
                        "GeoIP network tables not built; lookups walk the tree"
                    ),
                }
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "GeoIP network tables not built; lookups walk the tree");
    }
}

fn open_generation(primary: &Path, asn: Option<&Path>) -> Result<Generation, GeoError> {
    Ok(Generation {
        primary: MmdbReader::open(primary)?,
        asn: asn.map(MmdbReader::open).transpose()?,
    })
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Stamp {
        len: meta.len(),
        modified: meta.modified().ok(),
        inode,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::fixtures::{build_into, geoip_dir};
    use crate::geo::testdb::Layout;

    const EPOCH: u64 = 1_767_225_600;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address parses")
    }

    /// Replaces `path` atomically (rename), as a database update must.
    fn replace(path: &Path, bytes: &[u8]) {
        let tmp = path.with_extension("new");
        std::fs::write(&tmp, bytes).expect("writes");
        std::fs::rename(&tmp, path).expect("renames");
    }

    fn fixture() -> (tempfile::TempDir, PathBuf, GeoDb) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = build_into(dir.path(), "city.mmdb", Layout::City, EPOCH);
        let db = GeoDb::open(&path, None).expect("opens");
        (dir, path, db)
    }

    fn assert_names(error: &GeoError, path: &Path) {
        assert_eq!(error.path(), path);
        assert!(
            error.to_string().contains(&path.display().to_string()),
            "{error}"
        );
    }

    #[test]
    fn missing_files_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("absent.mmdb");
        let error = GeoDb::open(&missing, None).err().expect("fails");
        assert!(matches!(error, GeoError::Open { .. }));
        assert_names(&error, &missing);
        let city = geoip_dir().join("test-city.mmdb");
        let error = GeoDb::open(city, Some(missing.clone()))
            .err()
            .expect("fails");
        assert_names(&error, &missing);
    }

    #[test]
    fn corrupt_replacement_keeps_the_old_reader() {
        let (_dir, path, db) = fixture();
        let subscriber = db.subscribe();
        let before = db.locate(ip("192.0.2.1"));
        assert!(before.is_some());
        let real = std::fs::read(geoip_dir().join("test-city.mmdb")).expect("reads");
        for garbage in [&b"not a database"[..], &real[..real.len() / 2], &[]] {
            replace(&path, garbage);
            let error = db.reload().expect_err("corrupt file is refused");
            assert!(matches!(error, GeoError::Invalid { .. }), "{error:?}");
            assert_names(&error, &path);
            assert_eq!(db.locate(ip("192.0.2.1")), before);
            assert_eq!(db.build_epoch(), EPOCH);
        }
        assert_eq!(*subscriber.borrow(), 0, "no swap happened");
    }

    #[test]
    fn database_without_known_fields_fails_the_sanity_lookup() {
        let (dir, path, db) = fixture();
        let mut other = maxminddb_writer::Database::default();
        other.metadata.binary_format_major_version = 2;
        other.metadata.database_type = "Unrelated".into();
        let value = other.insert_value(std::collections::HashMap::from([("colour", "blue")]));
        let net: maxminddb_writer::paths::IpAddrWithMask = "10.0.0.0/8".parse().expect("network");
        other.insert_node(net, value.expect("value"));
        let bytes = other.write_to(Vec::new()).expect("writes");
        replace(&path, &bytes);
        let error = db.reload().expect_err("refused");
        assert!(matches!(error, GeoError::Sanity { .. }), "{error:?}");
        assert_names(&error, &path);
        assert_eq!(db.database_type(), "Meridian-Test-City");
        let description = db.description().expect("test database has a description");
        assert!(description.contains("test-city.toml"), "{description}");
        drop(dir);
    }

    #[test]
    fn valid_replacement_is_swapped_in() {
        let (dir, path, db) = fixture();
        let subscriber = db.subscribe();
        assert_eq!(db.generation(), 0);
        let newer = build_into(dir.path(), "newer.mmdb", Layout::Flat, EPOCH + 60);
        std::fs::rename(&newer, &path).expect("renames");
        db.reload().expect("reloads");
        assert_eq!(
            db.generation(),
            1,
            "whoever caches locations sees the reload"
        );
        assert_eq!(db.build_epoch(), EPOCH + 60);
        assert_eq!(db.info().database_type, "Meridian-Test-City-Flat");
        assert_eq!(*subscriber.borrow(), 1);
    }

    #[tokio::test]
    async fn watch_reloads_changed_files_until_cancelled() {
        let (dir, path, db) = fixture();
        let db = Arc::new(db);
        let mut reloads = db.subscribe();
        let cancel = CancellationToken::new();
        let task = tokio::spawn(Arc::clone(&db).watch(Duration::from_millis(5), cancel.clone()));
        let newer = build_into(dir.path(), "newer.mmdb", Layout::City, EPOCH + 1);
        std::fs::rename(&newer, &path).expect("renames");
        tokio::time::timeout(Duration::from_secs(10), reloads.changed())
            .await
            .expect("reloaded in time")
            .expect("sender alive");
        assert_eq!(db.build_epoch(), EPOCH + 1);
        cancel.cancel();
        task.await.expect("watch stops cleanly");
    }

    #[test]
    fn merge_takes_the_longer_prefix() {
        let base = Location {
            country: Some(*b"US"),
            prefix_len: 16,
            ..Location::default()
        };
        let merged = merge_asn(Some(base.clone()), Some(16), Some((24, Some(64496))));
        assert_eq!(
            merged.map(|l| (l.asn, l.prefix_len)),
            Some((Some(64496), 24))
        );
        let only_asn = merge_asn(None, Some(8), Some((20, Some(1))));
        assert_eq!(
            only_asn.map(|l| (l.country, l.prefix_len)),
            Some((None, 20))
        );
        assert_eq!(merge_asn(None, Some(8), Some((20, None))), None);
        assert_eq!(merge_asn(Some(base.clone()), Some(16), None), Some(base));
    }
}
