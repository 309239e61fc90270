//! A datacenter's load from a real Prometheus: Debian's `prometheus` started on loopback,
//! scraping an exporter the test controls; Meridian evaluates a PromQL query per datacenter.
//! A query Prometheus rejects is counted and changes nothing.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::lab::*;
use crate::support::http::{client, metric, scrape};
use crate::support::need_tool;

/// Serves `site_load{dc="a"} <value>` on /metrics.
async fn exporter(value: Arc<Mutex<f64>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let v = *value.lock().unwrap();
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = conn.read(&mut buf).await;
                let body = format!("# TYPE site_load gauge\nsite_load{{dc=\"a\"}} {v}\n");
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(reply.as_bytes()).await;
            });
        }
    });
    port
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn a_promql_query_reports_a_datacenters_load() {
    let Some(prometheus) = need_tool("prometheus", "prometheus") else {
        return;
    };
    let value = Arc::new(Mutex::new(10.0));
    let exporter_port = exporter(value.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: site\n    static_configs:\n      - targets: ['127.0.0.1:{exporter_port}']\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let mut child = tokio::process::Command::new(prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("prometheus starts");
    let base = format!("http://127.0.0.1:{port}");
    crate::support::eventually(
        "Prometheus has scraped the exporter",
        Duration::from_secs(30),
        || async {
            let url = format!("{base}/api/v1/query?query=site_load");
            match client().get(url).send().await {
                Ok(r) => r.text().await.is_ok_and(|t| t.contains("\"value\"")),
                Err(_) => false,
            }
        },
    )
    .await;

    // Datacenter a's load is the exporter's gauge; b's query is not PromQL.
    let zones = zone_dir(
        &zone("load_query = 'site_load{dc=\"a\"}'\ncapacity = 100", "", "").replace(
            "coordinates = [39.04, -77.49]",
            "coordinates = [39.04, -77.49]\nload_query = 'sum(('",
        ),
    );
    let server = server(&zones, 300, |c| {
        c.load_prometheus = base.clone();
        c.load_prometheus_interval_ms = 300;
    })
    .await;

    *value.lock().unwrap() = 87.5;
    let first = moved_half(&server, "a", module_path!()).await;
    *value.lock().unwrap() = 99.0;
    await_share(&server, "a", 1.0).await;
    assert!(moved(&server).await.iter().all(|&m| m), "all moved");
    *value.lock().unwrap() = 5.0;
    await_share(&server, "a", 0.0).await;
    assert_eq!(share(&moved(&server).await), 0.0, "all came back");
    *value.lock().unwrap() = 87.5;
    await_share(&server, "a", 0.5).await;
    assert_eq!(
        moved(&server).await,
        first,
        "the same networks move each time"
    );

    let text = scrape(&server).await;
    let failed = metric(
        &text,
        r#"meridian_load_bad_input_total{source="prometheus",reason="query_failed"}"#,
    );
    assert!(failed.is_some_and(|n| n > 0.0), "the bad query is counted");
    let view = crate::support::http::get_json(&server, "/v1/load").await;
    let names: Vec<&str> = view["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(names, ["a"], "the failing query changed nothing");
    assert_eq!(view["entries"][0]["source"], "prometheus");
    server.shutdown().await;
    let _ = child.kill().await;
}
