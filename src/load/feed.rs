//! The load feed: the single writer of load state. It takes load values from probes, the
//! admin API and Prometheus (the most recent value wins per member or datacenter), expires
//! them after the TTL, runs the control rule and publishes a [`LoadSnapshot`] by swap.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use rustc_hash::FxHashMap;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::peer::{Observation, Sharer};
use super::read::{ReadError, Sample};
use super::share::{Control, ShedState, Watermarks, step};
use super::snapshot::{Entry, LoadSnapshot, Source, unix_ms};
use crate::hash::bytes_hash;
use crate::health::check::CheckKind;
use crate::health::target::ProbeKey;
use crate::zone::ZoneSet;

/// How often the feed steps the control rule, expires values and publishes.
pub(crate) const TICK: Duration = Duration::from_millis(100);

/// What a member or datacenter is keyed by.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    /// A health target, `192.0.2.10/web`.
    Member(Arc<str>),
    /// A datacenter name.
    Datacenter(Arc<str>),
}

impl Key {
    /// The selector a shared value is stored under.
    pub(crate) fn selector(&self) -> String {
        match self {
            Key::Member(k) => k.to_string(),
            Key::Datacenter(d) => format!("datacenter:{d}"),
        }
    }
}

/// One configured member (health target) that may carry load.
#[derive(Clone, Debug)]
pub(crate) struct MemberPlan {
    pub(crate) watermarks: Watermarks,
    pub(crate) pools: Vec<Arc<str>>,
}

/// One configured datacenter.
#[derive(Clone, Debug)]
pub(crate) struct DcPlan {
    pub(crate) watermarks: Watermarks,
    /// A PromQL query giving the datacenter's load.
    pub(crate) query: Option<Arc<str>>,
    /// Whether a zone set its watermarks or query.
    pub(crate) configured: bool,
}

/// What may carry load, from the compiled zones; replaced on reload.
#[derive(Clone, Debug, Default)]
pub(crate) struct LoadPlan {
    pub(crate) members: HashMap<Arc<str>, MemberPlan>,
    pub(crate) datacenters: HashMap<Arc<str>, DcPlan>,
    /// The members each load-reading probe reports for.
    pub(crate) by_probe: HashMap<ProbeKey, Vec<Arc<str>>>,
}

impl LoadPlan {
    /// What the compiled zones let carry load: every health target and every datacenter.
    pub(crate) fn from_zones(zones: &ZoneSet) -> Self {
        let mut plan = Self::default();
        for t in zones.targets() {
            let reads = match &t.check.kind {
                CheckKind::Http(c) | CheckKind::Https(c) => c.load.is_some(),
                CheckKind::Tcp(c) => c.load.is_some(),
            };
            if reads {
                let members = plan.by_probe.entry(t.probe_key()).or_default();
                members.push(t.key.clone());
            }
            plan.members.insert(
                t.key.clone(),
                MemberPlan {
                    watermarks: t.check.watermarks.unwrap_or_default(),
                    pools: t.pools.clone(),
                },
            );
        }
        for dc in zones.iter().flat_map(|z| z.load_datacenters.iter()) {
            // The first zone that sets watermarks or a query for a datacenter wins.
            let e = plan.datacenters.entry(dc.name.clone()).or_insert(DcPlan {
                watermarks: Watermarks::default(),
                query: None,
                configured: false,
            });
            if !e.configured && (dc.watermarks.is_some() || dc.query.is_some()) {
                e.watermarks = dc.watermarks.unwrap_or_default();
                e.query.clone_from(&dc.query);
                e.configured = true;
            }
        }
        plan
    }

    fn watermarks(&self, key: &Key) -> Option<Watermarks> {
        match key {
            Key::Member(k) => self.members.get(k).map(|m| m.watermarks),
            Key::Datacenter(k) => self.datacenters.get(k).map(|d| d.watermarks),
        }
    }

