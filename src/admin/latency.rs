//! Admin endpoints of latency steering: targets for agents, samples, bulk import, the table view.
//!
//! | endpoint | auth | answer |
//! |---|---|---|
//! | `GET /v1/latency/targets?datacenter=&limit=` | always | the busiest client networks and what to probe |
//! | `POST /v1/latency/samples` `{"datacenter","samples":[{"network","rtt_ms","samples"}]}` | always | what was applied |
//! | `POST /v1/latency/import` CSV or JSON rows (up to [`IMPORT_LIMIT`]) | always | what was applied |
//! | `GET /v1/latency?network=` | reads | table size, settings, one network's RTTs and its neighbour estimates |
//!
//! Targets need the token even for reading: they are the client networks seen in queries.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use serde::Deserialize;

pub(crate) use super::control::{LatencySummary, NeighbourView, RttView, TargetsView};
use super::error::ApiError;
use super::state::{Shared, blocking};
use super::{Control, ControlError};
use crate::latency::Applied;

/// Largest `POST /v1/latency/import` body (other endpoints keep the default limit).
pub(crate) const IMPORT_LIMIT: usize = 16 * 1024 * 1024;
/// Default and largest number of targets per request.
pub(crate) const DEFAULT_TARGETS: usize = 100;
pub(crate) const MAX_TARGETS: usize = 10_000;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TargetsParams {
    datacenter: Option<String>,
    limit: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LatencyParams {
    network: Option<String>,
}

pub(crate) async fn targets(
    State(s): State<Shared>,
    params: Result<Query<TargetsParams>, QueryRejection>,
) -> Result<Json<TargetsView>, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = p.limit.unwrap_or(DEFAULT_TARGETS);
    if !(1..=MAX_TARGETS).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit: must be within 1..={MAX_TARGETS}"
        )));
    }
    let datacenter = p.datacenter.filter(|d| !d.trim().is_empty());
    Ok(Json(
        s.control.latency_targets(datacenter.as_deref(), limit)?,
    ))
}

fn text(body: Result<Bytes, BytesRejection>) -> Result<String, ApiError> {
    let bytes = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    String::from_utf8(bytes.to_vec()).map_err(|_| ApiError::bad_request("body must be UTF-8"))
}

pub(crate) async fn samples(
    State(s): State<Shared>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Applied>, ApiError> {
    ingest(s, body, super::control::Control::latency_samples).await
}

pub(crate) async fn import(
    State(s): State<Shared>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Applied>, ApiError> {
    ingest(s, body, super::control::Control::latency_import).await
}

/// Hand a text body to one of the control's latency ingest methods, off the runtime threads.
async fn ingest(
    s: Shared,
    body: Result<Bytes, BytesRejection>,
    apply: fn(&dyn Control, &str) -> Result<Applied, ControlError>,
) -> Result<Json<Applied>, ApiError> {
    let body = text(body)?;
    let control = s.control.clone();
    Ok(Json(
        blocking(move || apply(control.as_ref(), &body)).await??,
    ))
}

pub(crate) async fn view(
    State(s): State<Shared>,
    params: Result<Query<LatencyParams>, QueryRejection>,
) -> Result<Json<LatencySummary>, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let network = match p.network.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(n) => Some(
            crate::latency::parse_network(n)
                .map_err(|e| ApiError::bad_request(format!("network: {e}")))?,
        ),
    };
    Ok(Json(s.control.latency(network)?))
}
