//! Console tests: one server and one browser each.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hickory_proto::rr::{RData, RecordType};
use meridian::app::Running;
use meridian::config::server::Secret;
use serde_json::json;

use super::webdriver::Browser;
use crate::support::http::{get_json, url};
use crate::support::*;

const TOKEN: &str = "console-token-0123456789abcdef";

/// A failover service `www` over `eu` (198.51.100.1) then `us` (192.0.2.2), each member
/// probed at its own backend; `dc_eu` and `pool_eu` name the Europe datacenter and pool.
fn zone(eu_probe: &str, us_probe: &str, dc_eu: &str, pool_eu: &str) -> String {
    format!(
        r#"origin = "ui.test."
ns = ["ns1"]
[soa]
mname = "ns1"
rname = "hostmaster"
serial = 1
[records.ns1]
A = "192.0.2.53"
[records.note]
TXT = "<script>window.__pwned = 1</script> \"quoted\" & 'single'"
[datacenters.{dc_eu:?}]
coordinates = [50.1, 8.7]
country = "DE"
[datacenters.us]
coordinates = [39.0, -77.5]
country = "US"
[checks.web]
type = "http"
path = "/"
interval = "200ms"
timeout = "200ms"
jitter = "0s"
rise = 1
fall = 1
[pools.{pool_eu:?}]
members = [{{ address = "198.51.100.1", datacenter = {dc_eu:?}, check = "web", probe = "{eu_probe}" }}]
[pools.us]
members = [{{ address = "192.0.2.2", datacenter = "us", check = "web", probe = "{us_probe}" }}]
[services.www]
policy = "failover"
pools = [{pool_eu:?}, "us"]
[services.geo]
policy = "geo"
pools = [{pool_eu:?}, "us"]
[services.geo.geo]
default = ["us"]
continent = {{ EU = [{pool_eu:?}], AF = [{pool_eu:?}] }}
"#
    )
}

struct Lab {
    server: Running,
    eu: Arc<AtomicBool>,
    /// The zone file and what it holds.
    file: std::path::PathBuf,
    text: String,
    _dir: tempfile::TempDir,
}

async fn lab(dc_eu: &str, pool_eu: &str) -> Lab {
    let (eu_addr, eu) = backend("127.0.0.41").await;
    let (us_addr, _us) = backend("127.0.0.42").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ui.test.toml");
    let text = zone(&eu_addr.to_string(), &us_addr.to_string(), dc_eu, pool_eu);
    std::fs::write(&file, &text).unwrap();
    let server = start_with(dir.path().to_str().unwrap(), |c| {
        c.geoip = "geoip/test-city.mmdb".into();
        c.admin_token = Some(Secret(TOKEN.to_string()));
    })
    .await;
    tokio::time::timeout(Duration::from_secs(5), server.health.wait_ready())
        .await
        .expect("warm start finishes")
        .unwrap();
    Lab {
        server,
        eu,
        file,
        text,
        _dir: dir,
    }
}

async fn www(server: &Running) -> Vec<IpAddr> {
    let m = udp(server.udp_addrs[0], &query("www.ui.test.", RecordType::A)).await;
    m.answers
        .iter()
        .filter_map(|r| match r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            _ => None,
        })
        .collect()
}

