//! Latency steering end to end: network topology that differs from geography, measured for real.
//!
//! A German client network (198.51.100.0/24 in the test GeoIP database) is nearer the
//! Frankfurt datacenter, but its measured RTT is lower to Ashburn. Two agents run in
//! process, one per datacenter, bound to their own loopback source (127.0.0.51 for eu,
//! 127.0.0.52 for us); the server's representative map points the network at a DNS
//! responder on 127.0.0.41 that answers eu's probes after 60 ms and us's after 5 ms, so
//! each agent measures a real round trip with a known delay. Afterwards `latency` answers
//! Ashburn while `nearest` and `geo` still answer Frankfurt.

use std::time::Duration;

use meridian::agent::{self, AgentConfig, Method};
use meridian::latency::Representatives;
use reqwest::Method as Http;
use tokio_util::sync::CancellationToken;

use super::lab::*;
use crate::support::eventually;
use crate::support::http::{admin, metric, scrape, url};

const NET: &str = "198.51.100.0/24";

fn agent_config(server: &meridian::app::Running, datacenter: &str, bind: &str) -> AgentConfig {
    AgentConfig {
        datacenter: datacenter.into(),
        servers: vec![url(server, "")],
        token: TOKEN.into(),
        rate: 200.0,
        interval: Duration::from_secs(1),
        limit: 100,
        methods: vec![Method::Dns],
        attempts: 3,
        timeout: Duration::from_millis(800),
        tcp_port: 443,
        dns_port: 53,
        bind: Some(bind.parse().unwrap()),
        representatives: Representatives::default(),
        once: true,
    }
}

