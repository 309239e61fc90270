//! HTTP to a server's admin API on loopback: one client, JSON calls, `/metrics` scrapes.

use meridian::app::Running;
use serde_json::Value;

/// A plain HTTP client that never goes through a proxy (all traffic stays on loopback).
/// One per call site: a client's pooled connections belong to the runtime that made them,
/// and every `#[tokio::test]` has its own runtime.
pub fn client() -> reqwest::Client {
    // The server's reqwest (health probes) brings rustls without a default provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// `http://<admin address><path>`.
pub fn url(server: &Running, path: &str) -> String {
    format!("http://{}{path}", server.admin_addr)
}

/// An admin call: (status, JSON body or the text as a JSON string).
pub async fn admin(
    server: &Running,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<String>,
) -> (u16, Value) {
    let mut r = client().request(method, url(server, path));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    if let Some(b) = body {
        r = r.body(b);
    }
    let resp = r.send().await.expect("admin API answers");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// GET an admin endpoint that must answer 200 with JSON.
pub async fn get_json(server: &Running, path: &str) -> Value {
    let (status, body) = admin(server, reqwest::Method::GET, path, None, None).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// The Prometheus text of the server.
pub async fn scrape(server: &Running) -> String {
    let resp = client().get(url(server, "/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200, "GET /metrics");
    resp.text().await.unwrap()
}

/// The value of the first sample line starting with `prefix`.
pub fn metric(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}
