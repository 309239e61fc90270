//! An instance away from etcd while the history it missed is compacted lists the prefix again on its return.

use std::time::Duration;

use serde_json::json;

use super::world::world;
use super::{A, B};
use crate::support::eventually;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compacted_history_is_listed_again() {
    let Some(mut w) = world(3).await else {
        return;
    };
    // ns4 knows only etcd member 0; the three others know all of them.
    let ns4 = w.extra("ns4", "127.0.0.14", &[w.etcd.endpoint(0)]);
    eventually("ns4 is ready", Duration::from_secs(20), || ns4.ready()).await;
    eventually("ns4 joins", Duration::from_secs(20), || async {
        ns4.live_members().await.len() == 4
    })
    .await;
    eventually("ns4 answers a", Duration::from_secs(5), || ns4.answers(A)).await;

    // Member 0 goes away: ns4 alone loses etcd; the others keep a quorum of two.
    w.etcd.kill(0);
    let drain = json!({"selector": "pool:a", "state": "drain", "reason": "while ns4 is away"});
    let (status, body) = w.ns[1].post("/v1/overrides", drain).await;
    assert_eq!(status, 200, "{body}");
    w.all_answer(B, Duration::from_secs(5)).await;
    assert!(
        ns4.answers(A).await,
        "ns4 cannot have seen the override yet"
    );
    let revision = w.etcd.compact_to_now().expect("compaction");

    // Member 0 returns: ns4's watch from its last revision was compacted, so it lists the
    // prefix again and applies the override it missed.
    w.etcd.restart(0);
    eventually(
        "ns4 applies the missed override",
        Duration::from_secs(15),
        || ns4.answers(B),
    )
    .await;
    let log = ns4.log();
    assert!(
        log.contains("was compacted; listing again"),
        "ns4 did not list again after compaction at {revision}:\n{log}"
    );
}
