//! Admin endpoints of load-aware steering.
//!
//! | endpoint | auth | answer |
//! |---|---|---|
//! | `POST /v1/load` `{"selector","value"}`, a list of them, or `{"rows": [...]}` | always | `{"applied": N}` entries set |
//! | `GET /v1/load` | reads | every member's and datacenter's load, source, age, watermarks and shed share |

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::state::Shared;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    selector: String,
    value: f64,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Body {
    One(Row),
    Many(Vec<Row>),
    Rows { rows: Vec<Row> },
}

pub(crate) async fn post(
    State(s): State<Shared>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let bytes = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    let rows = match serde_json::from_slice::<Body>(&bytes) {
        Ok(Body::One(r)) => vec![r],
        Ok(Body::Many(rows) | Body::Rows { rows }) => rows,
        Err(_) => {
            crate::metrics::load_bad_input("api", "not_a_number");
            return Err(ApiError::bad_request(
                "body must be {\"selector\": \"...\", \"value\": NUMBER}, a list of them, or {\"rows\": [...]}",
            ));
        }
    };
    let rows: Vec<(String, f64)> = rows.into_iter().map(|r| (r.selector, r.value)).collect();
    let applied = s.control.load_post(&rows)?;
    Ok(Json(json!({ "applied": applied })))
}

pub(crate) async fn view(State(s): State<Shared>) -> Json<Value> {
    Json(json!({ "entries": s.control.load() }))
}