    /// The keys a selector names: `192.0.2.10/web` (or `member:`/`target:` before it),
    /// `pool:NAME` (every member of the pool), `datacenter:NAME`.
    pub(crate) fn resolve(&self, selector: &str) -> Result<Vec<Key>, String> {
        let selector = selector.trim();
        if let Some(dc) = selector.strip_prefix("datacenter:") {
            return match self.datacenters.get_key_value(dc) {
                Some((k, _)) => Ok(vec![Key::Datacenter(k.clone())]),
                None => Err(format!("unknown datacenter `{dc}`")),
            };
        }
        if let Some(pool) = selector.strip_prefix("pool:") {
            let mut keys: Vec<Key> = self
                .members
                .iter()
                .filter(|(_, m)| m.pools.iter().any(|p| &**p == pool))
                .map(|(k, _)| Key::Member(k.clone()))
                .collect();
            keys.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
            return if keys.is_empty() {
                Err(format!(
                    "unknown pool `{pool}` (or it has no health-checked member)"
                ))
            } else {
                Ok(keys)
            };
        }
        let target = selector
            .strip_prefix("member:")
            .or_else(|| selector.strip_prefix("target:"))
            .unwrap_or(selector);
        match self.members.get_key_value(target) {
            Some((k, _)) => Ok(vec![Key::Member(k.clone())]),
            None => Err(format!(
                "unknown member `{target}`: use a health target `ADDRESS/CHECK`, `pool:NAME` or `datacenter:NAME`"
            )),
        }
    }
}

/// Everything the feed is told.
#[derive(Debug)]
pub(crate) enum FeedMsg {
    /// The reloaded plan.
    Plan(Arc<LoadPlan>),
    /// A probe's reply was read (or could not be).
    Probe(Arc<ProbeKey>, Result<Sample, ReadError>),
    /// Values from the API or Prometheus, observed here.
    Report(Vec<(Key, Sample)>, Source),
    /// Cluster mode: this instance's name, and where its own observations go to be shared.
    #[cfg_attr(
        not(feature = "cluster"),
        allow(dead_code, reason = "sent by the etcd link")
    )]
    Share(Arc<str>, mpsc::UnboundedSender<Observation>),
    /// Cluster mode: values another instance observed.
    #[cfg_attr(
        not(feature = "cluster"),
        allow(dead_code, reason = "sent by the etcd link")
    )]
    Peer(Arc<str>, Vec<(Key, Observation)>),
}

/// The control settings and the TTL of a value.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FeedConfig {
    pub(crate) control: Control,
    pub(crate) ttl: Duration,
}

/// Who observed a value, when, and until when it counts (on the feed's clock).
struct Origin {
    instance: Option<Arc<str>>,
    observed_unix_ms: u64,
    expires_ms: u64,
}

#[derive(Clone, Debug)]
struct Slot {
    sample: Option<Sample>,
    load: f64,
    utilisation: f64,
    source: Source,
    reported_unix_ms: u64,
    /// The instance that observed it (cluster mode).
    instance: Option<Arc<str>>,
    expires_ms: u64,
    state: ShedState,
}

/// The pure state of the feed (the task around it only adds time and channels).
#[derive(Debug)]
pub(crate) struct Feed {
    config: FeedConfig,
    plan: Arc<LoadPlan>,
    slots: HashMap<Key, Slot>,
    /// Cluster mode: this instance's name and what of its observations to share.
    sharing: Option<(Arc<str>, Sharer<Key>)>,
}

/// How a sample reads as a load value and utilisation under `wm`.
pub(crate) fn reading(sample: Sample, wm: &Watermarks) -> (f64, f64) {
    match sample {
        Sample::Value(v) => (v, wm.utilisation(v)),
        Sample::Percent(p) => (p * wm.capacity / 100.0, p),
        Sample::Saturated => {
            let u = wm.shed_full.max(100.0);
            (u * wm.capacity / 100.0, u)
        }
    }
}

impl Feed {
    pub(crate) fn new(config: FeedConfig) -> Self {
        Self {
            config,
            plan: Arc::default(),
            slots: HashMap::new(),
            sharing: None,
        }
    }

