//! The tracker's table: targets, their rise/fall state and overrides, turned into snapshots and reports.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

pub(crate) use super::event::Event;
use super::overrides::{Forced, ForcedBy, Override, OverrideSet, Selector, Source};
use super::persist::{self, PersistedOverride, PersistedState, PersistedTarget};
use super::probe::ProbeOutcome;
use super::report::{HealthReport, LastProbe, OverrideEntry, TargetStatus};
use super::snapshot::{HealthSnapshot, Status, TargetHealth};
use super::state::{Observed, ProbeState, step};
use super::target::{ProbeKey, TargetSpec};
use super::votes::{ClusterVotes, Verdict, Vote};

/// All health state; owned by the tracker task alone. Time is passed in.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    entries: HashMap<Arc<str>, Entry>,
    /// Targets fed by each distinct probe.
    groups: HashMap<ProbeKey, Vec<Arc<str>>>,
    overrides: OverrideSet,
    /// States read from the state file, applied to the first target set only.
    restored: HashMap<String, PersistedTarget>,
    status_dirty: bool,
    persist_dirty: bool,
    /// Cluster mode: this instance's name, and the latest view of everyone's votes.
    instance: Option<Arc<str>>,
    cluster: Option<Arc<ClusterVotes>>,
}

#[derive(Debug)]
struct Entry {
    spec: TargetSpec,
    state: ProbeState,
    since: SystemTime,
    last: Option<LastProbe>,
    probed: bool,
    forced: Option<ForcedBy>,
    /// Cluster mode: the verdict from every live instance's vote.
    verdict: Option<Verdict>,
}

/// Target counts by effective status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) targets: usize,
    pub(crate) up: usize,
    pub(crate) down: usize,
    pub(crate) drained: usize,
    pub(crate) unknown: usize,
}

/// What the query path sees for an observed state and an override.
pub(crate) fn effective(observed: Observed, forced: Option<&ForcedBy>) -> Status {
    match (forced.map(|f| f.state), observed) {
        (Some(Forced::Up), _) | (None, Observed::Up) => Status::Up,
        (Some(Forced::Down), _) | (None, Observed::Down) => Status::Down,
        (Some(Forced::Drain), _) => Status::Drained,
        (None, Observed::Unknown) => Status::Unknown,
    }
}

impl Entry {
    /// What the probes say: this instance's view, or the cluster's verdict in cluster mode.
    fn observed(&self) -> Observed {
        self.verdict
            .as_ref()
            .map_or(self.state.observed, |v| v.effective)
    }

    fn status(&self) -> Status {
        effective(self.observed(), self.forced.as_ref())
    }

    /// This instance's own vote on the target.
    fn vote(&self, instance: &Arc<str>) -> Vote {
        let last = self.last.as_ref();
        Vote {
            instance: instance.clone(),
            state: self.state.observed,
            since_unix_ms: persist::unix_ms(self.since),
            reason: last
                .and_then(|l| l.failure.as_ref())
                .map(ToString::to_string),
            rtt_ms: last.map(|l| l.rtt.as_secs_f64() * 1000.0),
        }
    }

    /// Recomputes the cluster verdict; the event when the effective state changed.
    fn decide(&mut self, instance: &Arc<str>, view: &ClusterVotes) -> Option<Event> {
        let before = self.observed();
        let local = self.vote(instance);
        let verdict = view.verdict(&self.spec.key, local, self.spec.check.quorum);
        let after = verdict.effective;
        let event = (before != after).then(|| Event::Verdict {
            key: self.spec.key.clone(),
            from: before,
            to: after,
            decided_by: verdict.decided_by,
            tally: verdict.tally,
            rule: verdict.rule,
        });
        self.verdict = Some(verdict);
        event
    }
}

impl Ledger {
    /// A ledger that restores observed states and API overrides from a state file.
    /// Returns the API override selectors that could not be parsed.
    pub(crate) fn restoring(saved: Option<PersistedState>) -> (Self, Vec<String>) {
        let mut ledger = Ledger::default();
        let mut bad = Vec::new();
        if let Some(saved) = saved {
            ledger.restored = saved.targets.into_iter().collect();
            for PersistedOverride { selector, state } in saved.overrides {
                match selector.parse::<Selector>() {
                    Ok(sel) => drop(ledger.overrides.api.insert(sel, state)),
                    Err(_) => bad.push(selector),
                }
            }
        }
        (ledger, bad)
    }

    /// Cluster mode: this instance's votes are published under `instance`.
    pub(crate) fn set_instance(&mut self, instance: Arc<str>) {
        self.instance = Some(instance);
    }

    /// This instance's vote on every target that has one, for publishing.
    pub(crate) fn local_votes(&self) -> Vec<(Arc<str>, Vote)> {
        let Some(instance) = &self.instance else {
            return Vec::new();
        };
        let known = self.entries.values();
        let known = known.filter(|e| e.state.observed != Observed::Unknown);
        known
            .map(|e| (e.spec.key.clone(), e.vote(instance)))
            .collect()
    }

