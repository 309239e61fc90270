//! One Meridian process of a test cluster, probing from its own source address, and the zone every instance serves.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;

use super::etcd::free_port;
use crate::support::http::client;
use crate::support::{addrs, query};

pub const TOKEN: &str = "cluster-test-token-0123456789";
/// No admin call may hang a test: an instance can be stopped or stuck.
const HTTP_TIMEOUT: Duration = Duration::from_secs(3);

/// The zone every instance serves: `www` fails over from pool `a` (192.0.2.10, probed at
/// backend `a`) to pool `b` (192.0.2.20, probed at backend `b`).
pub fn zone(a: SocketAddr, b: SocketAddr) -> String {
    format!(
        r#"origin = "cluster.test."
ns = ["ns1"]
[soa]
mname = "ns1"
rname = "hostmaster.cluster.test."
serial = 1
[records.ns1]
A = "192.0.2.53"
[datacenters.dc-a]
coordinates = [50.1, 8.7]
country = "DE"
[datacenters.dc-b]
coordinates = [39.0, -77.5]
country = "US"
[checks.web]
type = "http"
path = "/"
interval = "200ms"
timeout = "150ms"
jitter = "0s"
rise = 2
fall = 2
[pools.a]
members = [{{ address = "192.0.2.10", datacenter = "dc-a", check = "web", probe = "{a}" }}]
[pools.b]
members = [{{ address = "192.0.2.20", datacenter = "dc-b", check = "web", probe = "{b}" }}]
[services.www]
policy = "failover"
ttl = 5
pools = ["a", "b"]
"#
    )
}

/// One Meridian process in the cluster; killed when dropped.
pub struct Instance {
    pub name: String,
    pub dns: SocketAddr,
    pub admin: SocketAddr,
    config: PathBuf,
    child: Option<Child>,
    log: PathBuf,
}

impl Instance {
    /// Starts `name` probing from `source`, with `zones` as its zones directory.
    pub fn start(dir: &Path, name: &str, source: &str, zones: &Path, etcd: &[String]) -> Instance {
        let dns = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let admin = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let endpoints = etcd
            .iter()
            .map(|e| format!("\"{e}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let config = dir.join(format!("{name}.toml"));
        let text = format!(
            r#"listen = ["{dns}"]
admin_listen = "{admin}"
admin_token = "{TOKEN}"
zones_dir = "{zones}"
geoip = ""
udp_sockets_per_address = 1
probe_source_v4 = "{source}"
log_level = "info"
# The load test: release a shed share at once, soon after the load falls.
load_hold_ms = 300
load_release_step = 1.0
[cluster]
endpoints = [{endpoints}]
name = "test"
instance = "{name}"
region = "region-{name}"
lease_ttl_secs = 2
stale_after_secs = 3
min_voters = 2
"#,
            zones = zones.display()
        );
        std::fs::write(&config, text).unwrap();
        let mut instance = Instance {
            name: name.into(),
            dns,
            admin,
            config,
            child: None,
            log: dir.join(format!("{name}.log")),
        };
        instance.spawn();
        instance
    }

    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_meridian"))
            .arg("serve")
            .arg("--config")
            .arg(&self.config)
            .env_remove("MERIDIAN_ADMIN_TOKEN")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("meridian starts");
        self.child = Some(child);
    }

    /// SIGKILL: no goodbye, the lease must expire.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait: a clean stop revokes the lease.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: signalling our own child by its PID.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
    }

    /// What the process wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin)
    }

    /// GET an admin endpoint's JSON; `None` when the instance does not answer with JSON.
    pub async fn get(&self, path: &str) -> Option<serde_json::Value> {
        let r = client().get(self.url(path)).timeout(HTTP_TIMEOUT);
        r.send().await.ok()?.json().await.ok()
    }

    /// The Prometheus text, empty when the instance does not answer.
    pub async fn metrics(&self) -> String {
        let r = client().get(self.url("/metrics")).timeout(HTTP_TIMEOUT);
        match r.send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// An authorized POST of `body`: (status, response text).
    pub async fn post(&self, path: &str, body: serde_json::Value) -> (u16, String) {
        let r = client()
            .post(self.url(path))
            .timeout(HTTP_TIMEOUT)
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .expect("admin answers");
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    }

    /// An authorized DELETE: the status.
    pub async fn delete(&self, path: &str) -> u16 {
        let r = client()
            .delete(self.url(path))
            .timeout(HTTP_TIMEOUT)
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("admin answers");
        r.status().as_u16()
    }

    /// The A records answered for `www.cluster.test.` over UDP, or None without an answer.
    pub async fn answer(&self) -> Option<Vec<IpAddr>> {
        let bytes = query("www.cluster.test.", RecordType::A).to_vec().ok()?;
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.ok()?;
        socket.send_to(&bytes, self.dns).await.ok()?;
        let mut buf = vec![0u8; 4096];
        let wait = tokio::time::timeout(Duration::from_millis(500), socket.recv_from(&mut buf));
        let (len, _) = wait.await.ok()?.ok()?;
        let m = Message::from_vec(&buf[..len]).ok()?;
        Some(addrs(&m))
    }

    pub async fn answers(&self, ip: &str) -> bool {
        self.answer().await == Some(vec![ip.parse().unwrap()])
    }

    pub async fn ready(&self) -> bool {
        let r = client().get(self.url("/readyz")).timeout(HTTP_TIMEOUT);
        matches!(r.send().await, Ok(r) if r.status().is_success())
    }

    /// The live members this instance lists in `/v1/cluster`.
    pub async fn live_members(&self) -> Vec<String> {
        let Some(v) = self.get("/v1/cluster").await else {
            return Vec::new();
        };
        let members = v["members"].as_array().cloned().unwrap_or_default();
        members
            .iter()
            .filter(|m| m["alive"] == true)
            .filter_map(|m| m["instance"].as_str().map(str::to_string))
            .collect()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}
