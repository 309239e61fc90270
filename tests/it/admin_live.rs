//! The real server's admin API: a live `/metrics` scrape checked by promtool, status, zones,
//! health, explain, token-protected reload and overrides that change DNS answers.

use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::rr::{RData, RecordType};
use meridian::app::Running;
use meridian::config::server::Secret;
use serde_json::Value;

use crate::support::http::{admin, client, get_json, scrape, url};
use crate::support::*;

const TOKEN: &str = "test-token-0123456789abcdef";

async fn server() -> (Running, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let zone = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/steer.toml"
    ))
    .replace("EU_PROBE", "127.0.0.31:9")
    .replace("US_PROBE", "127.0.0.32:9")
    .replace("AP_PROBE", "127.0.0.33:9");
    std::fs::write(dir.path().join("steer.test.toml"), zone).unwrap();
    let zones = dir.path().to_str().unwrap().to_string();
    let s = start_with(&zones, |c| {
        c.geoip = "geoip/test-city.mmdb".into();
        c.admin_token = Some(Secret(TOKEN.to_string()));
    })
    .await;
    // The health view lists targets once the tracker has them (first probes done).
    tokio::time::timeout(Duration::from_secs(5), s.health.wait_ready())
        .await
        .expect("warm start finishes")
        .unwrap();
    (s, dir)
}

fn first_a(m: &hickory_proto::op::Message) -> Option<IpAddr> {
    m.answers.iter().find_map(|r| match r.data {
        RData::A(a) => Some(IpAddr::V4(a.0)),
        _ => None,
    })
}

#[tokio::test]
async fn live_scrape_has_query_metrics_and_passes_promtool() {
    let (s, _dir) = server().await;
    for name in [
        "geo.steer.test.",
        "missing.steer.test.",
        "elsewhere.example.",
    ] {
        udp(s.udp_addrs[0], &query(name, RecordType::A)).await;
    }
    tcp(s.tcp_addrs[0], &query("fo.steer.test.", RecordType::A)).await;
    let text = scrape(&s).await;
    for needle in [
        "meridian_queries_total{zone=\"steer.test.\",qtype=\"A\",rcode=\"NXDOMAIN\",transport=\"udp\"}",
        "meridian_queries_total{zone=\"none\",qtype=\"A\",rcode=\"REFUSED\",transport=\"udp\"}",
        "meridian_query_duration_seconds_bucket{transport=\"tcp\"",
        "meridian_decisions_total{zone=\"steer.test.\",service=\"geo.steer.test.\",policy=\"geo\"",
        // A gauge every server in this process sets: only its presence.
        "meridian_config_generation ",
        "meridian_build_info",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    assert!(
        !text.contains("elsewhere.example"),
        "no query names outside the zones"
    );
    let Some(promtool) = need_tool("promtool", "prometheus") else {
        return;
    };
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool starts");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn status_zones_health_and_explain_describe_the_server() {
    let (s, _dir) = server().await;
    let status = get_json(&s, "/v1/status").await;
    assert_eq!(status["generation"], 1);
    let zones = get_json(&s, "/v1/zones").await["zones"].clone();
    assert_eq!(zones[0]["origin"], "steer.test.");
    assert!(zones[0]["services"].as_array().unwrap().len() >= 4);
    let health = get_json(&s, "/v1/health").await["targets"].clone();
    assert!(
        health
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["target"] == "192.0.2.10/web")
    );
    let e = get_json(
        &s,
        "/v1/explain?name=geo.steer.test&type=A&ecs=198.51.100.0/24",
    )
    .await;
    assert_eq!(e["policy"], "geo");
    assert_eq!(e["ecs_scope"], 24);
    assert!(
        e["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().contains("continent EU"))
    );
}

#[tokio::test]
async fn reload_needs_the_token_and_reports_errors() {
    let (s, dir) = server().await;
    let c = client();
    let reload = url(&s, "/v1/reload");
    assert_eq!(c.post(&reload).send().await.unwrap().status(), 401);
    let wrong = c
        .post(&reload)
        .bearer_auth("wrong-token-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    let ok = c.post(&reload).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(s.generation(), 2);
    std::fs::write(
        dir.path().join("broken.toml"),
        "origin = \"x.test.\"\nttl = -1\n",
    )
    .unwrap();
    let bad = c.post(&reload).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(bad.status(), 422);
    let body: Value = bad.json().await.unwrap();
    let errors = body["errors"].as_array().unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e.as_str().unwrap().contains("broken.toml:2:7")),
        "{errors:?}"
    );
    assert_eq!(s.generation(), 2, "previous generation keeps serving");
    let status = get_json(&s, "/v1/status").await;
    assert_eq!(status["last_reload"]["ok"], false);
}