    pub(crate) fn set_plan(&mut self, plan: Arc<LoadPlan>) {
        self.slots.retain(|k, _| plan.watermarks(k).is_some());
        self.plan = plan;
    }

    /// Cluster mode: own observations are offered for sharing, marked as this instance's.
    pub(crate) fn share_as(&mut self, instance: Arc<str>) {
        let ttl_ms = self.config.ttl.as_millis() as u64;
        self.sharing = Some((instance, Sharer::new(ttl_ms)));
    }

    /// Records a value observed here at `now_ms` (the feed's monotonic clock); unknown keys
    /// are ignored. Returns what to share with the cluster, if anything.
    pub(crate) fn report(
        &mut self,
        key: Key,
        sample: Sample,
        source: Source,
        now_ms: u64,
    ) -> Option<Observation> {
        let wm = self.plan.watermarks(&key)?;
        let observed = unix_ms();
        let ttl_ms = self.config.ttl.as_millis() as u64;
        let origin = Origin {
            instance: self.sharing.as_ref().map(|(i, _)| i.clone()),
            observed_unix_ms: observed,
            expires_ms: now_ms + ttl_ms,
        };
        self.apply(&key, &wm, sample, source, origin, now_ms);
        let (_, sharer) = self.sharing.as_mut()?;
        let obs = Observation {
            selector: key.selector(),
            sample,
            source,
            observed_unix_ms: observed,
            expires_unix_ms: observed + ttl_ms,
        };
        sharer.offer(&key, obs, now_ms)
    }

    /// Records a value another instance observed, unless this one holds a more recent
    /// observation or it has expired (by the observer's TTL). Whether it was taken.
    pub(crate) fn report_peer(
        &mut self,
        instance: Arc<str>,
        key: Key,
        obs: &Observation,
        now_ms: u64,
    ) -> bool {
        let now_unix = unix_ms();
        let Some(wm) = self.plan.watermarks(&key) else {
            return false;
        };
        if obs.expires_unix_ms <= now_unix {
            return false;
        }
        let newer = self
            .slots
            .get(&key)
            .is_some_and(|s| s.sample.is_some() && s.reported_unix_ms > obs.observed_unix_ms);
        if newer {
            return false;
        }
        let origin = Origin {
            instance: Some(instance),
            observed_unix_ms: obs.observed_unix_ms,
            expires_ms: now_ms + (obs.expires_unix_ms - now_unix),
        };
        self.apply(&key, &wm, obs.sample, obs.source, origin, now_ms);
        true
    }

    /// Own observations whose sharing waited for the write interval.
    pub(crate) fn share_due(&mut self, now_ms: u64) -> Vec<Observation> {
        self.sharing
            .as_mut()
            .map_or_else(Vec::new, |(_, s)| s.due(now_ms))
    }

    /// Sets `key`'s value (its watermarks `wm`) and steps its control state.
    fn apply(
        &mut self,
        key: &Key,
        wm: &Watermarks,
        sample: Sample,
        source: Source,
        origin: Origin,
        now_ms: u64,
    ) {
        let (load, utilisation) = reading(sample, wm);
        let slot = self.slots.entry(key.clone()).or_insert(Slot {
            sample: None,
            load,
            utilisation,
            source,
            reported_unix_ms: 0,
            instance: None,
            expires_ms: origin.expires_ms,
            state: ShedState::default(),
        });
        slot.sample = Some(sample);
        (slot.load, slot.utilisation, slot.source) = (load, utilisation, source);
        slot.reported_unix_ms = origin.observed_unix_ms;
        slot.instance = origin.instance;
        slot.expires_ms = origin.expires_ms;
        slot.state = step(&self.config.control, wm, slot.state, utilisation, now_ms);
    }

