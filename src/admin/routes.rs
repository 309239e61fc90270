//! Admin API handlers: read views, explain, reload, overrides, `/metrics` and the probes.

use std::net::IpAddr;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::control::{ExplainRequest, ExplainView, OverrideState, StatusView};
use super::error::ApiError;
use super::state::{Shared, blocking};

/// Longest selector or query name accepted.
const MAX_NAME_LEN: usize = 255;
/// Most selectors in an explain request's `down` list.
const MAX_DOWN: usize = 64;
/// Content type of the Prometheus text exposition format.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

type ApiResult<T> = Result<T, ApiError>;

pub(crate) async fn status(State(s): State<Shared>) -> Json<StatusView> {
    Json(s.control.status())
}

pub(crate) async fn zones(State(s): State<Shared>) -> Json<Value> {
    Json(json!({ "zones": s.control.zones() }))
}

pub(crate) async fn health(State(s): State<Shared>) -> Json<Value> {
    Json(json!({ "targets": s.control.health(), "recent": s.control.recent_events() }))
}

/// The query string of `GET /v1/explain`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExplainParams {
    name: Option<String>,
    #[serde(rename = "type")]
    qtype: Option<String>,
    client: Option<String>,
    ecs: Option<String>,
    down: Option<String>,
}

pub(crate) async fn explain(
    State(s): State<Shared>,
    params: Result<Query<ExplainParams>, QueryRejection>,
) -> ApiResult<Json<ExplainView>> {
    let Query(params) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let request = parse_explain(params)?;
    let control = s.control.clone();
    let view = blocking(move || control.explain(&request)).await??;
    Ok(Json(view))
}

/// Validate explain parameters; every message names the parameter.
pub(crate) fn parse_explain(p: ExplainParams) -> ApiResult<ExplainRequest> {
    let name = p.name.unwrap_or_default();
    let name = checked_name("name", name.trim())?;
    let qtype = p.qtype.unwrap_or_else(|| "A".into()).to_ascii_uppercase();
    if qtype.is_empty() || qtype.len() > 16 || !qtype.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ApiError::bad_request(format!(
            "type: invalid query type {qtype:?}"
        )));
    }
    let client = match p.client.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(c) => Some(
            c.parse::<IpAddr>()
                .map_err(|_| ApiError::bad_request(format!("client: invalid IP address {c:?}")))?,
        ),
    };
    let ecs = match p.ecs.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(e) => Some(parse_ecs(e)?),
    };
    let down = p.down.unwrap_or_default();
    let down = down
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| checked_name("down", d))
        .collect::<ApiResult<Vec<_>>>()?;
    if down.len() > MAX_DOWN {
        return Err(ApiError::bad_request(format!(
            "down: at most {MAX_DOWN} selectors"
        )));
    }
    Ok(ExplainRequest {
        name,
        qtype,
        client,
        ecs,
        down,
    })
}

fn parse_ecs(text: &str) -> ApiResult<IpNet> {
    let net: IpNet = text.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "ecs: invalid subnet {text:?}, expected address/prefix"
        ))
    })?;
    if net.trunc() != net {
        return Err(ApiError::bad_request(format!(
            "ecs: {text} has address bits set beyond the prefix (use {})",
            net.trunc()
        )));
    }
    Ok(net)
}

/// A non-empty name or selector of printable characters, at most 255 bytes.
fn checked_name(param: &str, value: &str) -> ApiResult<String> {
    if value.is_empty() {
        return Err(ApiError::bad_request(format!("{param}: required")));
    }
    if value.len() > MAX_NAME_LEN || value.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "{param}: must be at most {MAX_NAME_LEN} bytes without control characters"
        )));
    }
    Ok(value.to_string())
}

/// The query string of `POST /v1/reload`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReloadParams {
    /// Compile and report what would change (`meridian diff`), swap nothing in.
    #[serde(default)]
    dry_run: bool,
}

