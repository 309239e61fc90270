//! The immutable load snapshot the query path reads: member and datacenter → shed share.

use std::sync::{Arc, LazyLock};

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::share::Watermarks;
use crate::closed_set::closed_set;
use crate::hash::mix;

closed_set! {
    /// Where a load value came from.
    pub enum Source {
        /// A health probe reply (HTTP header or JSON body field, or a TCP agent reply).
        Probe => "probe",
        /// `POST /v1/load`.
        Api => "api",
        /// A PromQL query against the operator's Prometheus.
        Prometheus => "prometheus",
        /// Another cluster instance's report.
        Cluster => "cluster",
    }
}

impl Serialize for Source {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One member's or datacenter's published load.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Entry {
    /// The last load value, in the reporter's unit.
    pub load: f64,
    /// `load` as percent of capacity.
    pub utilisation: f64,
    /// Share of clients shed, 0..=1 (after hysteresis and hold).
    pub share: f64,
    /// Where `load` came from.
    pub source: Source,
    /// When `load` was reported (Unix milliseconds).
    pub reported_unix_ms: u64,
    /// Cluster mode: the instance that observed `load` (this one or a peer).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "name")]
    pub instance: Option<Arc<str>>,
    #[serde(skip)]
    pub(crate) watermarks: Watermarks,
    /// Decorrelates the shed clients of different members and datacenters.
    #[serde(skip)]
    pub(crate) salt: u64,
}

fn name<S: serde::Serializer>(name: &Option<Arc<str>>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(name.as_deref().unwrap_or_default())
}

impl Entry {
    /// Whether the client whose subnet hashes to `client_hash` is shed by this entry.
    /// The lowest `share` of the hash space is shed, so raising the share only adds clients
    /// and lowering it only brings back the last ones added.
    pub(crate) fn sheds(&self, client_hash: u64) -> bool {
        if self.share <= 0.0 {
            return false;
        }
        if self.share >= 1.0 {
            return true;
        }
        fraction(mix(client_hash ^ self.salt)) < self.share
    }

    /// Whether the shed decision depends on the client (a share strictly between 0 and 1).
    pub(crate) fn partial(&self) -> bool {
        self.share > 0.0 && self.share < 1.0
    }
}

/// Now as Unix milliseconds (0 before 1970).
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A 64-bit hash as a fraction of the hash space, in [0, 1).
pub(crate) fn fraction(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Member (target key `192.0.2.10/web`) and datacenter (name) entries.
#[derive(Clone, Debug, Default)]
pub struct LoadSnapshot {
    pub(crate) members: FxHashMap<Arc<str>, Entry>,
    pub(crate) datacenters: FxHashMap<Arc<str>, Entry>,
    /// Some entry sheds (computed once, so an idle snapshot costs a query one load).
    shedding: bool,
}

static NONE: LazyLock<LoadSnapshot> = LazyLock::new(LoadSnapshot::default);

impl LoadSnapshot {
    /// The empty snapshot: no load anywhere (the policies then never look).
    pub fn none() -> &'static LoadSnapshot {
        &NONE
    }

    /// A snapshot of these entries.
    pub(crate) fn new(
        members: FxHashMap<Arc<str>, Entry>,
        datacenters: FxHashMap<Arc<str>, Entry>,
    ) -> Self {
        let shedding = members
            .values()
            .chain(datacenters.values())
            .any(|e| e.share > 0.0);
        Self {
            members,
            datacenters,
            shedding,
        }
    }

    /// A snapshot where these members (target keys) and datacenters shed these shares,
    /// reported through the API at load 0 with the default watermarks (tests and tools).
    pub fn from_shares(members: &[(&str, f64)], datacenters: &[(&str, f64)]) -> Self {
        let map = |list: &[(&str, f64)]| -> FxHashMap<Arc<str>, Entry> {
            list.iter()
                .map(|&(name, share)| {
                    let entry = Entry {
                        load: 0.0,
                        utilisation: 0.0,
                        share: share.clamp(0.0, 1.0),
                        source: Source::Api,
                        reported_unix_ms: unix_ms(),
                        instance: None,
                        watermarks: Watermarks::default(),
                        salt: crate::hash::bytes_hash(name.as_bytes()),
                    };
                    (Arc::from(name), entry)
                })
                .collect()
        };
        Self::new(map(members), map(datacenters))
    }

    /// True when nothing sheds: the policies skip every load lookup.
    pub(crate) fn is_idle(&self) -> bool {
        !self.shedding
    }

    /// The entry of a member's health target.
    pub(crate) fn member(&self, target: &str) -> Option<&Entry> {
        self.members.get(target)
    }

    /// The entry of a datacenter.
    pub(crate) fn datacenter(&self, name: &str) -> Option<&Entry> {
        self.datacenters.get(name)
    }

    /// Every entry: `(kind, name, entry)` with kind `member` or `datacenter`.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Arc<str>, &Entry)> {
        self.members
            .iter()
            .map(|(k, e)| ("member", k, e))
            .chain(self.datacenters.iter().map(|(k, e)| ("datacenter", k, e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::bytes_hash;

    fn entry(share: f64, salt: u64) -> Entry {
        Entry {
            load: 0.0,
            utilisation: 0.0,
            share,
            source: Source::Api,
            reported_unix_ms: 0,
            instance: None,
            watermarks: Watermarks::default(),
            salt,
        }
    }

    #[test]
    fn the_shed_clients_grow_with_the_share_and_keep_their_place() {
        let clients: Vec<u64> = (0..20_000u64).map(|i| mix(i * 7919)).collect();
        let mut before: Vec<bool> = vec![false; clients.len()];
        for share in [0.1, 0.3, 0.5, 0.9] {
            let e = entry(share, bytes_hash(b"eu"));
            let now: Vec<bool> = clients.iter().map(|&c| e.sheds(c)).collect();
            let moved = now.iter().filter(|&&s| s).count() as f64 / clients.len() as f64;
            assert!(
                (moved - share).abs() < 0.015,
                "share {share}: moved {moved}"
            );
            assert!(before.iter().zip(&now).all(|(b, n)| !b || *n), "sticky");
            before = now;
        }
        assert!(clients.iter().all(|&c| entry(1.0, 1).sheds(c)));
        assert!(clients.iter().all(|&c| !entry(0.0, 1).sheds(c)));
    }
}
