//! The agent's side of the admin API: fetch targets, push samples (bearer token, JSON).

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde::Serialize;
use serde_json::Value;

use crate::admin::latency::TargetsView;
use crate::latency::Target;

/// Why a server could not be talked to.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("{url}: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("{url}: HTTP {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("{url}: invalid reply: {source}")]
    Reply {
        url: String,
        source: serde_json::Error,
    },
}

/// One measured network in a push.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Measured {
    /// The client network.
    pub network: ipnet::IpNet,
    /// The lowest RTT measured, in milliseconds.
    pub rtt_ms: f64,
    /// How many probes answered.
    pub samples: u32,
}

#[derive(Serialize)]
struct Push<'a> {
    datacenter: &'a str,
    samples: &'a [Measured],
}

/// An HTTP client for the admin API of Meridian servers.
pub(crate) struct Api {
    http: reqwest::Client,
    token: String,
}

impl Api {
    pub(crate) fn new(token: String, timeout: Duration) -> Result<Self, reqwest::Error> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        // No proxy: agents talk to their servers directly, whatever the environment says.
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(timeout)
            .user_agent(concat!("meridian-agent/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { http, token })
    }

    /// `GET /v1/latency/targets` of `server` (a base URL such as `http://127.0.0.1:9153`).
    pub(crate) async fn targets(
        &self,
        server: &str,
        datacenter: &str,
        limit: usize,
    ) -> Result<Vec<Target>, ApiError> {
        let url = format!(
            "{}/v1/latency/targets?datacenter={datacenter}&limit={limit}",
            server.trim_end_matches('/')
        );
        let request = self.http.get(&url);
        let body = self.send(&url, request).await?;
        let view: TargetsView =
            serde_json::from_slice(&body).map_err(|source| ApiError::Reply { url, source })?;
        Ok(view.targets)
    }

    /// `POST /v1/latency/samples` to `server`; returns the server's report.
    pub(crate) async fn push(
        &self,
        server: &str,
        datacenter: &str,
        samples: &[Measured],
    ) -> Result<Value, ApiError> {
        let url = format!("{}/v1/latency/samples", server.trim_end_matches('/'));
        let body = serde_json::to_vec(&Push {
            datacenter,
            samples,
        })
        .map_err(|source| ApiError::Reply {
            url: url.clone(),
            source,
        })?;
        let request = self
            .http
            .post(&url)
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        let reply = self.send(&url, request).await?;
        serde_json::from_slice(&reply).map_err(|source| ApiError::Reply { url, source })
    }

    async fn send(&self, url: &str, request: reqwest::RequestBuilder) -> Result<Vec<u8>, ApiError> {
        let http = |source| ApiError::Http {
            url: url.to_string(),
            source,
        };
        let response = request
            .header(AUTHORIZATION, format!("Bearer {}", self.token))
            .send()
            .await
            .map_err(http)?;
        let status = response.status();
        let body = response.bytes().await.map_err(http)?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body);
            return Err(ApiError::Status {
                url: url.to_string(),
                status: status.as_u16(),
                body: text.chars().take(300).collect(),
            });
        }
        Ok(body.to_vec())
    }
}
