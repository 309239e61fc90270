//! Compiled zones and the pure name lookup: longest-suffix zone match, delegations, wildcards.

use std::collections::HashMap;
use std::sync::Arc;

use hickory_proto::rr::domain::Label;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::health::target::TargetSpec;
use crate::policy::Service;

/// Every zone Meridian is authoritative for, keyed by origin (case-insensitive).
#[derive(Debug, Default)]
pub struct ZoneSet {
    zones: HashMap<Name, Arc<Zone>>,
    /// Smallest and largest label count of any origin, to bound the suffix walk.
    min_labels: usize,
    max_labels: usize,
}

/// Labels in a name, counting a leading `*` (hickory's `num_labels` leaves it out).
pub fn label_count(name: &Name) -> usize {
    name.iter().count()
}

impl ZoneSet {
    pub fn new(zones: impl IntoIterator<Item = Zone>) -> Self {
        let zones: HashMap<Name, Arc<Zone>> = zones
            .into_iter()
            .map(|z| (z.origin.clone(), Arc::new(z)))
            .collect();
        let labels = zones.keys().map(label_count);
        let min_labels = labels.clone().min().unwrap_or(0);
        let max_labels = labels.max().unwrap_or(0);
        Self {
            zones,
            min_labels,
            max_labels,
        }
    }

    /// The zone with the longest origin that is a suffix of `name`.
    pub fn find(&self, name: &Name) -> Option<&Zone> {
        let labels = label_count(name);
        if self.zones.is_empty() || labels < self.min_labels {
            return None;
        }
        (self.min_labels..=labels.min(self.max_labels))
            .rev()
            .find_map(|n| self.zones.get(&name.trim_to(n)))
            .map(Arc::as_ref)
    }

    pub fn len(&self) -> usize {
        self.zones.len()
    }

    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }

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
    pub origin: Name,
    /// The SOA record at the apex.
    pub soa: Record,
    /// TTL for negative answers: min(SOA TTL, SOA minimum).
    pub negative_ttl: u32,
    /// Every owner name and every empty non-terminal, case-insensitive.
    nodes: HashMap<Name, Node>,
    /// The health targets this zone's pools ask to be probed.
    pub targets: Vec<TargetSpec>,
    /// The origin as text, for metric labels and status output.
    pub name: Arc<str>,
    /// The file the zone was loaded from.
    pub source: String,
}

/// What lives at one name.
#[derive(Debug, Default)]
pub struct Node {
    pub rrsets: Vec<RRset>,
    /// A delegation point (NS below the apex).
    pub cut: bool,
    /// A dynamic service answered by a policy.
    pub service: Option<Arc<Service>>,
}

/// All records of one type at one name.
#[derive(Debug, Clone)]
pub struct RRset {
    pub rtype: RecordType,
    pub records: Vec<Record>,
}

impl Node {
    pub fn rrset(&self, rtype: RecordType) -> Option<&RRset> {
        self.rrsets.iter().find(|s| s.rtype == rtype)
    }

    /// True when the node has no data of its own (an empty non-terminal).
    pub fn is_empty(&self) -> bool {
        self.rrsets.is_empty() && self.service.is_none()
    }
}

/// Where a name lands inside a zone.
#[derive(Debug)]
pub enum Lookup<'z> {
    /// The name exists (directly or through a wildcard).
    Found { node: &'z Node, wildcard: bool },
    /// The name is at or below a zone cut: answer with a referral.
    Referral { cut: &'z Name, node: &'z Node },
    /// The name does not exist.
    NxDomain,
}

impl Zone {
    pub fn new(origin: Name, soa: Record, nodes: HashMap<Name, Node>) -> Self {
        let negative_ttl = match &soa.data {
            RData::SOA(s) => soa.ttl.min(s.minimum),
            _ => soa.ttl,
        };
        Self {
            soa,
            negative_ttl,
            name: origin.to_ascii().into(),
            origin,
            nodes,
            targets: Vec::new(),
            source: String::new(),
        }
    }

    pub fn node(&self, name: &Name) -> Option<&Node> {
        self.nodes.get(name)
    }

    pub fn nodes(&self) -> impl Iterator<Item = (&Name, &Node)> {
        self.nodes.iter()
    }

    /// Walk from the apex towards `qname` (which must be in this zone), stopping at cuts.
    /// `ds_at_cut` answers DS at the cut itself from the parent side, as RFC 4035 asks.
    pub fn lookup(&self, qname: &Name, ds_at_cut: bool) -> Lookup<'_> {
        let apex = label_count(&self.origin);
        let depth = label_count(qname);
        let mut encloser = &self.origin;
        for n in apex..=depth {
            let (name, node) = match self.nodes.get_key_value(&qname.trim_to(n)) {
                Some(found) => found,
                None => return self.wildcard(encloser),
            };
            if node.cut && n > apex && !(n == depth && ds_at_cut) {
                return Lookup::Referral { cut: name, node };
            }
            encloser = name;
        }
        match self.nodes.get(qname) {
            Some(node) => Lookup::Found {
                node,
                wildcard: false,
            },
            None => Lookup::NxDomain,
        }
    }

    /// RFC 4592: the source of synthesis is `*.<closest encloser>`.
    fn wildcard(&self, encloser: &Name) -> Lookup<'_> {
        let Ok(star) = Label::from_raw_bytes(b"*").and_then(|l| encloser.prepend_label(l)) else {
            return Lookup::NxDomain;
        };
        match self.nodes.get(&star) {
            Some(node) => Lookup::Found {
                node,
                wildcard: true,
            },
            None => Lookup::NxDomain,
        }
    }
}