#[tokio::test]
async fn overrides_through_the_api_change_answers() {
    let (s, _dir) = server().await;
    // Probes fail (nothing listens on port 9), so force the datacenters up and watch eu go.
    let c = client();
    let post = |sel: &str, state: &str| {
        c.post(url(&s, "/v1/overrides"))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({"selector": sel, "state": state}))
            .send()
    };
    for dc in ["datacenter:us", "datacenter:eu", "datacenter:ap"] {
        assert_eq!(post(dc, "up").await.unwrap().status().as_u16() / 100, 2);
    }
    let de = || {
        with_edns(
            query("geo.steer.test.", RecordType::A),
            1232,
            Some("198.51.100.0/24"),
        )
    };
    assert_eq!(
        first_a(&udp(s.udp_addrs[0], &de()).await),
        Some("198.51.100.10".parse().unwrap())
    );
    assert_eq!(
        post("198.51.100.10/web", "down")
            .await
            .unwrap()
            .status()
            .as_u16()
            / 100,
        2
    );
    let start = Instant::now();
    while first_a(&udp(s.udp_addrs[0], &de()).await) != Some("192.0.2.10".parse().unwrap()) {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "override did not take effect"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let health = get_json(&s, "/v1/health").await["targets"].clone();
    let eu = health
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["target"] == "198.51.100.10/web")
        .unwrap();
    assert_eq!(eu["forced"], true);
    assert_eq!(eu["state"], "down");
    // The override is the newest of the recent health events, with who set it.
    let recent = get_json(&s, "/v1/health").await["recent"].clone();
    let newest = &recent[0];
    assert_eq!(newest["target"], "198.51.100.10/web", "{recent}");
    assert_eq!(newest["to"], "down", "{recent}");
    let reason = newest["reason"].as_str().unwrap();
    assert!(
        reason.contains("forced DOWN by 198.51.100.10/web (api), now DOWN"),
        "{reason}"
    );
    assert!(newest["at_unix_ms"].as_u64().unwrap() > 1_700_000_000_000);
}

#[tokio::test]
async fn overrides_naming_nothing_configured_are_refused_with_422() {
    let (s, _dir) = server().await;
    let c = client();
    let post = |sel: &str| {
        c.post(url(&s, "/v1/overrides"))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({"selector": sel, "state": "down"}))
            .send()
    };
    for (selector, named) in [
        ("pool:nope", "pool `nope`"),
        ("datacenter:mars", "datacenter `mars`"),
        ("192.0.2.250/web", "target `192.0.2.250/web`"),
        ("192.0.2.10/nocheck", "target `192.0.2.10/nocheck`"),
    ] {
        let resp = post(selector).await.unwrap();
        assert_eq!(resp.status(), 422, "{selector}");
        let body: Value = resp.json().await.unwrap();
        let error = body["error"].as_str().unwrap();
        assert!(error.contains(named), "{selector}: {error}");
    }
    let health = get_json(&s, "/v1/health").await["targets"].clone();
    let forced = health
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["forced"] == true);
    assert_eq!(forced.count(), 0, "nothing was forced");
    for selector in ["pool:eu", "datacenter:ap", "198.51.100.10/web"] {
        assert_eq!(post(selector).await.unwrap().status(), 200, "{selector}");
    }
}

#[tokio::test]
async fn a_target_removed_by_reload_leaves_metrics_and_the_others_stay() {
    let (s, dir) = server().await;
    // A target of its own (the recorder is shared by every server of this test binary).
    let zone_path = dir.path().join("steer.test.toml");
    let zone = std::fs::read_to_string(&zone_path).unwrap();
    let with_extra = format!(
        "{zone}\n[pools.extra]\nmembers = [{{ address = \"192.0.2.177\", check = \"web\", probe = \"127.0.0.34:9\" }}]\n\n\
         [services.extra]\npolicy = \"failover\"\npools = [\"extra\"]\n"
    );
    std::fs::write(&zone_path, with_extra).unwrap();
    let reload = || async {
        let (status, body) =
            admin(&s, reqwest::Method::POST, "/v1/reload", Some(TOKEN), None).await;
        assert_eq!(status, 200, "reload: {body}");
    };
    reload().await;
    let series = |text: &str, target: &str| {
        text.lines()
            .filter(|l| {
                l.starts_with(&format!(
                    "meridian_health_target_state{{target=\"{target}\""
                )) || l.starts_with(&format!(
                    "meridian_health_target_forced{{target=\"{target}\""
                ))
            })
            .count()
    };
    eventually(
        "the extra target is published",
        Duration::from_secs(5),
        || async { series(&scrape(&s).await, "192.0.2.177/web") == 5 },
    )
    .await;
    std::fs::write(&zone_path, zone).unwrap();
    reload().await;
    eventually(
        "the removed target leaves /metrics",
        Duration::from_secs(5),
        || async { series(&scrape(&s).await, "192.0.2.177/web") == 0 },
    )
    .await;
    // The removal is a recent health event once the tracker publishes (coalesced).
    eventually(
        "the removal is listed in /v1/health recent",
        Duration::from_secs(5),
        || async {
            let recent = get_json(&s, "/v1/health").await["recent"].clone();
            recent.as_array().unwrap().iter().any(|e| {
                e["to"] == "removed"
                    && e["target"] == "192.0.2.177/web"
                    && e["reason"] == "target 192.0.2.177/web removed from the configuration"
            })
        },
    )
    .await;
    let text = scrape(&s).await;
    for kept in [
        "192.0.2.10/web",
        "198.51.100.10/web",
        "edge.cdn-a.example.net/web",
    ] {
        assert_eq!(series(&text, kept), 5, "{kept} must stay");
    }
}
