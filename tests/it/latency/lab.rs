//! The latency tests' world: a delaying DNS responder on 127.0.0.x, the test zone, a server with latency settings.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_proto::op::Message;
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::{RData, RecordType};
use meridian::app::Running;
use meridian::config::server::Secret;
use tokio::net::UdpSocket;

use crate::support::http::get_json;
use crate::support::{query, start_with, udp, with_edns};

pub const TOKEN: &str = "latency-test-token-0123456789";
/// Frankfurt members and Ashburn members of the test zone.
pub const EU: &str = "192.0.2.10";
pub const US: &str = "192.0.2.20";

/// The test zone: datacenters eu (Frankfurt) and us (Ashburn), one member each, and the
/// services `fast` (latency), `near` (nearest) and `geo` (geo: DE → eu) over them.
pub const ZONE: &str = r#"
origin = "lat.test."
ns = ["ns1"]

[soa]
mname = "ns1"
rname = "hostmaster"
serial = 1
minimum = 30

[records.ns1]
A = "127.0.0.53"

[datacenters.eu]
coordinates = [50.11, 8.68]
country = "DE"

[datacenters.us]
coordinates = [39.04, -77.49]
country = "US"

[pools.eu]
members = [{ address = "192.0.2.10", datacenter = "eu" }]

[pools.us]
members = [{ address = "192.0.2.20", datacenter = "us" }]

[services.fast]
policy = "latency"
pools = ["eu", "us"]
ttl = 20

[services.fast.latency]
tolerance_ms = 5
tolerance_percent = 10

[services.near]
policy = "nearest"
pools = ["eu", "us"]

[services.geo]
policy = "geo"

[services.geo.geo]
default = ["us", "eu"]
country = { DE = ["eu", "us"] }
"#;

/// A DNS responder that answers every query after a delay chosen by the probe's source
/// address (so two agents bound to different loopback addresses see different RTTs from
/// one responder, as two datacenters would), and records who asked when.
pub struct Responder {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<(IpAddr, Instant)>>>,
}

impl Responder {
    /// Listens on `ip`:0; `delays` maps a source address to its delay, others get `default`.
    pub async fn start(ip: &str, delays: &[(&str, u64)], default: Option<u64>) -> Self {
        let socket = Arc::new(UdpSocket::bind((ip, 0)).await.unwrap());
        let addr = socket.local_addr().unwrap();
        let delays: HashMap<IpAddr, u64> = delays
            .iter()
            .map(|(a, ms)| (a.parse().unwrap(), *ms))
            .collect();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            while let Ok((n, from)) = socket.recv_from(&mut buf).await {
                log.lock().unwrap().push((from.ip(), Instant::now()));
                let Some(ms) = delays.get(&from.ip()).copied().or(default) else {
                    continue; // silent: the probe times out
                };
                let mut reply = buf[..n].to_vec();
                if reply.len() >= 4 {
                    reply[2] |= 0x80; // QR
                    reply[3] = (reply[3] & 0xf0) | 5; // REFUSED
                }
                let socket = socket.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    let _ = socket.send_to(&reply, from).await;
                });
            }
        });
        Self { addr, seen }
    }

    /// Probes received from `source`.
    pub fn count_from(&self, source: &str) -> usize {
        let ip: IpAddr = source.parse().unwrap();
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(s, _)| *s == ip)
            .count()
    }

    pub fn total(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

/// A zones directory holding [`ZONE`].
pub fn zone_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lat.test.toml"), ZONE).unwrap();
    dir
}

/// The server on loopback with the test GeoIP database, the admin token and `tweak`.
pub async fn server(
    zones: &tempfile::TempDir,
    tweak: impl FnOnce(&mut meridian::config::ServerConfig),
) -> Running {
    let zones = zones.path().to_str().unwrap().to_string();
    start_with(&zones, |c| {
        c.geoip = "geoip/test-city.mmdb".into();
        c.admin_token = Some(Secret(TOKEN.into()));
        c.latency_top_networks = 100;
        tweak(c);
    })
    .await
}

/// The answer addresses and ECS scope of `name` A for a client subnet.
pub async fn ask(server: &Running, name: &str, ecs: &str) -> (Vec<String>, Option<u8>) {
    let q = with_edns(query(name, RecordType::A), 1232, Some(ecs));
    let reply: Message = udp(server.udp_addrs[0], &q).await;
    let addrs = reply
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect();
    let scope = reply
        .edns
        .as_ref()
        .and_then(|e| match e.option(EdnsCode::Subnet)? {
            EdnsOption::Subnet(s) => Some(s.scope_prefix()),
            _ => None,
        });
    (addrs, scope)
}

/// The explain steps of `name` for ECS `ecs`, through the admin API.
pub async fn explain_steps(server: &Running, name: &str, ecs: &str) -> Vec<String> {
    let path = format!("/v1/explain?name={name}&type=A&client=127.0.0.1&ecs={ecs}");
    let body = get_json(server, &path).await;
    body["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}
