//! The admin API over real HTTP on 127.0.0.1: auth, JSON errors, readiness, limits, overrides.

use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use meridian::admin::{self, Limits, OverrideState};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::control::{Server, TOKEN, TestControl};
use crate::support::http::client;

fn error_of(body: &Value) -> &str {
    body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error in {body}"))
}

#[tokio::test]
async fn reads_are_open_and_return_views() {
    let s = Server::default().await;
    let (code, body) = s.get("/v1/status", None).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(body["generation"], 1);
    assert_eq!(body["last_reload"]["ok"], true);
    let (_, body) = s.get("/v1/zones", None).await;
    assert_eq!(body["zones"][0]["origin"], "gslb.example.com.");
    let (_, body) = s.get("/v1/health", None).await;
    assert_eq!(body["targets"][0]["state"], "up");
}

#[tokio::test]
async fn writes_need_the_bearer_token() {
    let s = Server::default().await;
    let resp = s
        .req(reqwest::Method::POST, "/v1/reload", None)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let body: Value = resp.json().await.unwrap();
    assert!(error_of(&body).contains("Authorization: Bearer"));
    let (code, body) = s
        .post("/v1/reload", Some("wrong-token-0123456789"), json!({}))
        .await;
    assert_eq!(
        (code, error_of(&body)),
        (StatusCode::FORBIDDEN, "invalid admin token")
    );
    let basic = s
        .req(reqwest::Method::POST, "/v1/reload", None)
        .basic_auth("a", Some("b"));
    assert_eq!(s.call(basic).await.0, StatusCode::UNAUTHORIZED);
    let (code, body) = s.post("/v1/reload", Some(TOKEN), json!({})).await;
    assert_eq!((code, body), (StatusCode::OK, json!({"generation": 2})));
    assert_eq!(s.control.generation.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn without_a_configured_token_writes_are_forbidden() {
    let s = Server::start(None, false, Limits::default()).await;
    let (code, body) = s.post("/v1/reload", Some(TOKEN), json!({})).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    assert!(error_of(&body).contains("token is configured"), "{body}");
    assert_eq!(s.control.generation.load(Ordering::SeqCst), 1);
    assert_eq!(s.get("/v1/status", None).await.0, StatusCode::OK);
}

#[tokio::test]
async fn protected_reads_need_the_token_but_probes_do_not() {
    let s = Server::start(Some(TOKEN), true, Limits::default()).await;
    assert_eq!(s.get("/v1/status", None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        s.get("/v1/status", Some("x-wrong-token-xxxxxx")).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(s.get("/v1/status", Some(TOKEN)).await.0, StatusCode::OK);
    let metrics = s
        .req(reqwest::Method::GET, "/metrics", None)
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(s.get("/healthz", None).await.0, StatusCode::OK);
    assert_eq!(
        s.get("/readyz", None).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test]
async fn readiness_flips_when_the_control_is_ready() {
    let s = Server::default().await;
    let (code, body) = s.get("/readyz", None).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
    assert!(error_of(&body).starts_with("not ready"));
    s.control.ready.store(true, Ordering::SeqCst);
    assert_eq!(
        s.get("/readyz", None).await,
        (StatusCode::OK, json!({"ready": true}))
    );
    assert_eq!(
        s.get("/healthz", None).await,
        (StatusCode::OK, json!({"status": "ok"}))
    );
}

#[tokio::test]
async fn overrides_are_set_validated_and_cleared() {
    let s = Server::default().await;
    let (code, body) = s
        .post(
            "/v1/overrides",
            Some(TOKEN),
            json!({"selector": "192.0.2.10/web", "state": "drain"}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"selector": "192.0.2.10/web", "state": "drain"})
    );
    let (code, body) = s
        .post(
            "/v1/overrides",
            Some(TOKEN),
            json!({"selector": "x", "state": "sideways"}),
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).contains("unknown variant"), "{body}");
    let extra = json!({"selector": "x", "state": "up", "ttl": 5});
    assert_eq!(
        s.post("/v1/overrides", Some(TOKEN), extra).await.0,
        StatusCode::BAD_REQUEST
    );
    let nowhere = json!({"selector": "nowhere", "state": "down"});
    assert_eq!(
        s.post("/v1/overrides", Some(TOKEN), nowhere).await.0,
        StatusCode::NOT_FOUND
    );
    for path in [
        "/v1/overrides/192.0.2.10%2Fweb",
        "/v1/overrides/192.0.2.10/web",
    ] {
        let (code, body) = s
            .call(s.req(reqwest::Method::DELETE, path, Some(TOKEN)))
            .await;
        assert_eq!(
            (code, body),
            (
                StatusCode::OK,
                json!({"selector": "192.0.2.10/web", "cleared": true})
            )
        );
    }
    let unauth = s.req(reqwest::Method::DELETE, "/v1/overrides/a", None);
    assert_eq!(s.call(unauth).await.0, StatusCode::UNAUTHORIZED);
    let (code, _) = s
        .post(
            "/v1/overrides/clear",
            Some(TOKEN),
            json!({"selector": "dc:ams"}),
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    let seen = s.control.overrides.lock().unwrap().clone();
    assert_eq!(seen.len(), 4);
    assert_eq!(
        seen[0],
        ("192.0.2.10/web".into(), Some(OverrideState::Drain))
    );
    assert_eq!(seen[3], ("dc:ams".into(), None));
}

#[tokio::test]
async fn oversized_and_malformed_bodies_get_json_errors() {
    let s = Server::default().await;
    let big = json!({"selector": "x".repeat(admin::BODY_LIMIT + 1), "state": "up"});
    let (code, body) = s.post("/v1/overrides", Some(TOKEN), big).await;
    assert_eq!(code, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(!error_of(&body).is_empty());
    let garbage = s
        .req(reqwest::Method::POST, "/v1/overrides", Some(TOKEN))
        .body("{nope");
    let (code, body) = s.call(garbage).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).starts_with("invalid JSON body"));
}

#[tokio::test]
async fn failed_reload_lists_every_error() {
    let s = Server::default().await;
    s.control.fail_reload.store(true, Ordering::SeqCst);
    let (code, body) = s.post("/v1/reload", Some(TOKEN), json!({})).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error_of(&body).contains("2 error(s)"));
    assert_eq!(body["errors"][1], "zones/b.toml:2:3: bang");
}

#[tokio::test]
async fn explain_validates_and_maps_control_errors() {
    let s = Server::default().await;
    let q = "/v1/explain?name=www.gslb.example.com&type=aaaa&client=192.0.2.1&ecs=198.51.100.0/24&down=dc:ams";
    let (code, body) = s.get(q, None).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["ecs_scope"], 24);
    assert_eq!(
        body["answers"][0],
        "www.gslb.example.com 60 IN AAAA 192.0.2.10"
    );
    assert_eq!(body["steps"], json!(["dc:ams"]));
    let (code, body) = s.get("/v1/explain?name=x&client=nope", None).await;
    assert_eq!(
        (code, error_of(&body)),
        (
            StatusCode::BAD_REQUEST,
            "client: invalid IP address \"nope\""
        )
    );
    let (code, body) = s.get("/v1/explain?name=x&colour=red", None).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).contains("colour"), "{body}");
    let (code, body) = s.get("/v1/explain?name=refuse.example.", None).await;
    assert_eq!(
        (code, error_of(&body)),
        (StatusCode::BAD_REQUEST, "no zone serves refuse.example.")
    );
}

