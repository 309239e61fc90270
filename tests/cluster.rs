//! Cluster mode end to end: real etcd (one member and three), three real Meridian processes
//! probing from 127.0.0.11/.12/.13, and a backend that refuses chosen probe sources.

mod cluster_support;
mod support;

use std::time::{Duration, Instant};

use cluster_support::{Backend, Etcd, Instance, available, eventually, zone};
use serde_json::json;

/// The cluster tests start several processes each; one at a time keeps their timing honest.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const A: &str = "192.0.2.10";
const B: &str = "192.0.2.20";
/// interval × fall + 1 s, the bound the cluster must meet (200 ms × 2 + 1 s).
const DETECT: Duration = Duration::from_millis(1400);

struct World {
    _dir: tempfile::TempDir,
    etcd: Etcd,
    a: Backend,
    b: Backend,
    ns: Vec<Instance>,
}

async fn world(etcd_members: usize) -> World {
    let dir = tempfile::tempdir().unwrap();
    let etcd = Etcd::start(dir.path(), etcd_members).await;
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
        _dir: dir,
        etcd,
        a,
        b,
        ns,
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
    w
}

impl World {
    /// Waits until every running instance answers `ip`; returns how long that took.
    async fn all_answer(&self, ip: &str, limit: Duration) -> Duration {
        self.some_answer(&[0, 1, 2], ip, limit).await
    }

