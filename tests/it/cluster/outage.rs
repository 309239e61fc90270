//! etcd out of reach: instances keep serving on the last merged view, fall back to their own probes after `stale_after`, resync when etcd returns, and start without it.

use std::time::{Duration, Instant};

use serde_json::json;

use super::backend::Backend;
use super::etcd::free_port;
use super::instance::{Instance, zone};
use super::world::{target_a, world};
use super::{A, B, DETECT, SERIAL, built_with_cluster};
use crate::support::eventually;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_serve_on_without_etcd_and_resync_when_it_returns() {
    let Some(mut w) = world(3).await else {
        return;
    };

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
    assert_eq!(w.ns[1].delete("/v1/overrides/pool:a").await, 200);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_serves_while_etcd_is_unreachable_from_the_start() {
    if !built_with_cluster() {
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
    let nowhere = format!("http://127.0.0.1:{}", free_port());
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
