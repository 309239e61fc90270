//! The admin API over real HTTP on 127.0.0.1: auth, JSON errors, readiness, limits, overrides.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use meridian::admin::{
    self, Auth, Control, ControlError, ExplainRequest, ExplainView, Limits, OverrideState,
    ReloadView, StatusView, TargetView, ZoneView,
};
use meridian::health::Status;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "test-token-0123456789";

/// A stand-in for the server behind the seam, recording what it was asked.
#[derive(Default)]
struct TestControl {
    ready: AtomicBool,
    generation: AtomicU64,
    fail_reload: AtomicBool,
    overrides: Mutex<Vec<(String, Option<OverrideState>)>>,
    /// When set, `reload` waits for a message on it (to test the timeout).
    hold_reload: Mutex<Option<mpsc::Receiver<()>>>,
}

impl Control for TestControl {
    fn status(&self) -> StatusView {
        StatusView {
            version: "test".into(),
            generation: self.generation.load(Ordering::SeqCst),
            ready: self.ready(),
            last_reload: Some(ReloadView {
                ok: true,
                at: 1_700_000_000,
                generation: 1,
                errors: vec![],
            }),
        }
    }

    fn zones(&self) -> Vec<ZoneView> {
        vec![ZoneView {
            origin: "gslb.example.com.".into(),
            serial: 1,
            file: "zones/gslb.example.com.toml".into(),
            services: vec![],
        }]
    }

    fn health(&self) -> Vec<TargetView> {
        vec![TargetView {
            target: "192.0.2.10/web".into(),
            state: Status::Up,
            since: Some(1_700_000_000),
            forced: false,
            last_probe: None,
        }]
    }

    fn explain(&self, r: &ExplainRequest) -> Result<ExplainView, ControlError> {
        if r.name == "refuse.example." {
            return Err(ControlError::Invalid(
                "no zone serves refuse.example.".into(),
            ));
        }
        Ok(ExplainView {
            zone: Some("gslb.example.com.".into()),
            service: None,
            policy: None,
            outcome: "static".into(),
            rcode: "NOERROR".into(),
            ecs_scope: r.ecs.map_or(0, |n| n.prefix_len()),
            answers: vec![format!("{} 60 IN {} 192.0.2.10", r.name, r.qtype)],
            steps: r.down.clone(),
        })
    }

    fn reload(&self) -> Result<u64, Vec<String>> {
        if let Some(rx) = self.hold_reload.lock().unwrap().take() {
            let _ = rx.recv();
        }
        if self.fail_reload.load(Ordering::SeqCst) {
            return Err(vec![
                "zones/a.toml:1:1: boom".into(),
                "zones/b.toml:2:3: bang".into(),
            ]);
        }
        Ok(self.generation.fetch_add(1, Ordering::SeqCst) + 1)
    }

    fn set_override(&self, selector: &str, state: OverrideState) -> Result<(), ControlError> {
        if selector == "nowhere" {
            return Err(ControlError::NotFound("no target matches nowhere".into()));
        }
        let mut o = self.overrides.lock().unwrap();
        o.push((selector.into(), Some(state)));
        Ok(())
    }

    fn clear_override(&self, selector: &str) -> Result<(), ControlError> {
        self.overrides.lock().unwrap().push((selector.into(), None));
        Ok(())
    }

    fn ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}

struct Server {
    base: String,
    control: Arc<TestControl>,
    http: reqwest::Client,
}

impl Server {
    async fn start(token: Option<&str>, protect_reads: bool, limits: Limits) -> Server {
        let control = Arc::new(TestControl {
            generation: AtomicU64::new(1),
            ..TestControl::default()
        });
        let metrics = meridian::metrics::install().unwrap();
        let auth = Auth::new(token.map(String::from), protect_reads);
        let app = admin::router(control.clone(), metrics, auth, limits);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        Server {
            base,
            control,
            http,
        }
    }

    async fn default() -> Server {
        Server::start(Some(TOKEN), false, Limits::default()).await
    }

    fn req(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let r = self.http.request(method, format!("{}{path}", self.base));
        match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    async fn call(&self, r: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let resp = r.send().await.unwrap();
        let status = resp.status();
        let ct = resp.headers().get("content-type").cloned();
        let body: Value = resp
            .json()
            .await
            .unwrap_or_else(|e| panic!("{status} {ct:?}: {e}"));
        (status, body)
    }

    async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.call(self.req(reqwest::Method::GET, path, token)).await
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.call(self.req(reqwest::Method::POST, path, token).json(&body))
            .await
    }
}

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
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    assert_eq!(
        http.get(&url).send().await.unwrap().status(),
        StatusCode::OK
    );
    drop(http);
    cancel.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(5), server).await;
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "{stopped:?}");
}
