//! The merged copy of the cluster's keys (members, votes, overrides), fed by the watch; turned into views (pure).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Serialize;

use super::record::{
    Ignored, Key, LoadRecord, MemberRecord, OverrideRecord, VoteRecord, check_member,
    check_override, check_vote, decode, parse_key,
};
use crate::health::quorum::Tally;
use crate::health::{ClusterOverride, ClusterVotes, QuorumRule, Selector, Vote};
use crate::load::Observation;

/// Members that left are remembered this long for `/v1/cluster` (liveness shown as dead).
const DEPARTED_KEPT: usize = 64;

/// Everything under the cluster's prefix that this version understands.
#[derive(Clone, Debug)]
pub(crate) struct Store {
    prefix: String,
    members: BTreeMap<Arc<str>, MemberRecord>,
    /// Instances whose lease ended, with when it was noticed (Unix ms).
    departed: BTreeMap<Arc<str>, (MemberRecord, u64)>,
    votes: BTreeMap<Arc<str>, HashMap<Arc<str>, VoteRecord>>,
    overrides: BTreeMap<Selector, OverrideRecord>,
    /// Load values put since the last [`Store::take_load`]: (instance, observation). They
    /// are handed to the load feed, not kept (each expires by its own TTL).
    load_in: Vec<(Arc<str>, Observation)>,
}

/// One instance in `GET /v1/cluster`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct MemberView {
    pub(crate) instance: String,
    pub(crate) region: String,
    pub(crate) version: String,
    pub(crate) started_unix_ms: u64,
    pub(crate) zone_digest: String,
    /// Its lease is alive.
    pub(crate) alive: bool,
    /// This is the instance answering.
    pub(crate) this: bool,
    /// It serves compiled zones that differ from this instance's.
    pub(crate) drift: bool,
    /// When its lease was seen to end.
    pub(crate) left_unix_ms: Option<u64>,
    /// Targets it votes on.
    pub(crate) votes: usize,
}

impl Store {
    pub(crate) fn new(prefix: String) -> Self {
        Self {
            prefix,
            members: BTreeMap::new(),
            departed: BTreeMap::new(),
            votes: BTreeMap::new(),
            overrides: BTreeMap::new(),
            load_in: Vec::new(),
        }
    }

