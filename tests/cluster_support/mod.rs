//! Cluster tests' world: real etcd members and real Meridian processes on loopback, and an HTTP backend that refuses chosen probe sources.
#![allow(dead_code)]

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub const TOKEN: &str = "cluster-test-token-0123456789";

/// Whether the cluster tests can run here; under `CI=true` a missing piece fails the test.
pub fn available() -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let missing = if !meridian::cluster::AVAILABLE {
        Some("this build lacks the `cluster` feature (cargo test --features cluster)")
    } else if which("etcd").is_none() || which("etcdctl").is_none() {
        Some("etcd and etcdctl are not installed (Debian: etcd-server, etcd-client)")
    } else {
        None
    };
    match missing {
        Some(why) if ci => panic!("cluster tests cannot run under CI=true: {why}"),
        Some(why) => {
            eprintln!("SKIPPED: {why}");
            false
        }
        None => true,
    }
}

pub fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(tool))
            .find(|p| p.is_file())
    })
}

/// A free TCP port on 127.0.0.1 (released at once; good enough on loopback).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Waits until `check` holds, polling every 50 ms; panics with `what` after `limit`.
pub async fn eventually<F, Fut>(what: &str, limit: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "timed out after {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One etcd member process.
pub struct EtcdMember {
    name: String,
    dir: PathBuf,
    pub client: u16,
    peer: u16,
    initial: String,
    child: Option<Child>,
}

/// An etcd cluster of one or more members, each with its data in `dir`.
pub struct Etcd {
    pub members: Vec<EtcdMember>,
}

impl Etcd {
    pub async fn start(dir: &Path, size: usize) -> Etcd {
        let ports: Vec<(u16, u16)> = (0..size).map(|_| (free_port(), free_port())).collect();
        let initial = ports
            .iter()
            .enumerate()
            .map(|(i, (_, p))| format!("e{i}=http://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut members: Vec<EtcdMember> = ports
            .iter()
            .enumerate()
            .map(|(i, (c, p))| EtcdMember {
                name: format!("e{i}"),
                dir: dir.join(format!("e{i}")),
                client: *c,
                peer: *p,
                initial: initial.clone(),
                child: None,
            })
            .collect();
        for m in &mut members {
            m.spawn();
        }
        let etcd = Etcd { members };
        etcd.wait_healthy().await;
        etcd
    }

    pub fn endpoints(&self) -> Vec<String> {
        self.members
            .iter()
            .map(|m| format!("http://127.0.0.1:{}", m.client))
            .collect()
    }

    pub async fn wait_healthy(&self) {
        let eps = self.endpoints().join(",");
        eventually("etcd answers", Duration::from_secs(20), || {
            let eps = eps.clone();
            async move { etcdctl(&eps, &["put", "/health-probe", "1"]).is_ok() }
        })
        .await;
    }

    pub fn kill(&mut self, i: usize) {
        self.members[i].kill();
    }

    pub fn restart(&mut self, i: usize) {
        self.members[i].spawn();
    }

    /// `etcdctl put` against the live members.
    pub fn put(&self, key: &str, value: &str) -> Result<String, String> {
        etcdctl(&self.endpoints().join(","), &["put", key, value])
    }

    pub fn get_prefix(&self, prefix: &str) -> Result<String, String> {
        etcdctl(&self.endpoints().join(","), &["get", "--prefix", prefix])
    }
}

impl EtcdMember {
    fn spawn(&mut self) {
        let url = |p: u16| format!("http://127.0.0.1:{p}");
        let child = Command::new("etcd")
            .args(["--name", &self.name])
            .arg("--data-dir")
            .arg(&self.dir)
            .args(["--listen-client-urls", &url(self.client)])
            .args(["--advertise-client-urls", &url(self.client)])
            .args(["--listen-peer-urls", &url(self.peer)])
            .args(["--initial-advertise-peer-urls", &url(self.peer)])
            .args(["--initial-cluster", &self.initial])
            .args(["--initial-cluster-state", "new"])
            .args(["--initial-cluster-token", "meridian-test"])
            .args(["--heartbeat-interval", "50", "--election-timeout", "500"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("etcd starts");
        self.child = Some(child);
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for EtcdMember {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn etcdctl(endpoints: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(["--endpoints", endpoints, "--command-timeout", "2s"])
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// An HTTP health endpoint on a loopback address that refuses probes from chosen sources.
#[derive(Clone)]
pub struct Backend {
    pub addr: SocketAddr,
    refused: Arc<Mutex<HashSet<IpAddr>>>,
}

impl Backend {
    pub async fn start(ip: &str) -> Backend {
        let listener = TcpListener::bind((ip.parse::<IpAddr>().unwrap(), 0))
            .await
            .expect("backend binds");
        let addr = listener.local_addr().unwrap();
        let refused: Arc<Mutex<HashSet<IpAddr>>> = Arc::default();
        let r = refused.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, peer)) = listener.accept().await else {
                    return;
                };
                if r.lock().unwrap().contains(&peer.ip()) {
                    drop(stream); // closed without a reply: the probe fails
                    continue;
                }
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    let _ = stream.read(&mut buf).await;
                    let reply =
                        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
                    let _ = stream.write_all(reply.as_bytes()).await;
                });
            }
        });
        Backend { addr, refused }
    }

    pub fn refuse(&self, source: &str) {
        self.refused.lock().unwrap().insert(source.parse().unwrap());
    }

    pub fn admit(&self, source: &str) {
        self.refused
            .lock()
            .unwrap()
            .remove(&source.parse::<IpAddr>().unwrap());
    }
}

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

/// One Meridian process in the cluster, probing from its own source address.
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

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub async fn get(&self, path: &str) -> Option<serde_json::Value> {
        let url = format!("http://{}{path}", self.admin);
        let r = http().get(url).send().await.ok()?;
        r.json().await.ok()
    }

    pub async fn metrics(&self) -> String {
        let url = format!("http://{}/metrics", self.admin);
        match http().get(url).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> (u16, String) {
        let url = format!("http://{}{path}", self.admin);
        let r = http()
            .post(url)
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .expect("admin answers");
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    }

    /// The A records answered for `www.cluster.test.` over UDP, or None without an answer.
    pub async fn answer(&self) -> Option<Vec<IpAddr>> {
        use hickory_proto::op::Message;
        use hickory_proto::rr::RecordType;
        let q = crate::support::query("www.cluster.test.", RecordType::A);
        let bytes = q.to_vec().ok()?;
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.ok()?;
        socket.send_to(&bytes, self.dns).await.ok()?;
        let mut buf = vec![0u8; 4096];
        let wait = tokio::time::timeout(Duration::from_millis(500), socket.recv_from(&mut buf));
        let (len, _) = wait.await.ok()?.ok()?;
        let m = Message::from_vec(&buf[..len]).ok()?;
        Some(crate::support::addrs(&m))
    }

    pub async fn answers(&self, ip: &str) -> bool {
        self.answer().await == Some(vec![ip.parse().unwrap()])
    }

    pub async fn ready(&self) -> bool {
        let url = format!("http://{}/readyz", self.admin);
        matches!(http().get(url).send().await, Ok(r) if r.status().is_success())
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

pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap()
}
