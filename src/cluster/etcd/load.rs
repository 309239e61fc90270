//! The etcd link's side of load sharing: own values written under the lease, peers' values handed to the load feed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use super::super::record::{Key, LoadRecord, encode, key_path};
use super::{Fallible, Link, Session, put};
use crate::health::persist::unix_ms;
use crate::load::Observation;

impl Link {
    /// Writes again every own value still valid (after a reconnect: the old lease took them).
    pub(super) async fn put_own_loads(&mut self, session: &mut Session) -> Fallible<()> {
        let now = unix_ms(SystemTime::now());
        self.load_mine.retain(|_, o| o.expires_unix_ms > now);
        let loads: Vec<Observation> = self.load_mine.values().cloned().collect();
        for obs in loads {
            self.put_load(session, &obs).await?;
        }
        Ok(())
    }

    pub(super) fn remember_load(&mut self, obs: Observation) {
        self.load_mine.insert(obs.selector.clone(), obs);
    }

    /// Shares one own load value under the lease (the feed already rate-limited it).
    pub(super) async fn send_load(
        &mut self,
        session: &mut Session,
        obs: Observation,
    ) -> Fallible<()> {
        self.put_load(session, &obs).await?;
        self.remember_load(obs);
        Ok(())
    }

    async fn put_load(&self, session: &mut Session, obs: &Observation) -> Fallible<()> {
        let key = Key::Load(self.s.instance.clone(), obs.selector.as_str().into());
        let key = key_path(&self.s.prefix, &key);
        put(session, key, encode(&LoadRecord::new(obs))).await?;
        crate::metrics::cluster_load_sent();
        Ok(())
    }

    /// Hands the load feed the values peers put since the last call (own ones are skipped:
    /// the feed has them first hand).
    pub(super) fn forward_load(&mut self) {
        let mut by_instance: HashMap<Arc<str>, Vec<Observation>> = HashMap::new();
        for (instance, obs) in self.store.take_load() {
            if instance != self.s.instance {
                by_instance.entry(instance).or_default().push(obs);
            }
        }
        for (instance, values) in by_instance {
            crate::metrics::cluster_load_received(&instance, values.len());
            let unknown = self.load.peer(instance, values);
            for _ in 0..unknown {
                crate::metrics::cluster_ignored("unknown_selector");
            }
        }
    }
}
