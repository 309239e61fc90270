//! Load values shared with the other cluster instances: what one instance observed, and which
//! of its own observations are worth writing to etcd (a changed value at most every
//! [`MIN_INTERVAL_MS`] per member or datacenter, an unchanged one again at half its TTL).

use std::collections::HashMap;
use std::hash::Hash;

use super::read::Sample;
use super::snapshot::Source;

/// Least time between two writes of a changed value of one member or datacenter.
pub(crate) const MIN_INTERVAL_MS: u64 = 500;

/// One load value as one instance observed it (its probe, its API or its Prometheus).
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// `ADDRESS/CHECK` for a member, `datacenter:NAME` for a datacenter.
    pub selector: String,
    /// The value as read.
    pub sample: Sample,
    /// Where the observing instance got it.
    pub source: Source,
    /// When it was observed (Unix milliseconds, the observer's clock).
    pub observed_unix_ms: u64,
    /// When it stops counting (observed + the observer's TTL).
    pub expires_unix_ms: u64,
}

#[derive(Clone, Debug)]
struct Written {
    sample: Sample,
    source: Source,
    at_ms: u64,
}

/// Decides which own observations are written (pure; times on the feed's monotonic clock),
/// per member or datacenter `K`.
#[derive(Debug)]
pub(crate) struct Sharer<K> {
    ttl_ms: u64,
    written: HashMap<K, Written>,
    /// A changed value waiting for [`MIN_INTERVAL_MS`] to pass since the last write.
    pending: HashMap<K, Observation>,
}

impl<K: Clone + Eq + Hash> Sharer<K> {
    pub(crate) fn new(ttl_ms: u64) -> Self {
        Self {
            ttl_ms,
            written: HashMap::new(),
            pending: HashMap::new(),
        }
    }

    /// A new own observation: returns it when it is to be written now.
    pub(crate) fn offer(&mut self, key: &K, obs: Observation, now_ms: u64) -> Option<Observation> {
        let write = match self.written.get(key) {
            None => true,
            Some(w) if w.sample != obs.sample || w.source != obs.source => {
                if now_ms < w.at_ms + MIN_INTERVAL_MS {
                    self.pending.insert(key.clone(), obs);
                    return None;
                }
                true
            }
            // Unchanged: written again before peers would let it expire.
            Some(w) => {
                self.pending.remove(key);
                now_ms >= w.at_ms + self.ttl_ms / 2
            }
        };
        write.then(|| self.wrote(key, obs, now_ms))
    }

    /// Changed values whose interval has passed.
    pub(crate) fn due(&mut self, now_ms: u64) -> Vec<Observation> {
        let ready: Vec<K> = self
            .pending
            .keys()
            .filter(|k| {
                self.written
                    .get(*k)
                    .is_none_or(|w| now_ms >= w.at_ms + MIN_INTERVAL_MS)
            })
            .cloned()
            .collect();
        ready
            .into_iter()
            .filter_map(|k| {
                let obs = self.pending.remove(&k)?;
                Some(self.wrote(&k, obs, now_ms))
            })
            .collect()
    }

    fn wrote(&mut self, key: &K, obs: Observation, now_ms: u64) -> Observation {
        let w = Written {
            sample: obs.sample,
            source: obs.source,
            at_ms: now_ms,
        };
        self.written.insert(key.clone(), w);
        obs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(v: f64, at: u64) -> Observation {
        Observation {
            selector: "datacenter:a".into(),
            sample: Sample::Value(v),
            source: Source::Probe,
            observed_unix_ms: at,
            expires_unix_ms: at + 10_000,
        }
    }

    #[test]
    fn probes_every_100ms_write_changes_at_most_every_interval_and_refresh_at_half_ttl() {
        let key = "datacenter:a";
        let mut s = Sharer::new(10_000);
        let mut writes = Vec::new();
        // 30 s of probes every 100 ms: steady at 50, then 90 from 10 s, flapping after 20 s.
        for i in 0..300u64 {
            let now = i * 100;
            let v = match now {
                0..10_000 => 50.0,
                10_000..20_000 => 90.0,
                _ => 60.0 + (i % 2) as f64,
            };
            writes.extend(s.offer(&key, obs(v, now), now).map(|o| (now, o.sample)));
            writes.extend(s.due(now).into_iter().map(|o| (now, o.sample)));
        }
        let at: Vec<u64> = writes.iter().map(|(t, _)| *t).collect();
        // First value, refresh at half the TTL, the change at once, its refresh, then the
        // flapping value at most every 500 ms.
        assert_eq!(&at[..4], &[0, 5_000, 10_000, 15_000], "{writes:?}");
        let flaps = at.iter().filter(|t| **t >= 20_000).count();
        assert!(
            (19..=21).contains(&flaps),
            "{flaps} writes in 10 s: {writes:?}"
        );
        assert!(at.windows(2).all(|w| w[1] - w[0] >= MIN_INTERVAL_MS));
    }

    #[test]
    fn a_change_back_within_the_interval_cancels_the_pending_write() {
        let key = "datacenter:a";
        let mut s = Sharer::new(10_000);
        assert!(s.offer(&key, obs(50.0, 0), 0).is_some());
        assert!(s.offer(&key, obs(90.0, 100), 100).is_none());
        assert!(s.offer(&key, obs(50.0, 200), 200).is_none());
        assert!(s.due(600).is_empty());
        assert!(s.offer(&key, obs(90.0, 700), 700).is_some());
    }
}
