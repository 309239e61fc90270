//! Compiled zones and the pure name lookup: longest-suffix zone match, delegations, wildcards.

use std::collections::HashMap;
use std::fmt::Write as _;

use rustc_hash::FxHashMap;
use std::sync::Arc;

use hickory_proto::rr::{Name, RData, Record, RecordType};

pub mod key;
pub(crate) mod wire;

use key::{WireKey, key_of, wildcard_key};
use wire::WireSet;

use crate::health::target::TargetSpec;
use crate::policy::Service;

/// Every zone Meridian is authoritative for, keyed by origin (case-insensitive).
#[derive(Debug, Default)]
pub struct ZoneSet {
    zones: FxHashMap<Box<[u8]>, Arc<Zone>>,
    /// The distinct label counts of the origins, longest first: the only suffixes worth
    /// looking up.
    depths: Vec<usize>,
}

/// Labels in a name, counting a leading `*` (hickory's `num_labels` leaves it out).
pub(crate) fn label_count(name: &Name) -> usize {
    name.iter().count()
}

impl ZoneSet {
    /// A set of `zones`, keyed by origin.
    pub fn new(zones: impl IntoIterator<Item = Zone>) -> Self {
        let zones: FxHashMap<Box<[u8]>, Arc<Zone>> = zones
            .into_iter()
            .map(|z| (key_of(&z.origin), Arc::new(z)))
            .collect();
        let mut depths: Vec<usize> = zones.values().map(|z| label_count(&z.origin)).collect();
        depths.sort_unstable_by(|a, b| b.cmp(a));
        depths.dedup();
        Self { zones, depths }
    }

    /// One digest of every zone's sources, hex: instances serving equal zones agree on it.
    pub(crate) fn digest(&self) -> String {
        let mut zones: Vec<&Arc<Zone>> = self.zones.values().collect();
        zones.sort_by(|a, b| a.name.cmp(&b.name));
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        for z in zones {
            ctx.update(z.name.as_bytes());
            ctx.update(&z.digest);
        }
        let digest = ctx.finish();
        digest.as_ref().iter().fold(String::new(), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
    }

    /// `find` for a name already turned into a key.
    pub fn find_key(&self, key: &WireKey) -> Option<&Zone> {
        self.depths
            .iter()
            .filter(|d| **d <= key.labels())
            .find_map(|d| self.zones.get(key.suffix(*d)))
            .map(Arc::as_ref)
    }

    /// How many zones.
    pub fn len(&self) -> usize {
        self.zones.len()
    }

    /// Whether there are no zones.
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }

    /// Every zone, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Zone> {
        self.zones.values().map(Arc::as_ref)
    }

    /// Every zone's health targets, identical ones merged (probed once).
    pub fn targets(&self) -> Vec<TargetSpec> {
        let all = self
            .iter()
            .flat_map(|z| z.targets.iter().cloned())
            .collect();
        crate::health::target::merge_targets(all).0
    }
}

/// One authoritative zone.
#[derive(Debug)]
pub struct Zone {
    /// The apex.
    pub origin: Name,
    /// The SOA record at the apex.
    pub(crate) soa: Record,
    /// The SOA as negative answers carry it, with TTL = min(SOA TTL, SOA minimum).
    pub(crate) negative: RRset,
    /// Labels in the origin.
    pub(crate) origin_labels: usize,
    /// Every owner name and every empty non-terminal, case-insensitive.
    nodes: FxHashMap<Box<[u8]>, Node>,
    /// Every name that exists in the zone (owners and empty non-terminals).
    names: Vec<Name>,
    /// Whether any name below the apex is a delegation (lookups must then walk the tree).
    has_cuts: bool,
    /// The health targets this zone's pools ask to be probed.
    pub(crate) targets: Vec<TargetSpec>,
    /// The origin as text, for metric labels and status output.
    pub(crate) name: Arc<str>,
    /// The file the zone was loaded from.
    pub(crate) source: String,
    /// SHA-256 of the zone file and every file it read (CIDR maps), for drift detection.
    pub(crate) digest: [u8; 32],
    /// DNSSEC keys and settings (`[dnssec]`), when the zone has them.
    pub signing: Option<Arc<crate::dnssec::Signing>>,
}

/// What lives at one name.
#[derive(Debug, Default)]
pub struct Node {
    pub(crate) rrsets: Vec<RRset>,
    /// A delegation point (NS below the apex).
    pub(crate) cut: bool,
    /// A dynamic service answered by a policy.
    pub service: Option<Arc<Service>>,
}

