//! What every fault test needs: captured logs, a server over a temp zones dir, DNS and admin queries.

use std::io;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use meridian::app::Running;
use meridian::config::ServerConfig;
use serde_json::Value;

use crate::support::http::get_json;
use crate::support::{query, start_with, udp, with_edns};

/// Every log line of this test binary (tests share it: match on names unique to a test).
static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        LOGS.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Route the server's tracing output into `LOGS` (once per binary).
pub fn capture_logs() {
    let _ = tracing_subscriber::fmt()
        .with_writer(|| Capture)
        .with_ansi(false)
        .with_env_filter("info")
        .try_init();
}

pub fn logs() -> String {
    String::from_utf8_lossy(
        &LOGS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
    .into_owned()
}

/// The first log line containing every one of `needles`, waiting up to `limit`.
pub async fn log_line(needles: &[&str], limit: Duration) -> String {
    let found = || {
        logs()
            .lines()
            .find(|l| needles.iter().all(|n| l.contains(n)))
            .map(str::to_string)
    };
    let start = Instant::now();
    loop {
        if let Some(line) = found() {
            return line;
        }
        assert!(
            start.elapsed() < limit,
            "no log line with {needles:?} within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A server over a temp zones dir holding `zones` (file name, text); no GeoIP unless tweaked.
pub struct Served {
    pub server: Running,
    pub dir: tempfile::TempDir,
}

impl Served {
    pub fn zones_dir(&self) -> PathBuf {
        self.dir.path().join("zones")
    }

    pub async fn ask(&self, name: &str, qtype: RecordType, ecs: Option<&str>) -> Message {
        let q = with_edns(query(name, qtype), 1232, ecs);
        udp(self.server.udp_addrs[0], &q).await
    }

    /// GET an admin endpoint as JSON.
    pub async fn admin(&self, path: &str) -> Value {
        get_json(&self.server, path).await
    }

    /// The admin API's view of one target.
    pub async fn target(&self, key: &str) -> Value {
        let health = self.admin("/v1/health").await;
        let targets = health["targets"].as_array().cloned().unwrap_or_default();
        targets
            .into_iter()
            .find(|t| t["target"] == key)
            .unwrap_or_else(|| panic!("no target {key} in {health}"))
    }
}

pub async fn serve(zones: &[(&str, String)], tweak: impl FnOnce(&mut ServerConfig)) -> Served {
    capture_logs();
    let dir = tempfile::tempdir().unwrap();
    let zones_dir = dir.path().join("zones");
    std::fs::create_dir(&zones_dir).unwrap();
    for (name, text) in zones {
        std::fs::write(zones_dir.join(name), text).unwrap();
    }
    let server = start_with(zones_dir.to_str().unwrap(), |c| {
        c.geoip = PathBuf::new();
        tweak(c);
    })
    .await;
    Served { server, dir }
}

/// The start every fault-test zone shares: `origin`, its name server `ns1` at 127.0.0.53, the
/// SOA and one datacenter `dc`.
pub fn zone_head(origin: &str) -> String {
    format!(
        r#"origin = "{origin}"
ns = ["ns1"]
[soa]
mname = "ns1"
rname = "hostmaster"
serial = 1
[records.ns1]
A = "127.0.0.53"
[datacenters.dc]
coordinates = [50.1, 8.7]
"#
    )
}
