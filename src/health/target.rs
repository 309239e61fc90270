//! Targets (member address × check) as the config compiler builds them, and probe de-duplication.

use std::collections::HashMap;
#[cfg(test)]
use std::fmt::Write as _;
use std::hash::{DefaultHasher, Hash, Hasher};
#[cfg(test)]
use std::net::IpAddr;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::check::{CheckKind, CheckSpec};

/// One target: a member address checked by one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetSpec {
    /// `address/check`, e.g. `192.0.2.10/web`; the snapshot is looked up by this key.
    pub key: Arc<str>,
    /// Where the probe connects; may differ from the answered address (a health endpoint for a VIP).
    pub probe_addr: SocketAddr,
    pub(crate) check: Arc<CheckSpec>,
    pub(crate) datacenter: Arc<str>,
    /// Pools this target's member belongs to (for `pool:` overrides and status output).
    pub(crate) pools: Vec<Arc<str>>,
}

/// Everything that makes two probes identical: targets sharing one are probed once.
/// The check's name and its rise/fall do not change what is sent on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ProbeKey {
    pub(crate) addr: SocketAddr,
    pub(crate) kind: CheckKind,
    pub(crate) interval: Duration,
    pub(crate) timeout: Duration,
    pub(crate) jitter: Duration,
}

/// Two specs that share a key but differ otherwise; the first one is kept.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("target {key} is defined twice with different probe address, check or datacenter")]
pub(crate) struct TargetConflict {
    pub(crate) key: Arc<str>,
}

impl TargetSpec {
    /// The conventional key: `192.0.2.10/web`, `2001:db8::1/web`.
    #[cfg(test)]
    pub(crate) fn key_for(address: IpAddr, check: &str) -> Arc<str> {
        let mut key = String::new();
        let _ = write!(key, "{address}/{check}");
        key.into()
    }

    /// A target probed at the member address itself on the check's port (`None` for a `tcp`
    /// check without a port).
    #[cfg(test)]
    pub(crate) fn at_member(
        address: IpAddr,
        check: Arc<CheckSpec>,
        datacenter: Arc<str>,
        pools: Vec<Arc<str>>,
    ) -> Option<Self> {
        let port = check.probe_port()?;
        Some(Self {
            key: Self::key_for(address, &check.name),
            probe_addr: SocketAddr::new(address, port),
            check,
            datacenter,
            pools,
        })
    }

    pub(crate) fn probe_key(&self) -> ProbeKey {
        ProbeKey {
            addr: self.probe_addr,
            kind: self.check.kind.clone(),
            interval: self.check.interval,
            timeout: self.check.timeout,
            jitter: self.check.jitter,
        }
    }

    /// Same key and the same probe, state machine and datacenter (pools may differ).
    fn same_target(&self, other: &TargetSpec) -> bool {
        self.probe_addr == other.probe_addr
            && self.check == other.check
            && self.datacenter == other.datacenter
    }
}

impl ProbeKey {
    /// A stable delay in `[0, jitter]` before the first probe, spreading probes deterministically.
    pub(crate) fn start_delay(&self) -> Duration {
        let jitter = self.jitter.as_nanos() as u64;
        if jitter == 0 {
            return Duration::ZERO;
        }
        let mut h = DefaultHasher::new();
        self.hash(&mut h);
        Duration::from_nanos(h.finish() % (jitter + 1))
    }
}

/// Merges targets that share a key (services and zones naming the same member × check): their
/// pools are united. A key defined twice differently keeps its first definition and is reported.
pub(crate) fn merge_targets(targets: Vec<TargetSpec>) -> (Vec<TargetSpec>, Vec<TargetConflict>) {
    let mut index: HashMap<Arc<str>, usize> = HashMap::new();
    let mut merged: Vec<TargetSpec> = Vec::with_capacity(targets.len());
    let mut conflicts = Vec::new();
    for target in targets {
        let Some(&i) = index.get(&target.key) else {
            index.insert(target.key.clone(), merged.len());
            merged.push(target);
            continue;
        };
        let kept = &mut merged[i];
        if !kept.same_target(&target) {
            conflicts.push(TargetConflict {
                key: target.key.clone(),
            });
            continue;
        }
        for pool in target.pools {
            if !kept.pools.contains(&pool) {
                kept.pools.push(pool);
            }
        }
    }
    (merged, conflicts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::check::{HttpCheck, TcpCheck};

    fn target(addr: [u8; 4], check: &Arc<CheckSpec>, pool: &str) -> TargetSpec {
        TargetSpec::at_member(
            IpAddr::from(addr),
            check.clone(),
            "eu".into(),
            vec![pool.into()],
        )
        .unwrap()
    }

    #[test]
    fn keys_and_ports() {
        let web = Arc::new(CheckSpec::new("web", CheckKind::Http(HttpCheck::new("/"))));
        let t = target([192, 0, 2, 10], &web, "p");
        assert_eq!(&*t.key, "192.0.2.10/web");
        assert_eq!(t.probe_addr, "192.0.2.10:80".parse().unwrap());
        let v6 = TargetSpec::key_for("2001:db8::1".parse().unwrap(), "web");
        assert_eq!(&*v6, "2001:db8::1/web");
        let tcp = Arc::new(CheckSpec::new("db", CheckKind::Tcp(TcpCheck::default())));
        assert!(TargetSpec::at_member([192, 0, 2, 1].into(), tcp, "eu".into(), vec![]).is_none());
    }

    #[test]
    fn same_key_merges_pools_and_conflicts_are_reported() {
        let web = Arc::new(CheckSpec::new("web", CheckKind::Http(HttpCheck::new("/"))));
        let other = Arc::new(CheckSpec::new("web", CheckKind::Http(HttpCheck::new("/x"))));
        let (merged, conflicts) = merge_targets(vec![
            target([192, 0, 2, 10], &web, "a"),
            target([192, 0, 2, 10], &web, "b"),
            target([192, 0, 2, 10], &web, "a"),
            target([192, 0, 2, 10], &other, "c"),
            target([192, 0, 2, 11], &web, "a"),
        ]);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].pools, vec![Arc::from("a"), Arc::from("b")]);
        assert_eq!(conflicts.len(), 1);
    }

    #[test]
    fn probe_key_ignores_name_and_rise_fall() {
        let a = CheckSpec::new("a", CheckKind::Http(HttpCheck::new("/")));
        let mut b = a.clone();
        b.name = "b".into();
        b.rise = 7;
        let (ta, tb) = (
            target([192, 0, 2, 1], &a.into(), "p"),
            target([192, 0, 2, 1], &b.into(), "p"),
        );
        assert_ne!(ta.key, tb.key);
        assert_eq!(ta.probe_key(), tb.probe_key());
        let delay = ta.probe_key().start_delay();
        assert!(delay <= ta.check.jitter);
        assert_eq!(delay, tb.probe_key().start_delay());
    }
}