pub(crate) async fn reload(
    State(s): State<Shared>,
    params: Result<Query<ReloadParams>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(params) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let control = s.control.clone();
    if params.dry_run {
        return match blocking(move || control.reload_preview()).await? {
            Ok(report) => Ok(Json(json!({
                "dry_run": true,
                "changed": report.changed(),
                "report": report,
            }))),
            Err(errors) => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "the configuration has {} error(s); a reload would fail",
                    errors.len()
                ),
            )
            .with_errors(errors)),
        };
    }
    match blocking(move || control.reload()).await? {
        Ok(generation) => Ok(Json(json!({ "generation": generation }))),
        Err(errors) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "reload failed with {} error(s); the previous configuration keeps serving",
                errors.len()
            ),
        )
        .with_errors(errors)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideBody {
    selector: String,
    state: OverrideState,
    /// Who asks and why (kept with the override in cluster mode).
    who: Option<String>,
    reason: Option<String>,
    /// Seconds or a duration (`"30m"`); the override clears itself after it (cluster mode).
    expires_in: Option<crate::config::service_file::Seconds>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClearBody {
    selector: String,
}

/// A JSON body within the size limit, or the error saying what is wrong with it.
fn json_body<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> ApiResult<T> {
    let bytes = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

pub(crate) async fn set_override(
    State(s): State<Shared>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let OverrideBody {
        selector,
        state,
        who,
        reason,
        expires_in,
    } = json_body(body)?;
    let selector = checked_name("selector", selector.trim())?;
    let expires_in = match expires_in.map(|e| e.0) {
        None => None,
        Some(Ok(secs)) if (1.0..=366.0 * 86_400.0).contains(&secs) => {
            Some(std::time::Duration::from_secs_f64(secs))
        }
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "`expires_in` must be a duration from 1s to 366 days, e.g. 3600 or \"1h\"",
            ));
        }
    };
    let ask = crate::cluster::OverrideAsk {
        who,
        reason,
        expires_in,
    };
    let (control, sel) = (s.control.clone(), selector.clone());
    blocking(move || control.set_override_with(&sel, state, &ask)).await??;
    Ok(Json(json!({ "selector": selector, "state": state })))
}

pub(crate) async fn cluster(State(s): State<Shared>) -> ApiResult<Json<Value>> {
    let status = s.control.cluster()?;
    Ok(Json(json!(status)))
}

pub(crate) async fn clear_override_body(
    State(s): State<Shared>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let ClearBody { selector } = json_body(body)?;
    clear(s, &selector).await
}

pub(crate) async fn clear_override_path(
    State(s): State<Shared>,
    Path(selector): Path<String>,
) -> ApiResult<Json<Value>> {
    clear(s, &selector).await
}

async fn clear(s: Shared, selector: &str) -> ApiResult<Json<Value>> {
    let selector = checked_name("selector", selector.trim())?;
    let (control, sel) = (s.control.clone(), selector.clone());
    blocking(move || control.clear_override(&sel)).await??;
    Ok(Json(json!({ "selector": selector, "cleared": true })))
}

pub(crate) async fn metrics(State(s): State<Shared>) -> Response {
    (
        [(CONTENT_TYPE, PROMETHEUS_TEXT)],
        crate::metrics::render(&s.metrics),
    )
        .into_response()
}

pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub(crate) async fn readyz(State(s): State<Shared>) -> ApiResult<Json<Value>> {
    if s.control.ready() {
        Ok(Json(json!({ "ready": true })))
    } else {
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: configuration not loaded or targets not yet probed",
        ))
    }
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such endpoint")
}

pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed on this endpoint",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(name: &str) -> ExplainParams {
        ExplainParams {
            name: Some(name.into()),
            ..ExplainParams::default()
        }
    }

    #[test]
    fn explain_defaults_and_parses() {
        let r = parse_explain(ExplainParams {
            qtype: Some("aaaa".into()),
            client: Some("192.0.2.1".into()),
            ecs: Some("198.51.100.0/24".into()),
            down: Some(" dc:ams , 192.0.2.10/web,".into()),
            ..params("www.gslb.example.com")
        })
        .unwrap();
        assert_eq!(r.qtype, "AAAA");
        assert_eq!(r.client, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(r.ecs.unwrap().to_string(), "198.51.100.0/24");
        assert_eq!(r.down, ["dc:ams", "192.0.2.10/web"]);
        let r = parse_explain(params("x.")).unwrap();
        assert_eq!((r.qtype.as_str(), r.client, r.ecs), ("A", None, None));
    }

    #[test]
    fn explain_errors_name_the_parameter() {
        let msg = |p| parse_explain(p).unwrap_err().message().to_string();
        assert_eq!(msg(params("")), "name: required");
        assert!(msg(ExplainParams::default()).starts_with("name:"));
        let bad_client = ExplainParams {
            client: Some("1.2.3".into()),
            ..params("x")
        };
        assert!(msg(bad_client).starts_with("client:"));
        let bad_ecs = ExplainParams {
            ecs: Some("198.51.100.7/24".into()),
            ..params("x")
        };
        assert!(msg(bad_ecs).contains("use 198.51.100.0/24"));
        let bad_type = ExplainParams {
            qtype: Some("A;B".into()),
            ..params("x")
        };
        assert!(msg(bad_type).starts_with("type:"));
        let long = "a".repeat(256);
        assert!(msg(params(&long)).starts_with("name: must be at most 255"));
    }
}