    /// Replaces everything with a fresh listing of the prefix; members no longer listed
    /// are remembered as departed. Returns what was ignored.
    pub(crate) fn reset<'a>(
        &mut self,
        kvs: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
        now_ms: u64,
    ) -> Vec<Ignored> {
        let before = std::mem::take(&mut self.members);
        self.votes.clear();
        self.overrides.clear();
        self.load_in.clear();
        let ignored = kvs
            .into_iter()
            .filter_map(|(k, v)| self.put(k, v, now_ms).err())
            .collect();
        for (name, record) in before {
            if !self.members.contains_key(&name) {
                self.depart(name, record, now_ms);
            }
        }
        ignored
    }

    /// Applies a put seen by the watch (or written by this instance).
    pub(crate) fn put(&mut self, key: &[u8], value: &[u8], _now_ms: u64) -> Result<(), Ignored> {
        match parse_key(&self.prefix, key)? {
            Key::Member(instance) => {
                let record: MemberRecord = decode(value)?;
                check_member(&instance, &record)?;
                self.departed.remove(&instance);
                self.members.insert(instance, record);
            }
            Key::Vote(instance, target) => {
                let record: VoteRecord = decode(value)?;
                check_vote(&record)?;
                self.votes
                    .entry(instance)
                    .or_default()
                    .insert(target, record);
            }
            Key::Override(selector) => {
                let record: OverrideRecord = decode(value)?;
                check_override(&selector, &record)?;
                self.overrides.insert(selector, record);
            }
            Key::Load(instance, selector) => {
                let record: LoadRecord = decode(value)?;
                let obs = record.observation(&selector)?;
                self.load_in.push((instance, obs));
            }
        }
        Ok(())
    }

    /// Applies a delete (or a lease's expiry) seen by the watch.
    pub(crate) fn delete(&mut self, key: &[u8], now_ms: u64) -> Result<(), Ignored> {
        match parse_key(&self.prefix, key)? {
            Key::Member(instance) => {
                if let Some(record) = self.members.remove(&instance) {
                    self.depart(instance, record, now_ms);
                }
            }
            Key::Vote(instance, target) => {
                if let Some(votes) = self.votes.get_mut(&instance) {
                    votes.remove(&target);
                    if votes.is_empty() {
                        self.votes.remove(&instance);
                    }
                }
            }
            Key::Override(selector) => drop(self.overrides.remove(&selector)),
            // The feed keeps a value until its own expiry.
            Key::Load(..) => {}
        }
        Ok(())
    }

    fn depart(&mut self, name: Arc<str>, record: MemberRecord, now_ms: u64) {
        self.votes.remove(&name);
        self.departed.insert(name, (record, now_ms));
        while self.departed.len() > DEPARTED_KEPT {
            let oldest = self.departed.iter().min_by_key(|(_, (_, at))| *at);
            let Some(oldest) = oldest.map(|(n, _)| n.clone()) else {
                break;
            };
            self.departed.remove(&oldest);
        }
    }

    /// The tracker's view: votes of live instances only, overrides not yet expired.
    pub(crate) fn votes_view(
        &self,
        instance: &Arc<str>,
        rule: QuorumRule,
        min_voters: usize,
        stale: bool,
        now_ms: u64,
    ) -> ClusterVotes {
        let mut votes: HashMap<Arc<str>, Vec<Vote>> = HashMap::new();
        let live = self
            .votes
            .iter()
            .filter(|(i, _)| self.members.contains_key(*i));
        for (voter, targets) in live {
            for (target, r) in targets {
                votes.entry(target.clone()).or_default().push(Vote {
                    instance: voter.clone(),
                    state: r.state,
                    since_unix_ms: r.since_unix_ms,
                    reason: r.reason.clone(),
                    rtt_ms: r.rtt_ms,
                });
            }
        }
        let overrides = self
            .overrides
            .iter()
            .filter(|(_, r)| r.expires_unix_ms.is_none_or(|at| at > now_ms))
            .map(|(sel, r)| (sel.clone(), cluster_override(sel, r)))
            .collect();
        ClusterVotes {
            instance: instance.clone(),
            rule,
            min_voters,
            stale,
            votes,
            overrides,
        }
    }

    /// Every live member (sorted by name), then those that left; drift is judged
    /// against `digest`, this instance's zones.
    pub(crate) fn members(&self, me: &str, digest: &str) -> Vec<MemberView> {
        let view = |name: &Arc<str>, r: &MemberRecord, left: Option<u64>| MemberView {
            instance: name.to_string(),
            region: r.region.clone(),
            version: r.version.clone(),
            started_unix_ms: r.started_unix_ms,
            zone_digest: r.zone_digest.clone(),
            alive: left.is_none(),
            this: &**name == me,
            drift: left.is_none() && r.zone_digest != digest,
            left_unix_ms: left,
            votes: self.votes.get(name).map_or(0, HashMap::len),
        };
        let live = self.members.iter().map(|(n, r)| view(n, r, None));
        let gone = self
            .departed
            .iter()
            .map(|(n, (r, at))| view(n, r, Some(*at)));
        live.chain(gone).collect()
    }

    /// Per target, how many live instances vote it up and down (for metrics).
    pub(crate) fn tallies(&self) -> BTreeMap<Arc<str>, Tally> {
        let mut out: BTreeMap<Arc<str>, Tally> = BTreeMap::new();
        for (voter, targets) in &self.votes {
            if !self.members.contains_key(voter) {
                continue;
            }
            for (target, r) in targets {
                out.entry(target.clone()).or_default().add(r.state);
            }
        }
        out
    }

    /// Load values put since the last call.
    pub(crate) fn take_load(&mut self) -> Vec<(Arc<str>, Observation)> {
        std::mem::take(&mut self.load_in)
    }

    /// The earliest expiry among overrides, to wake up and drop it even without etcd.
    pub(crate) fn next_expiry(&self, now_ms: u64) -> Option<u64> {
        let expiries = self.overrides.values().filter_map(|r| r.expires_unix_ms);
        expiries.filter(|at| *at > now_ms).min()
    }
}

fn cluster_override(selector: &Selector, r: &OverrideRecord) -> ClusterOverride {
    ClusterOverride {
        selector: selector.clone(),
        state: r.state,
        who: r.who.clone(),
        reason: r.reason.clone(),
        set_at_unix_ms: r.set_at_unix_ms,
        expires_unix_ms: r.expires_unix_ms,
        instance: r.instance.as_str().into(),
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
