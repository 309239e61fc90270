//! The admin HTTP API (axum): status, zones, health, explain, reload, overrides, `/metrics` and the probes.
//!
//! | endpoint | auth | answer |
//! |---|---|---|
//! | `GET /healthz` | never | 200 `{"status":"ok"}` while the process serves HTTP |
//! | `GET /readyz` | never | 200 `{"ready":true}`, 503 until [`Control::ready`] |
//! | `GET /metrics` | reads | Prometheus text format |
//! | `GET /v1/status`, `/v1/zones`, `/v1/health` | reads | JSON views |
//! | `GET /v1/cluster` | reads | cluster members, liveness, versions, zone digests, drift (404 when off) |
//! | `GET /v1/explain?name=&type=&client=&ecs=&down=` | reads | what would be answered, and why |
//! | `POST /v1/reload` | always | 200 `{"generation":n}`, 422 with every error |
//! | `POST /v1/reload?dry_run=true` | always | 200 `{"dry_run":true,"changed","report"}` (the `meridian diff` report), 422 with every error |
//! | `POST /v1/overrides` `{"selector","state":"up|down|drain","who","reason","expires_in"}` | always | 200, 422 when the selector names no configured target |
//! | `DELETE /v1/overrides/{selector}`, `POST /v1/overrides/clear` `{"selector"}` | always | 200 |
//! | `GET /v1/console`, `GET /v1/console/map?service=` | reads | the console's overview and a service's country map |
//! | `GET /ui` (and `/ui/app.js`, `/ui/app.css`, `/ui/world.json`) | never | the web console (see [`ui`]); it holds no data |
//! | `/v1/latency/...` | see [`latency`] | latency targets, samples, import and view |
//!
//! "always": `Authorization: Bearer <token>` is required (401 without, 403 when wrong, 403
//! when no token is configured). "reads": the same, only when `protect_reads` is set.
//! Errors are JSON `{"error":"message"}`. Bodies are limited to [`BODY_LIMIT`] bytes and
//! every request to [`REQUEST_TIMEOUT`].

mod auth;
mod control;
mod error;
pub(crate) mod latency;
mod load;
mod routes;
mod state;
mod ui;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use auth::{Auth, MIN_TOKEN_LEN, TOKEN_ENV, TokenError, resolve_token};
pub use control::{
    Control, ControlError, ExplainRequest, ExplainSignature, ExplainSigning, ExplainView,
    OverrideState, ProbeView, ReloadView, ServiceView, StatusView, TargetView, ZoneView,
};
pub(crate) use error::ApiError;

use crate::metrics::PrometheusHandle;
use state::Shared;

/// Largest request body accepted (413 beyond).
pub const BODY_LIMIT: usize = 64 * 1024;
/// Longest a request may take before it is answered 503.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Size and time limits of the router; [`Limits::default`] is what [`serve`] uses.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest request body accepted, in bytes.
    pub body: usize,
    /// Longest time a request may take.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            body: BODY_LIMIT,
            timeout: REQUEST_TIMEOUT,
        }
    }
}

/// Serve the admin API on `listener` until `cancel` fires; also folds histogram samples
/// (see [`crate::metrics::upkeep`]). `token`: from [`resolve_token`].
pub async fn serve(
    listener: TcpListener,
    control: Arc<dyn Control>,
    metrics: PrometheusHandle,
    token: Option<String>,
    protect_reads: bool,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    let app = router(
        control,
        metrics.clone(),
        Auth::new(token, protect_reads),
        Limits::default(),
    );
    let upkeep = tokio::spawn(crate::metrics::upkeep(metrics, cancel.clone()));
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(cancel.clone().cancelled_owned())
        .await;
    cancel.cancel();
    let _ = upkeep.await;
    served
}

/// The admin router, for [`serve`] and for tests.
pub fn router(
    control: Arc<dyn Control>,
    metrics: PrometheusHandle,
    auth: Auth,
    limits: Limits,
) -> Router {
    let auth = Arc::new(auth);
    let writes = Router::new()
        .route("/v1/reload", post(routes::reload))
        .route("/v1/overrides", post(routes::set_override))
        .route("/v1/overrides/clear", post(routes::clear_override_body))
        .route(
            "/v1/overrides/{*selector}",
            delete(routes::clear_override_path),
        )
        .route("/v1/latency/targets", get(latency::targets))
        .route("/v1/latency/samples", post(latency::samples))
        .route("/v1/load", post(load::post))
        .route(
            "/v1/latency/import",
            post(latency::import).layer(DefaultBodyLimit::max(latency::IMPORT_LIMIT)),
        )
        .route_layer(middleware::from_fn_with_state(
            auth.clone(),
            auth::require_token,
        ));
    let reads = Router::new()
        .route("/v1/status", get(routes::status))
        .route("/v1/zones", get(routes::zones))
        .route("/v1/health", get(routes::health))
        .route("/v1/cluster", get(routes::cluster))
        .route("/v1/explain", get(routes::explain))
        .route("/v1/latency", get(latency::view))
        .route("/v1/console", get(ui::console))
        .route("/v1/console/map", get(ui::service_map))
        .route("/v1/load", get(load::view))
        .route("/metrics", get(routes::metrics))
        .route_layer(middleware::from_fn_with_state(auth, auth::guard_reads));
    let probes = Router::new()
        .route("/healthz", get(routes::healthz))
        .route("/readyz", get(routes::readyz));
    let timeout = limits.timeout;
    Router::new()
        .merge(writes)
        .merge(reads)
        .merge(probes)
        .merge(ui::assets())
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(DefaultBodyLimit::max(limits.body))
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            with_timeout(timeout, req, next)
        }))
        .with_state(Shared { control, metrics })
}

async fn with_timeout(timeout: Duration, req: Request, next: Next) -> Response {
    match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            format!("request timed out after {} ms", timeout.as_millis()),
        )
        .into_response(),
    }
}