#[tokio::test]
async fn unknown_paths_and_methods_get_json_errors() {
    let s = Server::default().await;
    assert_eq!(s.get("/v2/nothing", None).await.0, StatusCode::NOT_FOUND);
    let (code, body) = s.get("/v1/reload", None).await;
    assert_eq!(code, StatusCode::METHOD_NOT_ALLOWED);
    assert!(!error_of(&body).is_empty());
}

#[tokio::test]
async fn slow_requests_time_out_with_503() {
    let limits = Limits {
        timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    let s = Server::start(Some(TOKEN), false, limits).await;
    let (release, held) = mpsc::channel();
    *s.control.hold_reload.lock().unwrap() = Some(held);
    let (code, body) = s.post("/v1/reload", Some(TOKEN), json!({})).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
    assert!(error_of(&body).contains("timed out"));
    release.send(()).unwrap();
}

#[tokio::test]
async fn serve_stops_when_cancelled() {
    let control = Arc::new(TestControl::default());
    let metrics = meridian::metrics::install().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/healthz", listener.local_addr().unwrap());
    let cancel = CancellationToken::new();
    let server = tokio::spawn(admin::serve(
        listener,
        control,
        metrics,
        None,
        false,
        cancel.clone(),
    ));
    let http = client();
    assert_eq!(
        http.get(&url).send().await.unwrap().status(),
        StatusCode::OK
    );
    drop(http);
    cancel.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(5), server).await;
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "{stopped:?}");
}
