//! A thin W3C WebDriver client over reqwest, driving headless Chromium through chromedriver.
//!
//! Why not a crate (fantoccini, thirtyfour): the handful of commands the console tests need
//! (navigate, find, click, type, text, run a script, screenshot) are one JSON request each,
//! and reqwest is already a dev-dependency; a WebDriver crate would bring its own HTTP and
//! async stack for that. Everything stays on loopback: chromedriver listens on 127.0.0.1
//! and Chromium runs with `--no-proxy-server`.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::need_tool;

/// The key of an element reference in WebDriver responses.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process with one browser session; both end on drop.
pub struct Browser {
    driver: Child,
    addr: SocketAddr,
    session: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

/// An element found on the page.
#[derive(Clone, Debug)]
pub struct Element(String);

impl Browser {
    /// Starts chromedriver and a headless Chromium; `None` (after `skip`, which fails under
    /// CI=true) when either is not installed.
    pub async fn start() -> Option<Self> {
        let driver_bin = need_tool("chromedriver", "chromium-driver")?;
        let chromium = need_tool("chromium", "chromium")?;
        let port = {
            let probe = TcpListener::bind("127.0.0.1:0").expect("a free port");
            probe.local_addr().unwrap().port()
        };
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let http = crate::support::http::client();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let ready = http
                .get(format!("http://{addr}/status"))
                .send()
                .await
                .ok()
                .map(|r| r.status().is_success());
            if ready == Some(true) {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,1000",
                         "--no-proxy-server", "--no-first-run",
                         format!("--user-data-dir={}", profile.path().display())],
            },
        }}});
        let mut browser = Self {
            driver,
            addr,
            session: String::new(),
            http,
            _profile: profile,
        };
        let created = browser.call(reqwest::Method::POST, "/session", caps).await;
        browser.session = created["sessionId"]
            .as_str()
            .expect("a session id")
            .to_string();
        Some(browser)
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("http://{}{path}", self.addr);
        let mut request = self.http.request(method.clone(), &url);
        if method != reqwest::Method::GET {
            request = request.json(&body);
        }
        let response = request.send().await.expect("chromedriver answers");
        let status = response.status();
        let value: Value = response.json().await.expect("WebDriver JSON");
        assert!(status.is_success(), "{method} {path}: {status} {value}");
        value["value"].clone()
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    /// Loads `url` and waits for the page.
    pub async fn goto(&self, url: &str) {
        self.call(
            reqwest::Method::POST,
            &self.session_path("/url"),
            json!({ "url": url }),
        )
        .await;
    }

    /// The first element matching the CSS `selector`, waiting up to 10 s for it.
    pub async fn find(&self, selector: &str) -> Element {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let count = self
                .script(
                    "return document.querySelectorAll(arguments[0]).length;",
                    json!([selector]),
                )
                .await;
            if count.as_u64().unwrap_or(0) > 0 {
                break;
            }
            assert!(Instant::now() < deadline, "no element matches {selector:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let found = self
            .call(
                reqwest::Method::POST,
                &self.session_path("/element"),
                json!({ "using": "css selector", "value": selector }),
            )
            .await;
        let Some(id) = found[ELEMENT].as_str() else {
            panic!("{selector:?}: not an element reference: {found}");
        };
        Element(id.to_string())
    }

    pub async fn click(&self, e: &Element) {
        self.call(
            reqwest::Method::POST,
            &self.session_path(&format!("/element/{}/click", e.0)),
            json!({}),
        )
        .await;
    }

    /// Replaces the text of an input.
    pub async fn fill(&self, e: &Element, text: &str) {
        let path = self.session_path(&format!("/element/{}", e.0));
        self.call(reqwest::Method::POST, &format!("{path}/clear"), json!({}))
            .await;
        self.call(
            reqwest::Method::POST,
            &format!("{path}/value"),
            json!({ "text": text }),
        )
        .await;
    }

    /// The rendered text of an element.
    pub async fn text(&self, e: &Element) -> String {
        let v = self
            .call(
                reqwest::Method::GET,
                &self.session_path(&format!("/element/{}/text", e.0)),
                Value::Null,
            )
            .await;
        v.as_str().unwrap_or_default().to_string()
    }

    /// Runs `script` in the page with `args`; its return value.
    pub async fn script(&self, script: &str, args: Value) -> Value {
        self.call(
            reqwest::Method::POST,
            &self.session_path("/execute/sync"),
            json!({ "script": script, "args": args }),
        )
        .await
    }

    /// Polls `selector`'s text until `check` accepts it (10 s), returning the text.
    pub async fn wait_text(
        &self,
        selector: &str,
        what: &str,
        check: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = self
                .script(
                    "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
                    json!([selector]),
                )
                .await;
            let text = text.as_str().unwrap_or_default().to_string();
            if check(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: {selector:?} still reads {text:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves a PNG of the viewport as `target/ui-screenshots/<name>.png`; returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let v = self
            .call(
                reqwest::Method::GET,
                &self.session_path("/screenshot"),
                Value::Null,
            )
            .await;
        let png = base64_decode(v.as_str().expect("base64 PNG"));
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // End the session (Chromium quits) with a blocking request: drop may run outside
        // the runtime, or while it unwinds.
        if !self.session.is_empty()
            && let Ok(mut conn) = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2))
        {
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.session, self.addr
            );
            let _ = conn.write_all(request.as_bytes());
            let mut sink = Vec::new();
            let _ = conn.read_to_end(&mut sink);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Standard base64 (the screenshot encoding) without a dependency.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for v in text.bytes().filter_map(value) {
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}
