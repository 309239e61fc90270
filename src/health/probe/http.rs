//! The `http` and `https` probes: one request with Host/SNI, status and bounded body expectations.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use super::outcome::{BoundedMatch, ProbeFailure, ProbeOutcome, from_io, timed};
use crate::health::check::{HttpCheck, HttpMethod};
use crate::health::target::ProbeKey;
use crate::load::read;
use crate::load::{LoadRead, LoadReading, ReadError, Sample};

#[derive(Debug)]
pub(crate) struct HttpProber {
    /// The client, or why it could not be built (reported as each probe's failure).
    client: Result<reqwest::Client, String>,
    url: String,
    timeout: Duration,
    check: HttpCheck,
}

impl HttpProber {
    pub(crate) fn new(
        key: &ProbeKey,
        check: &HttpCheck,
        tls: bool,
        source: Option<IpAddr>,
    ) -> Self {
        let (url, server_name) = request_url(key.addr, check, tls);
        let client = match server_name {
            // A host name pins the name to this probe's address: a client of its own.
            Some(name) => build_client(key, check, Some(&name), source),
            None => shared_client(check.verify_tls, source),
        };
        Self {
            client,
            url,
            timeout: key.timeout,
            check: check.clone(),
        }
    }

    pub(crate) async fn probe(&self) -> ProbeOutcome {
        timed(self.timeout, self.exchange()).await
    }

    async fn exchange(&self) -> Result<Option<LoadReading>, ProbeFailure> {
        let client = self
            .client
            .as_ref()
            .map_err(|e| ProbeFailure::Other(e.clone()))?;
        let mut request = client.request(method(self.check.method), &self.url);
        if let (Some(host), Some(_)) = (&self.check.host, &self.check.sni) {
            request = request.header(reqwest::header::HOST, host.as_str());
        }
        for (name, value) in &self.check.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let mut response = request.send().await.map_err(|e| classify(&e))?;
        let status = response.status().as_u16();
        if !self.check.accepts(status) {
            return Err(ProbeFailure::Status(status));
        }
        let path = match &self.check.load {
            Some(LoadRead::Header(name)) => {
                let value = response.headers().get(name.as_str());
                let load = value
                    .map_or_else(
                        || Err(ReadError::MissingHeader(name.clone())),
                        |v| read::number(&String::from_utf8_lossy(v.as_bytes())),
                    )
                    .map(Sample::Value);
                return self.body_check(response).await.map(|()| Some(load));
            }
            Some(LoadRead::Json(path)) => path,
            Some(LoadRead::Agent) | None => return self.body_check(response).await.map(|()| None),
        };
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| classify(&e))? {
            let room = self.check.max_body.saturating_sub(body.len());
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() >= self.check.max_body {
                break;
            }
        }
        if let Some(needle) = &self.check.body_contains
            && !body
                .windows(needle.len().max(1))
                .any(|w| w == needle.as_bytes())
        {
            return Err(ProbeFailure::BodyMismatch);
        }
        Ok(Some(read::json_field(&body, path).map(Sample::Value)))
    }

    /// The `body_contains` expectation, reading at most `max_body` bytes.
    async fn body_check(&self, mut response: reqwest::Response) -> Result<(), ProbeFailure> {
        let Some(needle) = &self.check.body_contains else {
            return Ok(());
        };
        let mut matcher = BoundedMatch::new(needle.as_bytes(), self.check.max_body);
        loop {
            match response.chunk().await.map_err(|e| classify(&e))? {
                None => return Err(ProbeFailure::BodyMismatch),
                Some(chunk) => match matcher.push(&chunk) {
                    Some(true) => return Ok(()),
                    Some(false) => return Err(ProbeFailure::BodyMismatch),
                    None => {}
                },
            }
        }
    }
}

/// The URL to request and the host name it names (resolved to the probe address), if any.
/// The URL's host is the SNI name: `sni`, else `host`, else the probe IP (no SNI is sent).
fn request_url(addr: SocketAddr, check: &HttpCheck, tls: bool) -> (String, Option<String>) {
    let scheme = if tls { "https" } else { "http" };
    let name = check.sni.clone().or_else(|| check.host.clone());
    let authority = match (&name, addr) {
        (Some(name), _) => format!("{name}:{}", addr.port()),
        (None, addr) => addr.to_string(),
    };
    (format!("{scheme}://{authority}{}", check.path), name)
}

