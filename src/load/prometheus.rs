//! The Prometheus poller: each datacenter's `load_query` against the operator's Prometheus
//! HTTP API (`GET /api/v1/query`) every interval. A failed query is counted and logged and
//! sends nothing, so the last value stands until its TTL.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::feed::{FeedMsg, Key, LoadPlan};
use super::read::Sample;
use super::snapshot::Source;

/// Where Prometheus is and how often it is asked.
#[derive(Clone, Debug)]
pub(crate) struct PrometheusConfig {
    /// Base URL, e.g. `http://127.0.0.1:9090`.
    pub(crate) url: String,
    pub(crate) interval: Duration,
}

/// The first sample's value of an instant-query answer (vector or scalar).
pub(crate) fn parse_answer(body: &[u8]) -> Result<f64, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    if v["status"] != "success" {
        let error = v["error"].as_str().unwrap_or("no error message");
        return Err(format!("status {}: {error}", v["status"]));
    }
    let data = &v["data"];
    let value = match data["resultType"].as_str() {
        Some("vector") => data["result"]
            .get(0)
            .map(|s| &s["value"][1])
            .ok_or("the query returned no sample")?,
        Some("scalar") => &data["result"][1],
        other => return Err(format!("unsupported result type {other:?}")),
    };
    let text = value.as_str().ok_or("the sample has no value")?;
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(format!(
            "sample value `{text}` is not a non-negative number"
        )),
    }
}

/// Percent-encodes a query parameter value (RFC 3986 unreserved characters stay).
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

async fn query(client: &reqwest::Client, url: &str, promql: &str) -> Result<f64, String> {
    let response = client
        .get(format!("{url}/api/v1/query?query={}", encode(promql)))
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("reading the answer: {e}"))?;
    parse_answer(&body)
}

pub(crate) async fn run(
    config: PrometheusConfig,
    plan: Arc<ArcSwap<LoadPlan>>,
    tx: mpsc::UnboundedSender<FeedMsg>,
    cancel: CancellationToken,
) {
    let client = match reqwest::Client::builder()
        .no_proxy()
        .timeout(config.interval.min(Duration::from_secs(10)))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("load: Prometheus client: {e}");
            return;
        }
    };
    let mut tick = tokio::time::interval(config.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let queries: Vec<(Arc<str>, Arc<str>)> = plan
            .load()
            .datacenters
            .iter()
            .filter_map(|(name, d)| Some((name.clone(), d.query.clone()?)))
            .collect();
        let mut rows = Vec::new();
        for (dc, promql) in queries {
            match query(&client, &config.url, &promql).await {
                Ok(v) => rows.push((Key::Datacenter(dc), Sample::Value(v))),
                Err(e) => {
                    crate::metrics::load_bad_input("prometheus", "query_failed");
                    tracing::warn!("load: Prometheus query for datacenter {dc} failed: {e}");
                }
            }
        }
        if !rows.is_empty() && tx.send(FeedMsg::Report(rows, Source::Prometheus)).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{encode, parse_answer};

    #[test]
    fn queries_are_percent_encoded() {
        assert_eq!(
            encode("sum(rate(x{dc=\"eu\"}[1m]))"),
            "sum%28rate%28x%7Bdc%3D%22eu%22%7D%5B1m%5D%29%29"
        );
    }

    #[test]
    fn answers_and_errors() {
        let vector = br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1.5,"87.5"]}]}}"#;
        assert_eq!(parse_answer(vector), Ok(87.5));
        let scalar = br#"{"status":"success","data":{"resultType":"scalar","result":[1.5,"3"]}}"#;
        assert_eq!(parse_answer(scalar), Ok(3.0));
        let empty = br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert!(parse_answer(empty).unwrap_err().contains("no sample"));
        let error = br#"{"status":"error","errorType":"bad_data","error":"parse error"}"#;
        assert!(parse_answer(error).unwrap_err().contains("parse error"));
        let nan = br#"{"status":"success","data":{"resultType":"scalar","result":[1.5,"NaN"]}}"#;
        assert!(parse_answer(nan).is_err());
        assert!(parse_answer(b"<html>").is_err());
    }
}