async fn use_token(b: &Browser) {
    let field = b.find("#token").await;
    b.fill(&field, TOKEN).await;
    b.click(&b.find("#token-form button[type=submit]").await)
        .await;
    b.wait_text("#token-state", "token accepted", |t| {
        t.contains("token set")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_view_follows_a_killed_backend() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let lab = lab("eu", "eu").await;
    b.goto(&url(&lab.server, "/ui")).await;
    let eu_target = "198.51.100.1/web";
    let state = format!("[data-target=\"{eu_target}\"] .state");
    b.wait_text(&state, "eu starts up", |t| t == "up").await;
    b.wait_text("[data-datacenter=\"eu\"] h3", "datacenter heading", |t| {
        t.contains("1 of 1 targets up")
    })
    .await;
    lab.eu.store(false, Ordering::SeqCst);
    b.wait_text(&state, "eu goes down", |t| t == "down").await;
    let listed = b
        .wait_text("#transitions", "the transition is listed", |t| {
            t.contains(eu_target) && t.contains("up \u{2192} down")
        })
        .await;
    assert!(
        listed.contains("503"),
        "the reason names the probe failure: {listed}"
    );
    // The server keeps the events: a page opened afterwards lists the transition too.
    b.goto(&url(&lab.server, "/ui")).await;
    b.wait_text(
        "#transitions",
        "a new page lists the earlier transition",
        |t| t.contains(eu_target) && t.contains("up \u{2192} down") && t.contains("503"),
    )
    .await;
    b.wait_text(
        "[data-datacenter=\"eu\"] h3",
        "grouped by datacenter",
        |t| t.contains("0 of 1 targets up"),
    )
    .await;
    b.screenshot("health").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drain_button_changes_dns_answers_and_reload_previews_first() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let lab = lab("eu", "eu").await;
    assert_eq!(www(&lab.server).await, [ip("198.51.100.1")]);
    b.goto(&url(&lab.server, "/ui#actions")).await;
    use_token(&b).await;
    let name = b.find("#ov-name").await;
    b.fill(&name, "eu").await;
    b.click(&b.find("#ov-drain").await).await;
    b.wait_text("#action-result", "drain accepted", |t| {
        t.contains("drain: datacenter:eu")
    })
    .await;
    eventually("DNS follows the drain", Duration::from_secs(5), || async {
        www(&lab.server).await == [ip("192.0.2.2")]
    })
    .await;
    b.click(&b.find("#ov-clear").await).await;
    eventually("DNS follows the clear", Duration::from_secs(5), || async {
        www(&lab.server).await == [ip("198.51.100.1")]
    })
    .await;
    // Reload: the preview comes first, nothing changes until confirmed. Europe moves.
    let moved = lab
        .text
        .replace("continent = { EU = [\"eu\"]", "continent = { EU = [\"us\"]");
    assert_ne!(moved, lab.text);
    std::fs::write(&lab.file, moved).unwrap();
    b.click(&b.find("#reload-preview").await).await;
    b.wait_text("#reload-report", "the dry run shows the move", |t| {
        t.contains("health: live") && t.contains("(EU) move from eu to us")
    })
    .await;
    b.screenshot("actions").await;
    let generation = get_json(&lab.server, "/v1/status").await["generation"].clone();
    b.click(&b.find("#reload-confirm").await).await;
    b.wait_text("#reload-report", "the reload is done", |t| {
        t.contains("Reloaded")
    })
    .await;
    let after = get_json(&lab.server, "/v1/status").await["generation"].clone();
    assert_eq!(after.as_u64(), generation.as_u64().map(|g| g + 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_explain_form_shows_the_trace_and_the_map_draws() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let lab = lab("eu", "eu").await;
    b.goto(&url(&lab.server, "/ui#explain")).await;
    b.fill(&b.find("#ex-name").await, "geo.ui.test").await;
    b.fill(&b.find("#ex-client").await, "198.51.100.7").await;
    b.click(&b.find("#ex-go").await).await;
    let steps = b
        .wait_text("#explain-steps", "the trace is shown", |t| !t.is_empty())
        .await;
    let api = get_json(
        &lab.server,
        "/v1/explain?name=geo.ui.test&type=A&client=198.51.100.7",
    )
    .await;
    for step in api["steps"].as_array().unwrap() {
        assert!(
            steps.contains(step.as_str().unwrap()),
            "{step} not in {steps}"
        );
    }
    let summary = b.text(&b.find("#explain-summary").await).await;
    assert!(
        summary.contains("198.51.100.1") && summary.contains("primary"),
        "{summary}"
    );
    b.screenshot("explain").await;

    b.goto(&url(&lab.server, "/ui#services")).await;
    b.click(&b.find("button[data-service=\"geo.ui.test\"]").await)
        .await;
    b.wait_text("#legend", "the legend lists both datacenters", |t| {
        t.contains("eu (") && t.contains("us (")
    })
    .await;
    let painted = b
        .script(
            "const p = document.querySelector('path[data-country=DE]'); \
             const q = document.querySelector('path[data-country=US]'); \
             return [document.querySelectorAll('#map-box path').length, \
                     p && p.getAttribute('class'), q && q.getAttribute('class')];",
            json!([]),
        )
        .await;
    assert!(painted[0].as_u64().unwrap() > 150, "{painted}");
    assert_ne!(
        painted[1], painted[2],
        "Germany and the US differ: {painted}"
    );
    b.screenshot("services").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_from_a_zone_file_stay_text() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let dc = "<script>window.__pwned=1</script>";
    let pool = "\"'><img src=x id=pwned>";
    let lab = lab(dc, pool).await;
    b.goto(&url(&lab.server, "/ui")).await;
    b.wait_text("#datacenters", "the hostile datacenter is listed", |t| {
        t.contains(dc)
    })
    .await;
    b.goto(&url(&lab.server, "/ui#services")).await;
    b.wait_text("#services", "the hostile pool is listed", |t| {
        t.contains(pool)
    })
    .await;
    b.goto(&url(&lab.server, "/ui#explain")).await;
    b.fill(&b.find("#ex-name").await, "note.ui.test").await;
    b.fill(&b.find("#ex-type").await, "TXT").await;
    b.click(&b.find("#ex-go").await).await;
    b.wait_text("#explain-summary", "the TXT answer is shown", |t| {
        t.contains("window.__pwned = 1")
    })
    .await;
    let injected = b
        .script(
            "return [window.__pwned === undefined, document.querySelectorAll('script').length, \
                     document.getElementById('pwned') === null, \
                     document.querySelectorAll('img').length];",
            json!([]),
        )
        .await;
    assert_eq!(
        injected,
        json!([true, 1, true, 0]),
        "markup from operator data ran or parsed"
    );
    b.screenshot("escaping").await;
}