#[tokio::test]
async fn measured_rtt_sends_clients_to_the_farther_datacenter() {
    let responder =
        Responder::start("127.0.0.41", &[("127.0.0.51", 60), ("127.0.0.52", 5)], None).await;
    let zones = zone_dir();
    let server = server(&zones, |c| {
        c.latency_representatives = [(NET.to_string(), responder.addr.to_string())].into();
    })
    .await;

    // Before any measurement: latency falls back to the distance estimate (Frankfurt).
    for name in ["fast.lat.test.", "near.lat.test.", "geo.lat.test."] {
        assert_eq!(ask(&server, name, NET).await.0, [EU], "{name} before");
    }
    let steps = explain_steps(&server, "fast.lat.test", NET)
        .await
        .join("\n");
    assert!(steps.contains("0 datacenter(s) measured"), "{steps}");
    assert!(steps.contains("steered by estimated RTT"), "{steps}");

    // The queries made the network one of the busiest; agents are given it to measure.
    let targets = || async {
        let (status, body) = admin(
            &server,
            Http::GET,
            "/v1/latency/targets?datacenter=eu",
            Some(TOKEN),
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        body["targets"].as_array().unwrap().clone()
    };
    eventually(
        "the network in the targets",
        Duration::from_secs(5),
        || async { targets().await.iter().any(|t| t["network"] == NET) },
    )
    .await;
    let listed = targets().await;
    let ours = listed.iter().find(|t| t["network"] == NET).unwrap();
    assert_eq!(ours["probe"], responder.addr.to_string());

    // Both agents measure for real and push their samples.
    let eu = agent::run(
        agent_config(&server, "eu", "127.0.0.51"),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let us = agent::run(
        agent_config(&server, "us", "127.0.0.52"),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let rtt = |r: &agent::RoundReport| {
        r.measured
            .iter()
            .find(|m| m.network.to_string() == NET)
            .map(|m| (m.rtt_ms, m.samples))
            .unwrap()
    };
    let (eu_ms, eu_n) = rtt(&eu);
    let (us_ms, us_n) = rtt(&us);
    assert!((60.0..400.0).contains(&eu_ms), "eu measured {eu_ms} ms");
    assert!((5.0..55.0).contains(&us_ms), "us measured {us_ms} ms");
    assert_eq!((eu_n, us_n, eu.pushed, us.pushed), (3, 3, 1, 1));
    assert_eq!(responder.count_from("127.0.0.51"), 3);
    assert_eq!(responder.count_from("127.0.0.52"), 3);

    // Now latency steers the German network to Ashburn; geography still says Frankfurt.
    let (answer, scope) = ask(&server, "fast.lat.test.", NET).await;
    assert_eq!((answer, scope), (vec![US.to_string()], Some(24)));
    assert_eq!(ask(&server, "near.lat.test.", NET).await.0, [EU]);
    assert_eq!(ask(&server, "geo.lat.test.", NET).await.0, [EU]);
    // A single address inside the network too (scope /24, the table's network).
    assert_eq!(
        ask(&server, "fast.lat.test.", "198.51.100.77/32").await,
        (vec![US.to_string()], Some(24))
    );

    let steps = explain_steps(&server, "fast.lat.test", NET)
        .await
        .join("\n");
    assert!(
        steps.contains("client network 198.51.100.0/24, 2 datacenter(s) measured"),
        "{steps}"
    );
    assert!(
        steps.contains("datacenter us: ") && steps.contains("ms measured (3 samples, age "),
        "{steps}"
    );
    assert!(steps.contains("datacenter eu: "), "{steps}");
    assert!(steps.contains("steered by measured RTT"), "{steps}");

    // An unmeasured network keeps the estimate, and says so.
    assert_eq!(
        ask(&server, "fast.lat.test.", "203.0.113.0/24").await.0,
        [EU]
    );
    let steps = explain_steps(&server, "fast.lat.test", "203.0.113.0/24")
        .await
        .join("\n");
    assert!(steps.contains("steered by estimated RTT"), "{steps}");

    // The table view and the metrics.
    let (status, view) = admin(
        &server,
        Http::GET,
        &format!("/v1/latency?network={NET}"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 200);
    // This network, and (when 127.0.0.1:53 answered or refused) the resolver's 127.0.0.0/24.
    assert!(view["networks"].as_u64() >= Some(1), "{view}");
    assert_eq!(view["rtts"][0]["datacenter"], "us");
    assert_eq!(view["rtts"][0]["samples"], 3);
    let text = scrape(&server).await;
    assert!(
        metric(
            &text,
            r#"meridian_latency_samples_total{source="agent",result="accepted"}"#
        )
        .unwrap()
            >= 2.0
    );
    assert!(
        metric(
            &text,
            r#"meridian_latency_decisions_total{source="measured"}"#
        )
        .unwrap()
            >= 2.0
    );
    assert!(
        metric(
            &text,
            r#"meridian_latency_decisions_total{source="estimated"}"#
        )
        .unwrap()
            >= 2.0
    );
    // A gauge: other servers in this test process publish to it too, so only its presence.
    assert!(metric(&text, "meridian_latency_networks ").is_some());
    server.shutdown().await;
}

#[tokio::test]
async fn agents_only_probe_the_networks_they_are_given() {
    let given = Responder::start("127.0.0.45", &[], Some(1)).await;
    let never = Responder::start("127.0.0.46", &[], Some(1)).await;
    let zones = zone_dir();
    let server = server(&zones, |c| {
        c.latency_representatives = [
            (NET.to_string(), given.addr.to_string()),
            ("203.0.113.0/24".to_string(), never.addr.to_string()),
        ]
        .into();
    })
    .await;
    ask(&server, "fast.lat.test.", NET).await;
    eventually("a target", Duration::from_secs(5), || async {
        let (_, body) = admin(
            &server,
            Http::GET,
            "/v1/latency/targets?limit=10",
            Some(TOKEN),
            None,
        )
        .await;
        body["targets"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["network"] == NET))
    })
    .await;
    let mut config = agent_config(&server, "eu", "127.0.0.53");
    // An agent-side override for a network the server never named changes nothing.
    config.representatives = Representatives::parse([("203.0.113.0/24", "127.0.0.46")]).unwrap();
    let report = agent::run(config, CancellationToken::new()).await.unwrap();
    assert!(given.total() >= 3);
    assert_eq!(never.total(), 0, "probed a network it was not given");
    // The resolver's own network (127.0.0.0/24) was a target too: probed at 127.0.0.1.
    assert!(report.targets >= 1);
    server.shutdown().await;
}

#[tokio::test]
async fn targets_and_samples_need_the_token_and_known_datacenters() {
    let zones = zone_dir();
    let server = server(&zones, |_| {}).await;
    let (status, _) = admin(&server, Http::GET, "/v1/latency/targets", None, None).await;
    assert_eq!(status, 401);
    let (status, _) = admin(
        &server,
        Http::GET,
        "/v1/latency/targets",
        Some("wrong-token-wrong-token"),
        None,
    )
    .await;
    assert_eq!(status, 403);
    let (status, body) = admin(
        &server,
        Http::GET,
        "/v1/latency/targets?datacenter=mars",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("configured: eu, us")
    );
    let sample = r#"{"datacenter":"mars","samples":[{"network":"198.51.100.0/24","rtt_ms":3}]}"#;
    let (status, _) = admin(
        &server,
        Http::POST,
        "/v1/latency/samples",
        None,
        Some(sample.into()),
    )
    .await;
    assert_eq!(status, 401);
    let (status, body) = admin(
        &server,
        Http::POST,
        "/v1/latency/samples",
        Some(TOKEN),
        Some(sample.into()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        (body["accepted"].as_u64(), body["rejected"].as_u64()),
        (Some(0), Some(1))
    );
    assert!(
        body["errors"][0]
            .as_str()
            .unwrap()
            .contains("unknown datacenter \"mars\"")
    );
    let (status, body) = admin(
        &server,
        Http::POST,
        "/v1/latency/samples",
        Some(TOKEN),
        Some("{".into()),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let good = r#"{"datacenter":"us","samples":[{"network":"198.51.100.0/24","rtt_ms":3,"samples":2},
                  {"network":"198.51.100.0/24","rtt_ms":-1}]}"#;
    let (status, body) = admin(
        &server,
        Http::POST,
        "/v1/latency/samples",
        Some(TOKEN),
        Some(good.into()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        (body["accepted"].as_u64(), body["rejected"].as_u64()),
        (Some(1), Some(1))
    );
    // Visible as soon as the call returned.
    let (_, view) = admin(
        &server,
        Http::GET,
        "/v1/latency?network=198.51.100.9",
        None,
        None,
    )
    .await;
    assert_eq!(view["network"], NET);
    assert_eq!(view["rtts"][0]["samples"], 2);
    server.shutdown().await;
}