    /// The keys a probe's replies report for.
    pub(crate) fn probe_keys(&self, probe: &ProbeKey) -> Vec<Key> {
        self.plan
            .by_probe
            .get(probe)
            .map_or_else(Vec::new, |members| {
                members.iter().map(|k| Key::Member(k.clone())).collect()
            })
    }

    /// Steps every slot at `now_ms` (expired values count as no load and are dropped once
    /// nothing is shed) and returns the snapshot.
    pub(crate) fn tick(&mut self, now_ms: u64) -> LoadSnapshot {
        let control = self.config.control;
        let plan = self.plan.clone();
        self.slots.retain(|key, slot| {
            let Some(wm) = plan.watermarks(key) else {
                return false;
            };
            if slot.sample.is_some() && now_ms >= slot.expires_ms {
                slot.sample = None;
                (slot.load, slot.utilisation) = (0.0, 0.0);
            }
            slot.state = step(&control, &wm, slot.state, slot.utilisation, now_ms);
            slot.sample.is_some() || slot.state.share > 0.0
        });
        let mut members = FxHashMap::default();
        let mut datacenters = FxHashMap::default();
        for (key, slot) in &self.slots {
            let (name, map) = match key {
                Key::Member(k) => (k, &mut members),
                Key::Datacenter(k) => (k, &mut datacenters),
            };
            let entry = Entry {
                load: slot.load,
                utilisation: slot.utilisation,
                share: slot.state.share,
                source: slot.source,
                reported_unix_ms: slot.reported_unix_ms,
                instance: slot.instance.clone(),
                watermarks: plan.watermarks(key).unwrap_or_default(),
                salt: bytes_hash(name.as_bytes()),
            };
            map.insert(name.clone(), entry);
        }
        LoadSnapshot::new(members, datacenters)
    }
}

/// Runs the feed until cancelled: applies messages, steps and publishes every [`TICK`].
pub(crate) async fn run(
    mut feed: Feed,
    mut rx: mpsc::UnboundedReceiver<FeedMsg>,
    out: Arc<ArcSwap<LoadSnapshot>>,
    cancel: CancellationToken,
) {
    let start = Instant::now();
    let now_ms = move || start.elapsed().as_millis() as u64;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = LoadSnapshot::default();
    let mut share: Option<mpsc::UnboundedSender<Observation>> = None;
    let send = |share: &Option<mpsc::UnboundedSender<Observation>>, obs: Option<Observation>| {
        if let (Some(tx), Some(obs)) = (share, obs) {
            let _ = tx.send(obs);
        }
    };
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            msg = rx.recv() => match msg {
                None => return,
                Some(FeedMsg::Plan(plan)) => feed.set_plan(plan),
                Some(FeedMsg::Probe(probe, Ok(sample))) => {
                    for key in feed.probe_keys(&probe) {
                        send(&share, feed.report(key, sample, Source::Probe, now_ms()));
                    }
                }
                Some(FeedMsg::Probe(probe, Err(e))) => {
                    crate::metrics::load_bad_input("probe", e.label());
                    tracing::warn!("load: probe {} reply ignored: {e}", probe.addr);
                }
                Some(FeedMsg::Report(rows, source)) => {
                    for (key, sample) in rows {
                        send(&share, feed.report(key, sample, source, now_ms()));
                    }
                }
                Some(FeedMsg::Share(instance, tx)) => {
                    feed.share_as(instance);
                    share = Some(tx);
                }
                Some(FeedMsg::Peer(instance, rows)) => {
                    for (key, obs) in rows {
                        feed.report_peer(instance.clone(), key, &obs, now_ms());
                    }
                }
            },
            _ = tick.tick() => {
                // Published only when something changed: readers keep their snapshot.
                for obs in feed.share_due(now_ms()) {
                    send(&share, Some(obs));
                }
                let snapshot = feed.tick(now_ms());
                crate::metrics::load_entries(&snapshot);
                if snapshot.members != last.members || snapshot.datacenters != last.datacenters {
                    last = snapshot.clone();
                    out.store(Arc::new(snapshot));
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "feed_tests.rs"]
mod tests;