/// One client per TLS-verification setting and source address for every probe that
/// addresses its target by IP: building a client (TLS roots included) costs milliseconds and
/// ~100 KB, which at 10,000 targets stalls the warm start and wastes a gigabyte. The whole
/// probe is bounded by `timed`, so the client needs no timeout of its own. Clients are made
/// when probes are set up, never per probe.
fn shared_client(verify_tls: bool, source: Option<IpAddr>) -> Result<reqwest::Client, String> {
    type Clients = HashMap<(bool, Option<IpAddr>), Result<reqwest::Client, String>>;
    static CLIENTS: Mutex<Option<Clients>> = Mutex::new(None);
    let mut clients = CLIENTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let clients = clients.get_or_insert_with(HashMap::new);
    clients
        .entry((verify_tls, source))
        .or_insert_with(|| {
            install_crypto_provider();
            reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .pool_max_idle_per_host(0)
                .user_agent(concat!("meridian-health/", env!("CARGO_PKG_VERSION")))
                .tls_danger_accept_invalid_certs(!verify_tls)
                .local_address(source)
                .build()
                .map_err(|e| error_chain(&e))
        })
        .clone()
}

fn build_client(
    key: &ProbeKey,
    check: &HttpCheck,
    server_name: Option<&str>,
    source: Option<IpAddr>,
) -> Result<reqwest::Client, String> {
    install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .timeout(key.timeout)
        .connect_timeout(key.timeout)
        .user_agent(concat!("meridian-health/", env!("CARGO_PKG_VERSION")))
        .tls_danger_accept_invalid_certs(!check.verify_tls)
        .local_address(source);
    if let Some(name) = server_name {
        builder = builder.resolve(name, key.addr);
    }
    builder.build().map_err(|e| error_chain(&e))
}

/// Makes ring the process's rustls provider unless one is installed already.
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race to another installer is fine: some provider is then installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

fn method(m: HttpMethod) -> reqwest::Method {
    match m {
        HttpMethod::Get => reqwest::Method::GET,
        HttpMethod::Head => reqwest::Method::HEAD,
        HttpMethod::Post => reqwest::Method::POST,
        HttpMethod::Options => reqwest::Method::OPTIONS,
    }
}

/// Finds the most telling cause in a request error's source chain.
fn classify(err: &reqwest::Error) -> ProbeFailure {
    if err.is_timeout() {
        return ProbeFailure::Timeout;
    }
    let mut cause: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cause {
        cause = e.source();
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return ProbeFailure::Tls(tls.to_string());
        }
        if let Some(io) = e.downcast_ref::<io::Error>() {
            match from_io(io) {
                ProbeFailure::Other(_) => {}
                failure => return failure,
            }
        }
    }
    ProbeFailure::Other(error_chain(err))
}

/// `outer: cause: root cause`.
fn error_chain(err: &dyn StdError) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let part = e.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_names_the_sni_host() {
        let addr: SocketAddr = "127.0.0.1:8443".parse().unwrap();
        let mut check = HttpCheck::new("/health?full=1");
        assert_eq!(
            request_url(addr, &check, false),
            ("http://127.0.0.1:8443/health?full=1".into(), None)
        );
        check.host = Some("www.example.com".into());
        let (url, name) = request_url(addr, &check, true);
        assert_eq!(url, "https://www.example.com:8443/health?full=1");
        assert_eq!(name.as_deref(), Some("www.example.com"));
        check.sni = Some("tls.example.com".into());
        assert_eq!(
            request_url(addr, &check, true).1.as_deref(),
            Some("tls.example.com")
        );
        let v6: SocketAddr = "[::1]:80".parse().unwrap();
        assert_eq!(
            request_url(v6, &HttpCheck::new("/"), false).0,
            "http://[::1]:80/"
        );
    }
}
