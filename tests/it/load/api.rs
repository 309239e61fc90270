//! `POST /v1/load` for a datacenter: the share moved follows the watermarks, the same
//! networks move each time, all move above `shed_full` and all come back; bad rows change
//! nothing.

use reqwest::Method;

use super::lab::*;
use crate::support::http::{admin, get_json, metric, scrape};

async fn post(server: &meridian::app::Running, body: &str) -> (u16, serde_json::Value) {
    admin(
        server,
        Method::POST,
        "/v1/load",
        Some(TOKEN),
        Some(body.into()),
    )
    .await
}

#[tokio::test]
async fn a_datacenter_between_the_watermarks_sheds_the_expected_share() {
    let zones = zone_dir(&zone("capacity = 2000", "", ""));
    let server = server(&zones, 300, |_| {}).await;
    assert_eq!(
        share(&moved(&server).await),
        0.0,
        "no load: every network in a"
    );

    // 1750 of 2000 = 87.5 %: halfway between shed_start 80 and shed_full 95.
    let (status, body) = post(&server, r#"{"selector": "datacenter:a", "value": 1750}"#).await;
    assert_eq!((status, body["applied"].as_u64()), (200, Some(1)), "{body}");
    let first = moved_half(&server, "a", module_path!()).await;
    assert_eq!(
        moved(&server).await,
        first,
        "the same networks move each time"
    );

    // Above shed_full: every network moves.
    post(&server, r#"[{"selector": "datacenter:a", "value": 1990}]"#).await;
    await_share(&server, "a", 1.0).await;
    let all = moved(&server).await;
    assert!(all.iter().all(|&m| m), "all moved");

    // The load falls under shed_start - hysteresis: after the hold every network is back.
    post(
        &server,
        r#"{"rows": [{"selector": "datacenter:a", "value": 200}]}"#,
    )
    .await;
    await_share(&server, "a", 0.0).await;
    assert_eq!(share(&moved(&server).await), 0.0, "all came back");

    // And the same networks move again at the same load.
    post(&server, r#"{"selector": "datacenter:a", "value": 1750}"#).await;
    await_share(&server, "a", 0.5).await;
    assert_eq!(moved(&server).await, first, "the same networks move again");

    // Explain on the live server shows the load, its source, the watermarks and the verdict
    // for this client, and the ECS scope is the hash prefix.
    let net = first.iter().position(|&m| m).expect("a moved network");
    let ecs = format!(
        "{}/24",
        std::net::Ipv4Addr::from(0x0A00_0000 + ((net as u32) << 8))
    );
    let body = get_json(
        &server,
        &format!("/v1/explain?name=www.load.test&type=A&client=127.0.0.1&ecs={ecs}"),
    )
    .await;
    let steps = body["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        steps.contains("load datacenter a: 1750 (87.5 % of capacity 2000) from api"),
        "{steps}"
    );
    assert!(
        steps.contains(
            "shed_start 80 %, shed_full 95 %; sheds 50.0 % of clients; this client is shed"
        ),
        "{steps}"
    );
    let answer = body["answers"][0].as_str().unwrap_or_default();
    assert!(answer.ends_with(&format!(" A {B}")), "{body}");
    assert_eq!(body["ecs_scope"].as_u64(), Some(24), "{body}");

    let view = get_json(&server, "/v1/load").await;
    let a = &view["entries"][0];
    assert_eq!(
        (a["kind"].as_str(), a["name"].as_str()),
        (Some("datacenter"), Some("a"))
    );
    assert_eq!(
        (a["load"].as_f64(), a["source"].as_str()),
        (Some(1750.0), Some("api"))
    );
    assert_eq!(a["capacity"].as_f64(), Some(2000.0));
    let text = scrape(&server).await;
    let shed = metric(
        &text,
        r#"meridian_load_shed_share{selector="datacenter:a"}"#,
    );
    // The recorder is shared by every test of this binary (other servers name a datacenter
    // `a` too), so only the series' presence is checked here.
    assert!(shed.is_some(), "the shed share is exported");
    assert!(metric(&text, "meridian_load_shed_decisions_total").unwrap() > 0.0);
    server.shutdown().await;
}

#[tokio::test]
async fn bad_rows_are_refused_and_change_nothing() {
    let zones = zone_dir(&zone("", "", ""));
    let server = server(&zones, 300, |_| {}).await;
    post(&server, r#"{"selector": "datacenter:a", "value": 87.5}"#).await;
    await_share(&server, "a", 0.5).await;
    for (body, code) in [
        (r#"{"selector": "datacenter:nowhere", "value": 99}"#, 422),
        (r#"{"selector": "datacenter:a", "value": "high"}"#, 400),
        (r#"{"selector": "datacenter:a", "value": -3}"#, 422),
        (
            r#"[{"selector": "datacenter:a", "value": 99}, {"selector": "pool:nope", "value": 1}]"#,
            422,
        ),
        ("not json", 400),
    ] {
        let (status, reply) = post(&server, body).await;
        assert_eq!(status, code, "{body}: {reply}");
        assert!(reply["error"].is_string(), "{reply}");
    }
    let (status, _) = admin(
        &server,
        Method::POST,
        "/v1/load",
        None,
        Some(r#"{"selector": "datacenter:a", "value": 99}"#.into()),
    )
    .await;
    assert_eq!(status, 401, "the token is needed");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    await_share(&server, "a", 0.5).await;
    let text = scrape(&server).await;
    let refused = metric(
        &text,
        r#"meridian_load_bad_input_total{source="api",reason="unknown_selector"}"#,
    );
    assert_eq!(refused, Some(2.0));
    server.shutdown().await;
}
