//! The ops tests' stand-in for the server behind the admin API (`Control`), and an admin server over it on 127.0.0.1.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use meridian::admin::{
    self, Auth, Control, ControlError, ExplainRequest, ExplainView, Limits, OverrideState,
    ReloadView, StatusView, TargetView, ZoneView,
};
use meridian::health::Status;
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::http::client;

pub const TOKEN: &str = "test-token-0123456789";

/// A stand-in for the server behind the seam, recording what it was asked.
#[derive(Default)]
pub struct TestControl {
    pub ready: AtomicBool,
    pub generation: AtomicU64,
    pub fail_reload: AtomicBool,
    pub overrides: Mutex<Vec<(String, Option<OverrideState>)>>,
    /// When set, `reload` waits for a message on it (to test the timeout).
    pub hold_reload: Mutex<Option<mpsc::Receiver<()>>>,
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

    fn recent_events(&self) -> Vec<meridian::health::RecentEvent> {
        Vec::new()
    }

    fn health(&self) -> Vec<TargetView> {
        vec![TargetView {
            target: "192.0.2.10/web".into(),
            state: Status::Up,
            since: Some(1_700_000_000),
            forced: false,
            last_probe: None,
            cluster: None,
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
            dnssec: None,
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

pub struct Server {
    pub base: String,
    pub control: Arc<TestControl>,
    pub http: reqwest::Client,
}

impl Server {
    pub async fn start(token: Option<&str>, protect_reads: bool, limits: Limits) -> Server {
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
        let http = client();
        Server {
            base,
            control,
            http,
        }
    }

    pub async fn default() -> Server {
        Server::start(Some(TOKEN), false, Limits::default()).await
    }

    pub fn req(
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

    pub async fn call(&self, r: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let resp = r.send().await.unwrap();
        let status = resp.status();
        let ct = resp.headers().get("content-type").cloned();
        let body: Value = resp
            .json()
            .await
            .unwrap_or_else(|e| panic!("{status} {ct:?}: {e}"));
        (status, body)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.call(self.req(reqwest::Method::GET, path, token)).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.call(self.req(reqwest::Method::POST, path, token).json(&body))
            .await
    }
}
