//! Overrides in cluster mode: set on one instance, applied by all, kept across etcd and Meridian restarts, cleared anywhere, expiring by themselves.

use std::time::{Duration, Instant};

use serde_json::json;

use super::world::world;
use super::{A, B};
use crate::support::eventually;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overrides_are_set_once_and_survive_restarts() {
    let Some(mut w) = world(1).await else {
        return;
    };
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
    assert_eq!(w.ns[2].delete("/v1/overrides/pool:a").await, 200);
    w.all_answer(A, Duration::from_secs(1)).await;

    // An expiring override clears itself.
    let drain = json!({"selector": "pool:a", "state": "drain", "expires_in": "2s"});
    let (status, _) = w.ns[1].post("/v1/overrides", drain).await;
    assert_eq!(status, 200);
    w.all_answer(B, Duration::from_secs(1)).await;
    w.all_answer(A, Duration::from_secs(5)).await;
}
