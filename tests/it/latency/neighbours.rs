//! Neighbour estimates end to end: RUM for two networks of an AS steers a third, unmeasured network of the same AS and country, and `GET /v1/latency` shows the deciding estimate.
//!
//! 198.18.0.0/15 is London, AS64501 in the test GeoIP database: nearer Frankfurt (eu)
//! than Ashburn (us). Two of its /24s are imported with a detour to Frankfurt; the third,
//! never measured, is then answered Ashburn by `latency` (the builder publishes the
//! aggregates within about 10 s), with an ECS scope of its own /24 and an explain naming
//! the group, while `nearest` still answers Frankfurt.

use std::time::Duration;

use meridian::app::Running;
use reqwest::Method as Http;

use super::lab::*;
use crate::support::eventually;
use crate::support::http::{admin, metric, scrape};

const UNMEASURED: &str = "198.18.3.0/24";

#[tokio::test]
async fn measured_networks_of_an_as_steer_its_unmeasured_network() {
    let zones = zone_dir();
    let server = server(&zones, |_| {}).await;
    assert_eq!(ask(&server, "fast.lat.test.", UNMEASURED).await.0, [EU]);

    let csv = "198.18.1.0/24,eu,120,10\n198.18.1.0/24,us,80,10\n\
               198.18.2.0/24,eu,130,10\n198.18.2.0/24,us,84,10\n";
    let (status, body) = admin(
        &server,
        Http::POST,
        "/v1/latency/import",
        Some(TOKEN),
        Some(csv.into()),
    )
    .await;
    assert_eq!(
        (status, body["accepted"].as_u64()),
        (200, Some(4)),
        "{body}"
    );

    eventually(
        "the neighbour estimate",
        Duration::from_secs(30),
        || async { ask(&server, "fast.lat.test.", UNMEASURED).await.0 == [US] },
    )
    .await;
    let (answer, scope) = ask(&server, "fast.lat.test.", UNMEASURED).await;
    assert_eq!((answer, scope), (vec![US.to_string()], Some(24)));
    assert_eq!(ask(&server, "near.lat.test.", UNMEASURED).await.0, [EU]);

    let steps = explain_steps(&server, "fast.lat.test", UNMEASURED)
        .await
        .join("\n");
    assert!(
        steps.contains(
            "estimated from 2 measured network(s) of AS64501 in GB (asn_country; 20 samples"
        ),
        "{steps}"
    );
    assert!(steps.contains("level asn_country"), "{steps}");
    let text = scrape(&server).await;
    let counted = metric(
        &text,
        r#"meridian_latency_decisions_total{source="asn_country"}"#,
    );
    assert!(counted.unwrap_or(0.0) >= 1.0, "{text}");
    let groups = metric(
        &text,
        r#"meridian_latency_neighbour_groups{level="asn_country"}"#,
    );
    assert_eq!(groups, Some(1.0), "{text}");
}

/// The neighbour estimate of `UNMEASURED` for datacenter `dc` in `GET /v1/latency`.
async fn view_of(server: &Running, dc: &str) -> serde_json::Value {
    let path = format!("/v1/latency?network={UNMEASURED}");
    let (status, body) = admin(server, Http::GET, &path, Some(TOKEN), None).await;
    assert_eq!(status, 200, "{body}");
    let rows = body["neighbours"].as_array().cloned().unwrap_or_default();
    rows.into_iter()
        .find(|r| r["datacenter"] == dc)
        .unwrap_or_else(|| panic!("no {dc} in {body}"))
}

#[tokio::test]
async fn the_latency_view_shows_the_deciding_neighbour_estimate_and_follows_updates() {
    let zones = zone_dir();
    let server = server(&zones, |_| {}).await;
    let before = view_of(&server, "us").await;
    assert_eq!(before["level"], "estimated", "{before}");
    assert!(before.get("group").is_none(), "{before}");

    let import = |csv: &'static str| {
        let server = &server;
        async move {
            let (status, body) = admin(
                server,
                Http::POST,
                "/v1/latency/import",
                Some(TOKEN),
                Some(csv.into()),
            )
            .await;
            assert_eq!(status, 200, "{body}");
        }
    };
    import("198.18.1.0/24,us,80,10\n198.18.2.0/24,us,84,10\n").await;
    eventually(
        "the neighbour estimate",
        Duration::from_secs(30),
        || async { view_of(&server, "us").await["level"] == "asn_country" },
    )
    .await;
    let us = view_of(&server, "us").await;
    assert_eq!(us["group"], "AS64501 in GB", "{us}");
    assert_eq!(
        (us["networks"].as_u64(), us["samples"].as_u64()),
        (Some(2), Some(20)),
        "{us}"
    );
    assert!(us["age_secs"].as_u64().unwrap() < 60, "{us}");
    let (rtt, residual) = (
        us["rtt_ms"].as_f64().unwrap(),
        us["residual_ms"].as_f64().unwrap(),
    );
    assert!(rtt > 60.0 && rtt < 100.0 && residual.is_finite(), "{us}");
    assert_eq!(view_of(&server, "eu").await["level"], "estimated");

    // An update of the same networks moves the estimate (the builder's incremental path).
    import("198.18.1.0/24,us,300,1000\n198.18.2.0/24,us,310,1000\n").await;
    eventually("the updated estimate", Duration::from_secs(30), || async {
        view_of(&server, "us").await["samples"].as_u64() == Some(2020)
    })
    .await;
    let us = view_of(&server, "us").await;
    assert!(us["rtt_ms"].as_f64().unwrap() > 250.0, "{us}");
}