    async fn some_answer(&self, which: &[usize], ip: &str, limit: Duration) -> Duration {
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
    async fn hold(&self, which: &[usize], ip: &str, span: Duration) {
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

    async fn local_vote(&self, i: usize, target: &str) -> Option<String> {
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

fn target_a() -> String {
    format!("{A}/web")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quorum_survives_a_partition_and_forgets_lost_instances() {
    if !available() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let mut w = world(1).await;

    // One instance cannot reach datacenter a: it votes down, the other two keep it up.
    w.a.refuse("127.0.0.11");
    eventually("ns1 votes a down", Duration::from_secs(3), || async {
        w.local_vote(0, &target_a()).await.as_deref() == Some("down")
    })
    .await;
    w.hold(&[0, 1, 2], A, Duration::from_millis(1500)).await;

    // A second instance loses it too: two of three, a majority, so all three move together.
    let t0 = Instant::now();
    w.a.refuse("127.0.0.12");
    w.all_answer(B, DETECT).await;
    let moved = t0.elapsed();
    assert!(moved <= DETECT, "moved after {moved:?}");

    // Both see it again: all three come back.
    let t0 = Instant::now();
    w.a.admit("127.0.0.11");
    w.a.admit("127.0.0.12");
    w.all_answer(A, Duration::from_millis(400) + DETECT).await;
    eprintln!("moved to b in {moved:?}, back in {:?}", t0.elapsed());

    // Garbage under the prefix is ignored and counted; every instance keeps answering.
    w.etcd
        .put("/meridian/test/votes/ns9/192.0.2.10/web", "\u{1}garbage")
        .unwrap();
    w.etcd.put("/meridian/test/leader", "me").unwrap();
    w.etcd
        .put("/meridian/test/members/ns8", r#"{"v":9,"instance":"ns8"}"#)
        .unwrap();
    for reason in ["garbage", "foreign_key", "future_version"] {
        let series = format!("meridian_cluster_ignored_values_total{{reason=\"{reason}\"}} ");
        eventually(
            &format!("ns1 counts {reason}"),
            Duration::from_secs(3),
            || async {
                let text = w.ns[0].metrics().await;
                text.lines()
                    .find(|l| l.starts_with(&series))
                    .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                    .is_some_and(|n| n >= 1.0)
            },
        )
        .await;
    }
    w.hold(&[0, 1, 2], A, Duration::from_millis(300)).await;
    assert!(
        w.ns[1]
            .log()
            .contains("ignoring the value at /meridian/test/leader")
    );

    // Two down again; then the second voter is killed: its vote stops counting within the
    // lease TTL (2 s), leaving one down and one up, which is no majority.
    w.a.refuse("127.0.0.11");
    w.a.refuse("127.0.0.12");
    w.all_answer(B, DETECT + Duration::from_millis(400)).await;
    let t0 = Instant::now();
    w.ns[1].kill();
    w.some_answer(&[0, 2], A, Duration::from_secs(2) + DETECT)
        .await;
    let forgotten = t0.elapsed();
    assert!(
        forgotten <= Duration::from_secs(2) + Duration::from_secs(1),
        "{forgotten:?}"
    );
    eprintln!("a killed instance's vote stopped counting after {forgotten:?}");
    assert!(!w.ns[0].live_members().await.contains(&"ns2".to_string()));

    // A clean stop revokes the lease: its vote and membership vanish at once.
    let t0 = Instant::now();
    w.ns[2].stop();
    eventually(
        "ns3 leaves at once",
        Duration::from_millis(1000),
        || async { !w.ns[0].live_members().await.contains(&"ns3".to_string()) },
    )
    .await;
    eprintln!("a stopped instance left after {:?}", t0.elapsed());
    // ns1 alone: too few voters, its own view decides (it cannot reach a).
    w.some_answer(&[0], B, DETECT).await;
    drop(w.b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overrides_are_set_once_and_survive_restarts() {
    if !available() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let mut w = world(1).await;
    let drain =
        json!({"selector": "pool:a", "state": "drain", "who": "alice", "reason": "ticket 7"});
    let t0 = Instant::now();
    let (status, body) = w.ns[0].post("/v1/overrides", drain).await;
    assert_eq!(status, 200, "{body}");
    w.some_answer(&[1, 2], B, Duration::from_secs(1)).await;
    let applied = t0.elapsed();
    assert!(applied <= Duration::from_secs(1), "{applied:?}");
    eprintln!("an override set on ns1 reached ns2 and ns3 in {applied:?}");
    let health = w.ns[2].get("/v1/health").await.unwrap();
    assert!(health.to_string().contains("\"forced\":true"), "{health}");

    // An etcd restart and a Meridian restart keep it.
    w.etcd.kill(0);
    w.hold(&[0, 1, 2], B, Duration::from_millis(500)).await;
    w.etcd.restart(0);
    w.etcd.wait_healthy().await;
    w.ns[1].kill();
    w.ns[1].spawn();
    let ns2 = &w.ns[1];
    eventually("ns2 is back", Duration::from_secs(20), || ns2.ready()).await;
    w.some_answer(&[1], B, Duration::from_secs(5)).await;
    w.hold(&[0, 1, 2], B, Duration::from_millis(500)).await;

    // Cleared on ns3, cleared everywhere.
    let url = format!("http://{}/v1/overrides/pool:a", w.ns[2].admin);
    let r = cluster_support::http()
        .delete(url)
        .bearer_auth(cluster_support::TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    w.all_answer(A, Duration::from_secs(1)).await;

    // An expiring override clears itself.
    let drain = json!({"selector": "pool:a", "state": "drain", "expires_in": "2s"});
    let (status, _) = w.ns[1].post("/v1/overrides", drain).await;
    assert_eq!(status, 200);
    w.all_answer(B, Duration::from_secs(1)).await;
    w.all_answer(A, Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_serve_on_without_etcd_and_resync_when_it_returns() {
    if !available() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let mut w = world(3).await;

    // One etcd member down: overrides and votes still flow.
    w.etcd.kill(0);
    let (status, body) = w.ns[0]
        .post(
            "/v1/overrides",
            json!({"selector": "pool:a", "state": "drain"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    w.all_answer(B, Duration::from_secs(2)).await;
    let url = format!("http://{}/v1/overrides/pool:a", w.ns[1].admin);
    let r = cluster_support::http()
        .delete(url)
        .bearer_auth(cluster_support::TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    w.all_answer(A, Duration::from_secs(2)).await;
    w.a.refuse("127.0.0.11");
    eventually("ns1 votes a down", Duration::from_secs(3), || async {
        w.local_vote(0, &target_a()).await.as_deref() == Some("down")
    })
    .await;
    w.hold(&[0, 1, 2], A, Duration::from_millis(600)).await;

    // Every etcd member down: all keep answering on the last merged view, then after
    // `stale_after` (3 s) each decides on its own probes, so ns1 alone moves to b.
    w.etcd.kill(1);
    w.etcd.kill(2);
    let t0 = Instant::now();
    w.hold(&[0, 1, 2], A, Duration::from_secs(2)).await;
    w.some_answer(&[0], B, Duration::from_secs(6)).await;
    eprintln!(
        "ns1 fell back to its own view {:?} after etcd died",
        t0.elapsed()
    );
    w.hold(&[1, 2], A, Duration::from_millis(300)).await;
    let m = w.ns[1].metrics().await;
    assert!(m.contains("meridian_cluster_connected 0"), "{m}");

    // etcd back: they resync without a restart and decide by quorum again.
    for i in 0..3 {
        w.etcd.restart(i);
    }
    w.etcd.wait_healthy().await;
    w.all_answer(A, Duration::from_secs(15)).await;
    for n in &w.ns {
        eventually(
            &format!("{} reconnects", n.name),
            Duration::from_secs(10),
            || async { n.metrics().await.contains("meridian_cluster_connected 1") },
        )
        .await;
    }
}

#[test]
fn check_refuses_cluster_settings_only_without_the_feature() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("m.toml");
    let zones = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("zones");
    std::fs::write(
        &config,
        format!(
            "zones_dir = \"{}\"\ngeoip = \"\"\n[cluster]\nendpoints = [\"http://127.0.0.1:9\"]\ninstance = \"ns1\"\n",
            zones.display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args(["check", "--config"])
        .arg(&config)
        .env_remove("MERIDIAN_ADMIN_TOKEN")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if meridian::cluster::AVAILABLE {
        assert_eq!(out.status.code(), Some(0), "{stderr}");
    } else {
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("`cluster` feature"), "{stderr}");
    }
    // A bad cluster setting is a configuration error either way.
    std::fs::write(&config, "[cluster]\nendpoints = []\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cluster.endpoints"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_serves_while_etcd_is_unreachable_from_the_start() {
    if !meridian::cluster::AVAILABLE {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "CI must build with --features cluster"
        );
        eprintln!("SKIPPED: this build lacks the `cluster` feature");
        return;
    }
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let a = Backend::start("127.0.0.20").await;
    let b = Backend::start("127.0.0.21").await;
    let zones = dir.path().join("zones");
    std::fs::create_dir_all(&zones).unwrap();
    std::fs::write(zones.join("cluster.test.toml"), zone(a.addr, b.addr)).unwrap();
    // Nothing listens on this port: etcd is out of reach from the first moment.
    let nowhere = format!("http://127.0.0.1:{}", cluster_support::free_port());
    let ns = Instance::start(dir.path(), "ns1", "127.0.0.11", &zones, &[nowhere]);
    eventually("ns1 is ready", Duration::from_secs(20), || ns.ready()).await;
    eventually("ns1 answers", Duration::from_secs(5), || ns.answers(A)).await;
    let status = ns.get("/v1/cluster").await.unwrap();
    assert_eq!(status["connected"], false, "{status}");
    // Its own view decides: a refusal moves it at once, with no cluster to outvote it.
    a.refuse("127.0.0.11");
    eventually("ns1 moves to b", DETECT, || ns.answers(B)).await;
    assert!(ns.metrics().await.contains("meridian_cluster_connected 0"));
}
