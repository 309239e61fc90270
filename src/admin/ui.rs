//! The web console at `/ui`: its embedded assets (no CDN, nothing fetched from elsewhere),
//! their security headers, and the JSON views only the console needs.
//!
//! The page and its assets carry no data and are served without a token; everything they
//! show comes from `/v1/...` with the same rules as the API (reads follow `protect_reads`,
//! actions need the token, which the page keeps in `sessionStorage` and sends as a header).

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::error::ApiError;
use super::state::{Shared, blocking};

/// Scripts, styles and connections from this origin only: no inline script or style.
pub(crate) const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

const INDEX: &str = include_str!("ui/index.html");
const APP_JS: &str = include_str!("ui/app.js");
const APP_CSS: &str = include_str!("ui/app.css");
const WORLD: &str = include_str!("ui/world.json");

/// Most services `/v1/console` lists.
const CONSOLE_LIMIT: usize = 2000;

/// The console's static routes (no authentication: they hold no data).
pub(crate) fn assets() -> Router<Shared> {
    Router::new()
        .route(
            "/ui",
            get(|| async { asset("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/ui/",
            get(|| async { asset("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/ui/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/ui/app.css",
            get(|| async { asset("text/css; charset=utf-8", APP_CSS) }),
        )
        .route(
            "/ui/world.json",
            get(|| async { asset("application/json", WORLD) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, content_type),
            (CONTENT_SECURITY_POLICY, CSP),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (X_FRAME_OPTIONS, "DENY"),
            (REFERRER_POLICY, "no-referrer"),
            (CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `GET /v1/console`: datacenters and targets, zones and services with pools and members up.
pub(crate) async fn console(State(s): State<Shared>) -> Json<serde_json::Value> {
    Json(s.control.console(CONSOLE_LIMIT))
}

/// The query string of `GET /v1/console/map`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MapParams {
    service: String,
}

/// `GET /v1/console/map?service=NAME`: where each country is answered now.
pub(crate) async fn service_map(
    State(s): State<Shared>,
    params: Result<Query<MapParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<crate::diff::map::ServiceMap>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    if params.service.len() > 255 {
        return Err(ApiError::bad_request("service: longer than 255 bytes"));
    }
    let control = s.control.clone();
    let map = blocking(move || control.service_map(&params.service)).await??;
    Ok(Json(map))
}
