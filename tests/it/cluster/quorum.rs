//! Votes across instances: a target one instance cannot reach stays up, a majority takes it down, garbage in etcd is ignored, lost instances stop counting.

use std::time::{Duration, Instant};

use super::world::{target_a, world};
use super::{A, B, DETECT};
use crate::support::eventually;
use crate::support::http::metric;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quorum_survives_a_partition_and_forgets_lost_instances() {
    let Some(mut w) = world(1).await else {
        return;
    };

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
            || async { metric(&w.ns[0].metrics().await, &series).is_some_and(|n| n >= 1.0) },
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
    eventually("ns3 leaves at once", Duration::from_secs(1), || async {
        !w.ns[0].live_members().await.contains(&"ns3".to_string())
    })
    .await;
    eprintln!("a stopped instance left after {:?}", t0.elapsed());
    // ns1 alone: too few voters, its own view decides (it cannot reach a).
    w.some_answer(&[0], B, DETECT).await;
    drop(w.b);
}
