//! Load values in cluster mode: a value reported to one instance is shared through etcd, every instance sheds the same client networks, and the most recent value wins wherever it was reported.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use serde_json::json;

use super::instance::Instance;
use super::world::world;
use super::{A, B};
use crate::support::{addrs, eventually, query, udp, with_edns};

/// ECS client networks asked on every instance.
const NETWORKS: u32 = 400;

/// For each of [`NETWORKS`] ECS /24s, whether `ns` answered it with datacenter b.
async fn moved(ns: &Instance) -> Vec<bool> {
    let b: IpAddr = B.parse().unwrap();
    let mut out = Vec::with_capacity(NETWORKS as usize);
    for i in 0..NETWORKS {
        let net = std::net::Ipv4Addr::from(0x0A00_0000 + (i << 8));
        let q = with_edns(
            query("www.cluster.test.", RecordType::A),
            1232,
            Some(&format!("{net}/24")),
        );
        out.push(addrs(&udp(ns.dns, &q).await) == [b]);
    }
    out
}

/// The share `ns` sheds for datacenter dc-a and the instance whose value it uses.
async fn entry(ns: &Instance) -> Option<(f64, String)> {
    let view = ns.get("/v1/load").await?;
    let e = view["entries"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == "dc-a")?
        .clone();
    Some((e["share"].as_f64()?, e["instance"].as_str()?.to_string()))
}

async fn all_shed(w: &super::world::World, share: f64, from: &str, limit: Duration) -> Duration {
    let start = Instant::now();
    for ns in &w.ns {
        eventually(
            &format!("{} sheds {share} by {from}'s value", ns.name),
            limit,
            || async {
                entry(ns)
                    .await
                    .is_some_and(|(s, i)| (s - share).abs() < 1e-3 && i == from)
            },
        )
        .await;
    }
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_reported_to_one_instance_sheds_the_same_clients_everywhere() {
    let Some(w) = world(1).await else {
        return;
    };
    // 87.5 % of the default capacity 100: halfway between shed_start 80 and shed_full 95.
    let row = json!({"selector": "datacenter:dc-a", "value": 87.5});
    let (status, body) = w.ns[0].post("/v1/load", row).await;
    assert_eq!(status, 200, "{body}");
    let took = all_shed(&w, 0.5, "ns1", Duration::from_secs(5)).await;
    eprintln!("a load posted to ns1 was applied by all three instances in {took:?}");
    let first = moved(&w.ns[0]).await;
    let got = first.iter().filter(|&&m| m).count() as f64 / f64::from(NETWORKS);
    assert!((got - 0.5).abs() < 0.1, "ns1 moved {got} of the networks");
    for ns in &w.ns[1..] {
        assert_eq!(moved(ns).await, first, "{} sheds other networks", ns.name);
    }

    // Above shed_full, reported to ns2: every instance sends everyone to b.
    let row = json!({"selector": "datacenter:dc-a", "value": 99});
    let (status, body) = w.ns[1].post("/v1/load", row).await;
    assert_eq!(status, 200, "{body}");
    all_shed(&w, 1.0, "ns2", Duration::from_secs(5)).await;
    w.all_answer(B, Duration::from_secs(2)).await;

    // The load falls, reported to ns3: the most recent value wins on every instance, and
    // after the hold every network is back.
    let row = json!({"selector": "datacenter:dc-a", "value": 10});
    let (status, body) = w.ns[2].post("/v1/load", row).await;
    assert_eq!(status, 200, "{body}");
    all_shed(&w, 0.0, "ns3", Duration::from_secs(5)).await;
    w.all_answer(A, Duration::from_secs(2)).await;
    for ns in &w.ns {
        assert!(
            moved(ns).await.iter().all(|m| !m),
            "{} still sheds",
            ns.name
        );
    }

    // Each instance counts the values it received from the others.
    let metrics = w.ns[0].metrics().await;
    for peer in ["ns2", "ns3"] {
        let line = format!("meridian_cluster_load_values_received_total{{peer=\"{peer}\"}}");
        assert!(
            metrics.contains(&line),
            "ns1 counted nothing from {peer}:\n{metrics}"
        );
    }
}
