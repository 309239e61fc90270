//! Load read from health probes: an HTTP header, a JSON body field and an agent reply each
//! move the expected share; a reply without a usable value is counted and changes nothing.

use super::lab::*;
use crate::support::http::{metric, scrape};

const MEMBER: &str = "192.0.2.10/load";

fn check(kind: &str, port: u16, read: &str) -> (String, String) {
    (
        format!(
            "[checks.load]\ntype = \"{kind}\"\nport = {port}\ninterval = \"200ms\"\ntimeout = \"150ms\"\njitter = 0\n{read}\ncapacity = 100\n"
        ),
        format!(", check = \"load\", probe = \"127.0.0.1:{port}\""),
    )
}

async fn expect_half_then_all(
    server: &meridian::app::Running,
    report: &Report,
    half: &str,
    full: &str,
    low: &str,
) {
    report.set(half);
    let first = moved_half(server, MEMBER, module_path!()).await;
    report.set(full);
    await_share(server, MEMBER, 1.0).await;
    assert!(moved(server).await.iter().all(|&m| m), "all moved");
    report.set(low);
    await_share(server, MEMBER, 0.0).await;
    assert_eq!(share(&moved(server).await), 0.0, "all came back");
    report.set(half);
    await_share(server, MEMBER, 0.5).await;
    assert_eq!(
        moved(server).await,
        first,
        "the same networks move each time"
    );
}

#[tokio::test]
async fn an_http_header_reports_the_load() {
    let report = Report::default();
    report.set("10");
    let addr = http_backend("127.0.0.1", report.clone()).await;
    let (c, m) = check("http", addr.port(), "load_header = \"X-Load\"");
    let zones = zone_dir(&zone("", &c, &m));
    let server = server(&zones, 300, |_| {}).await;
    expect_half_then_all(&server, &report, "87.5", "99%", "10").await;

    // A header that is not a number: counted and logged, the last value stands.
    report.set("high");
    crate::support::eventually(
        "the bad header counted",
        std::time::Duration::from_secs(5),
        || async {
            let text = scrape(&server).await;
            metric(
                &text,
                r#"meridian_load_bad_input_total{source="probe",reason="not_a_number"}"#,
            )
            .is_some_and(|n| n > 0.0)
        },
    )
    .await;
    await_share(&server, MEMBER, 0.5).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_json_body_field_reports_the_load() {
    let report = Report::default();
    report.set("10");
    let addr = http_backend("127.0.0.1", report.clone()).await;
    let (c, m) = check("http", addr.port(), "load_json = \"stats.0.load\"");
    let zones = zone_dir(&zone("", &c, &m));
    let server = server(&zones, 300, |_| {}).await;
    expect_half_then_all(&server, &report, "87.5", "\"97%\"", "10").await;

    // A body without the field (not JSON at all here): counted, nothing changes.
    report.set("}");
    crate::support::eventually(
        "the missing field counted",
        std::time::Duration::from_secs(5),
        || async {
            let text = scrape(&server).await;
            metric(
                &text,
                r#"meridian_load_bad_input_total{source="probe",reason="missing_field"}"#,
            )
            .is_some_and(|n| n > 0.0)
        },
    )
    .await;
    await_share(&server, MEMBER, 0.5).await;
    server.shutdown().await;
}

#[tokio::test]
async fn an_agent_reply_reports_the_load() {
    let report = Report::default();
    report.set("up 100%");
    let addr = agent_backend("127.0.0.1", report.clone()).await;
    let (c, m) = check("tcp", addr.port(), "load_agent = true");
    let zones = zone_dir(&zone("", &c, &m));
    let server = server(&zones, 300, |_| {}).await;
    // `up 12.5%`: 12.5 % of the weight available = 87.5 % load; `drain` sheds everyone;
    // `ready` is fully available again.
    expect_half_then_all(&server, &report, "up 12.5%", "drain", "ready").await;
    let view = crate::support::http::get_json(&server, "/v1/load").await;
    let e = &view["entries"][0];
    assert_eq!(
        (e["name"].as_str(), e["source"].as_str()),
        (Some(MEMBER), Some("probe"))
    );

    report.set("banana");
    crate::support::eventually(
        "the garbage reply counted",
        std::time::Duration::from_secs(5),
        || async {
            let text = scrape(&server).await;
            metric(
                &text,
                r#"meridian_load_bad_input_total{source="probe",reason="bad_agent_reply"}"#,
            )
            .is_some_and(|n| n > 0.0)
        },
    )
    .await;
    await_share(&server, MEMBER, 0.5).await;
    server.shutdown().await;
}