    /// This instance's vote on one target.
    pub(crate) fn local_vote(&self, key: &str) -> Option<Vote> {
        let instance = self.instance.as_ref()?;
        self.entries.get(key).map(|e| e.vote(instance))
    }

    /// A new view of the cluster: every verdict is decided again and cluster overrides replaced.
    pub(crate) fn set_cluster(&mut self, view: Arc<ClusterVotes>) -> Vec<Event> {
        self.overrides.cluster = view
            .overrides
            .iter()
            .map(|(sel, o)| (sel.clone(), o.state))
            .collect();
        self.cluster = Some(view);
        let mut events = self.decide_all();
        events.extend(self.refresh_forced());
        events
    }

    fn decide_all(&mut self) -> Vec<Event> {
        let (Some(instance), Some(view)) = (&self.instance, &self.cluster) else {
            return Vec::new();
        };
        let mut events = Vec::new();
        for e in self.entries.values_mut() {
            let before = e.status();
            events.extend(e.decide(instance, view));
            self.status_dirty |= e.status() != before;
        }
        events
    }

    /// Replaces the target set (already merged by key). Kept targets keep their state; a
    /// target whose probe changed keeps its observed state but restarts its counts; each
    /// target no longer in the set gives an [`Event::Removed`].
    pub(crate) fn set_targets(&mut self, specs: Vec<TargetSpec>, now: SystemTime) -> Vec<Event> {
        let mut old = std::mem::take(&mut self.entries);
        let restored = std::mem::take(&mut self.restored);
        self.groups.clear();
        for spec in specs {
            let entry = match old.remove(&spec.key) {
                Some(mut e) => {
                    if e.spec.probe_key() != spec.probe_key() || e.spec.check != spec.check {
                        e.state = ProbeState::starting(e.state.observed);
                    }
                    e.spec = spec;
                    e
                }
                None => {
                    let saved = restored.get(&*spec.key);
                    new_entry(spec, saved, now)
                }
            };
            let group = self.groups.entry(entry.spec.probe_key()).or_default();
            group.push(entry.spec.key.clone());
            self.entries.insert(entry.spec.key.clone(), entry);
        }
        self.status_dirty = true;
        self.persist_dirty |= !old.is_empty();
        let mut events: Vec<Event> = old.into_keys().map(|key| Event::Removed { key }).collect();
        events.extend(self.decide_all());
        events.extend(self.refresh_forced());
        events
    }

    /// Applies one probe outcome to every target fed by that probe.
    pub(crate) fn record(
        &mut self,
        probe: &ProbeKey,
        outcome: &ProbeOutcome,
        now: SystemTime,
    ) -> Vec<Event> {
        let Some(keys) = self.groups.get(probe) else {
            return Vec::new(); // a probe stopped by a reconcile
        };
        let mut events = Vec::new();
        for key in keys {
            let Some(e) = self.entries.get_mut(key) else {
                continue;
            };
            let before = e.status();
            let (state, transition) =
                step(e.state, outcome.ok, e.spec.check.rise, e.spec.check.fall);
            e.state = state;
            e.last = Some(LastProbe::new(outcome, now));
            e.probed = true;
            if let Some(transition) = transition {
                e.since = now;
                self.persist_dirty = true;
                let reason = outcome.failure.clone();
                events.push(Event::Observed {
                    key: key.clone(),
                    transition,
                    reason,
                });
                if let (Some(instance), Some(view)) = (&self.instance, &self.cluster) {
                    events.extend(e.decide(instance, view));
                }
            }
            self.status_dirty |= e.status() != before;
        }
        events
    }

    pub(crate) fn set_override(&mut self, o: Override, source: Source) -> Vec<Event> {
        self.overrides_of(source).insert(o.selector, o.state);
        self.persist_dirty |= source == Source::Api;
        self.refresh_forced()
    }

    /// Removes an override; `false` when there was none for that selector.
    pub(crate) fn clear_override(
        &mut self,
        selector: &Selector,
        source: Source,
    ) -> (bool, Vec<Event>) {
        let existed = self.overrides_of(source).remove(selector).is_some();
        self.persist_dirty |= existed && source == Source::Api;
        (existed, self.refresh_forced())
    }

    /// Replaces every file override at once (the file was re-read).
    pub(crate) fn replace_file_overrides(&mut self, overrides: Vec<Override>) -> Vec<Event> {
        self.overrides.file = overrides
            .into_iter()
            .map(|o| (o.selector, o.state))
            .collect();
        self.refresh_forced()
    }