/// All records of one type at one name.
#[derive(Debug, Clone)]
pub(crate) struct RRset {
    pub(crate) rtype: RecordType,
    pub(crate) records: Vec<Record>,
    /// The records pre-encoded for replies (set when the zone is built; `None` when they
    /// cannot be, and replies encode the records one by one).
    pub(crate) wire: Option<WireSet>,
}

impl RRset {
    pub(crate) fn new(rtype: RecordType, records: Vec<Record>) -> Self {
        Self {
            rtype,
            records,
            wire: None,
        }
    }
}

impl Node {
    pub(crate) fn rrset(&self, rtype: RecordType) -> Option<&RRset> {
        self.rrsets.iter().find(|s| s.rtype == rtype)
    }

    /// True when the node has no data of its own (an empty non-terminal).
    pub(crate) fn is_empty(&self) -> bool {
        self.rrsets.is_empty() && self.service.is_none()
    }
}

/// Where a name lands inside a zone.
#[derive(Debug)]
pub enum Lookup<'z> {
    /// The name exists (directly or through a wildcard).
    Found {
        /// The node.
        node: &'z Node,
        /// Whether a wildcard matched.
        wildcard: bool,
    },
    /// The name is at or below a zone cut: answer with a referral.
    Referral {
        /// The node at the zone cut.
        node: &'z Node,
    },
    /// The name does not exist.
    NxDomain,
}

impl Zone {
    pub(crate) fn new(origin: Name, soa: Record, mut nodes: HashMap<Name, Node>) -> Self {
        let negative_ttl = match &soa.data {
            RData::SOA(s) => soa.ttl.min(s.minimum),
            _ => soa.ttl,
        };
        let has_cuts = nodes.values().any(|n| n.cut);
        for (name, node) in &mut nodes {
            for set in &mut node.rrsets {
                set.wire = WireSet::encode(name, &set.records, &origin);
            }
        }
        let mut negative = RRset::new(RecordType::SOA, vec![soa.clone()]);
        negative.records[0].ttl = negative_ttl;
        negative.wire = WireSet::encode(&origin, &negative.records, &origin);
        Self {
            soa,
            negative,
            origin_labels: label_count(&origin),
            has_cuts,
            names: nodes.keys().cloned().collect(),
            nodes: nodes.into_iter().map(|(k, v)| (key_of(&k), v)).collect(),
            name: origin.to_ascii().into(),
            origin,
            targets: Vec::new(),
            source: String::new(),
            digest: [0; 32],
            signing: None,
        }
    }

    /// The node owning exactly `name`.
    pub fn node(&self, name: &Name) -> Option<&Node> {
        self.nodes.get(WireKey::new(name).full())
    }

    /// Every node of the zone.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.values()
    }

    /// Every name that exists in the zone.
    pub fn names(&self) -> impl Iterator<Item = &Name> {
        self.names.iter()
    }

    /// Walk from the apex towards `qname` (which must be in this zone), stopping at cuts.
    /// `ds_at_cut` answers DS at the cut itself from the parent side, as RFC 4035 asks.
    pub fn lookup(&self, qname: &Name, ds_at_cut: bool) -> Lookup<'_> {
        self.lookup_key(&WireKey::new(qname), ds_at_cut)
    }

    /// `lookup` for a name already turned into a key.
    pub(crate) fn lookup_key(&self, key: &WireKey, ds_at_cut: bool) -> Lookup<'_> {
        if !self.has_cuts
            && let Some(node) = self.nodes.get(key.full())
        {
            return Lookup::Found {
                node,
                wildcard: false,
            };
        }
        // The apex always exists and is never a cut: start below it.
        let (apex, depth) = (self.origin_labels, key.labels());
        let mut found = None;
        for n in apex + 1..=depth {
            // Without cuts the whole name was looked up above, and missed.
            let known_miss = n == depth && !self.has_cuts;
            let Some(node) = (!known_miss)
                .then(|| self.nodes.get(key.suffix(n)))
                .flatten()
            else {
                return self.wildcard(key.suffix(n - 1));
            };
            if node.cut && !(n == depth && ds_at_cut) {
                return Lookup::Referral { node };
            }
            found = Some(node);
        }
        match found.or_else(|| self.nodes.get(key.full())) {
            Some(node) => Lookup::Found {
                node,
                wildcard: false,
            },
            None => Lookup::NxDomain,
        }
    }

    /// RFC 4592: the source of synthesis is `*.<closest encloser>`.
    fn wildcard(&self, encloser: &[u8]) -> Lookup<'_> {
        let mut buf = [0; 258];
        match self.nodes.get(wildcard_key(encloser, &mut buf)) {
            Some(node) => Lookup::Found {
                node,
                wildcard: true,
            },
            None => Lookup::NxDomain,
        }
    }
}
