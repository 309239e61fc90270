//! A test cluster: etcd, two health backends (datacenters a and b) and three instances ns1..ns3, held for one test at a time.

use std::time::{Duration, Instant};

use tokio::sync::MutexGuard;

use super::backend::Backend;
use super::etcd::{Etcd, Tools};
use super::instance::{Instance, zone};
use super::{A, SERIAL, built_with_cluster};
use crate::support::eventually;

pub struct World {
    pub etcd: Etcd,
    pub a: Backend,
    pub b: Backend,
    pub ns: Vec<Instance>,
    dir: tempfile::TempDir,
    /// Last: the processes above are gone before the next cluster test starts.
    _serial: MutexGuard<'static, ()>,
}

/// A cluster with `etcd_members` etcd members whose three instances all answer `A`; `None`
/// (after a skip, a failure under `CI=true`) without the `cluster` feature or etcd.
pub async fn world(etcd_members: usize) -> Option<World> {
    if !built_with_cluster() {
        return None;
    }
    let tools = Tools::find()?;
    let serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let etcd = Etcd::start(tools, dir.path(), etcd_members).await;
    let a = Backend::start("127.0.0.20").await;
    let b = Backend::start("127.0.0.21").await;
    let zones = dir.path().join("zones");
    std::fs::create_dir_all(&zones).unwrap();
    std::fs::write(zones.join("cluster.test.toml"), zone(a.addr, b.addr)).unwrap();
    let endpoints = etcd.endpoints();
    let ns: Vec<Instance> = [
        ("ns1", "127.0.0.11"),
        ("ns2", "127.0.0.12"),
        ("ns3", "127.0.0.13"),
    ]
    .iter()
    .map(|(name, source)| Instance::start(dir.path(), name, source, &zones, &endpoints))
    .collect();
    let w = World {
        etcd,
        a,
        b,
        ns,
        dir,
        _serial: serial,
    };
    for i in &w.ns {
        eventually(
            &format!("{} is ready", i.name),
            Duration::from_secs(20),
            || i.ready(),
        )
        .await;
        eventually(
            &format!("{} sees 3 members", i.name),
            Duration::from_secs(20),
            || async { i.live_members().await.len() == 3 },
        )
        .await;
    }
    w.all_answer(A, Duration::from_secs(5)).await;
    Some(w)
}

impl World {
    /// Starts one more instance, `name` probing from `source`, that knows only `etcd`.
    pub fn extra(&self, name: &str, source: &str, etcd: &[String]) -> Instance {
        let zones = self.dir.path().join("zones");
        Instance::start(self.dir.path(), name, source, &zones, etcd)
    }

    /// Waits until every running instance answers `ip`; returns how long that took.
    pub async fn all_answer(&self, ip: &str, limit: Duration) -> Duration {
        self.some_answer(&[0, 1, 2], ip, limit).await
    }

    pub async fn some_answer(&self, which: &[usize], ip: &str, limit: Duration) -> Duration {
        let mut slowest = Duration::ZERO;
        let start = Instant::now();
        for &i in which {
            let n = &self.ns[i];
            eventually(&format!("{} answers {ip}", n.name), limit, || n.answers(ip)).await;
            slowest = slowest.max(start.elapsed());
        }
        slowest
    }

    /// Samples every instance's answer every 100 ms for `span`; each must be `ip` every time.
    pub async fn hold(&self, which: &[usize], ip: &str, span: Duration) {
        let end = Instant::now() + span;
        while Instant::now() < end {
            for &i in which {
                let got = self.ns[i].answer().await;
                assert_eq!(
                    got,
                    Some(vec![ip.parse().unwrap()]),
                    "{} strayed",
                    self.ns[i].name
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Instance `i`'s own vote on `target`, as its `/v1/health` shows it.
    pub async fn local_vote(&self, i: usize, target: &str) -> Option<String> {
        let health = self.ns[i].get("/v1/health").await?;
        let t = health["targets"]
            .as_array()?
            .iter()
            .find(|t| t["target"] == target)?
            .clone();
        t["cluster"]["votes"][0]["state"]
            .as_str()
            .map(str::to_string)
    }
}

pub fn target_a() -> String {
    format!("{A}/web")
}