    fn overrides_of(
        &mut self,
        source: Source,
    ) -> &mut std::collections::BTreeMap<Selector, Forced> {
        match source {
            Source::File => &mut self.overrides.file,
            Source::Api => &mut self.overrides.api,
            Source::Cluster => &mut self.overrides.cluster,
        }
    }

    fn refresh_forced(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        for (key, e) in &mut self.entries {
            let s = &e.spec;
            let forced = self.overrides.resolve(key, &s.datacenter, &s.pools);
            if forced == e.forced {
                continue;
            }
            let before = e.status();
            e.forced = forced;
            let status = e.status();
            self.status_dirty |= status != before;
            events.push(Event::Forced {
                key: key.clone(),
                status,
                by: e.forced.clone(),
            });
        }
        events
    }

    /// The override file's selectors that name no target (they change nothing).
    pub(crate) fn unknown_file_selectors(&self) -> Vec<Selector> {
        let targets = || {
            self.entries
                .iter()
                .map(|(k, e)| (&**k, &*e.spec.datacenter, &e.spec.pools[..]))
        };
        let file = self.overrides.file.keys();
        file.filter(|sel| !sel.names_any(targets()))
            .cloned()
            .collect()
    }

    /// Whether every target has been probed at least once.
    pub(crate) fn all_probed(&self) -> bool {
        self.entries.values().all(|e| e.probed)
    }

    pub(crate) fn counts(&self) -> Counts {
        let mut c = Counts {
            targets: self.entries.len(),
            ..Counts::default()
        };
        for e in self.entries.values() {
            match e.status() {
                Status::Up => c.up += 1,
                Status::Down => c.down += 1,
                Status::Drained => c.drained += 1,
                Status::Unknown => c.unknown += 1,
            }
        }
        c
    }

    /// True once after any change of a target's effective status or of the target set.
    pub(crate) fn take_status_dirty(&mut self) -> bool {
        std::mem::take(&mut self.status_dirty)
    }

    /// True once after any change worth writing to the state file.
    pub(crate) fn take_persist_dirty(&mut self) -> bool {
        std::mem::take(&mut self.persist_dirty)
    }

    pub(crate) fn snapshot(&self, generation: u64) -> HealthSnapshot {
        let targets = self.entries.iter().map(|(key, e)| {
            let forced = e.forced.is_some();
            (
                key.clone(),
                TargetHealth {
                    status: e.status(),
                    forced,
                },
            )
        });
        HealthSnapshot::new(generation, targets.collect())
    }

    pub(crate) fn report(&self, generation: u64, ready: bool) -> HealthReport {
        let mut targets: Vec<TargetStatus> = self.entries.values().map(target_status).collect();
        targets.sort_by(|a, b| a.key.cmp(&b.key));
        let overrides = self
            .overrides
            .entries()
            .map(|(sel, state, source)| OverrideEntry {
                selector: sel.to_string(),
                state,
                source,
            });
        HealthReport {
            generation,
            ready,
            targets,
            overrides: overrides.collect(),
            recent: Vec::new(),
        }
    }

    /// What to write to the state file.
    pub(crate) fn persisted(&self, now: SystemTime) -> PersistedState {
        let targets = self
            .entries
            .iter()
            .filter(|(_, e)| e.state.observed != Observed::Unknown);
        let targets = targets.map(|(key, e)| {
            let since_unix_ms = persist::unix_ms(e.since);
            (
                key.to_string(),
                PersistedTarget {
                    observed: e.state.observed,
                    since_unix_ms,
                },
            )
        });
        let overrides = self
            .overrides
            .api
            .iter()
            .map(|(sel, state)| PersistedOverride {
                selector: sel.to_string(),
                state: *state,
            });
        PersistedState {
            version: persist::FORMAT_VERSION,
            saved_at_unix_ms: persist::unix_ms(now),
            targets: targets.collect(),
            overrides: overrides.collect(),
        }
    }
}

fn new_entry(spec: TargetSpec, restored: Option<&PersistedTarget>, now: SystemTime) -> Entry {
    let (observed, since) = restored.map_or((Observed::Unknown, now), |r| {
        (r.observed, persist::from_unix_ms(r.since_unix_ms))
    });
    Entry {
        spec,
        state: ProbeState::starting(observed),
        since,
        last: None,
        probed: false,
        forced: None,
        verdict: None,
    }
}

fn target_status(e: &Entry) -> TargetStatus {
    TargetStatus {
        key: e.spec.key.clone(),
        check: e.spec.check.name.clone(),
        probe_addr: e.spec.probe_addr,
        datacenter: e.spec.datacenter.clone(),
        pools: e.spec.pools.clone(),
        status: e.status(),
        observed: e.state.observed,
        since: e.since,
        forced: e.forced.clone(),
        cluster: e.verdict.clone(),
        last_probe: e.last.clone(),
        successes: e.state.successes,
        failures: e.state.failures,
    }
}

#[cfg(test)]
#[path = "ledger_tests.rs"]
mod tests;
