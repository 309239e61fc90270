//! The load tests' world: the test zone, a server with load settings, backends that report
//! a load the test sets, and a few thousand ECS client networks asking.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::rr::RecordType;
use meridian::app::Running;
use meridian::config::server::Secret;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::{addrs, query, start_with, udp, with_edns};

pub const TOKEN: &str = "load-test-token-0123456789";
/// The member in datacenter `a` (first choice) and in `b` (second).
pub const A: &str = "192.0.2.10";
pub const B: &str = "192.0.2.20";
/// Client networks asked in the share tests, and the tolerance on a share: the binomial
/// standard deviation at 3000 networks is at most 0.9 %, so 4 % is more than four of them.
pub const NETWORKS: u32 = 3000;
pub const TOLERANCE: f64 = 0.04;

/// The zone: datacenters `a` and `b`, one member each, and `www` failing over from a to b.
/// `checks` and the member keys are spliced in by the probe tests.
pub fn zone(dc_a: &str, check: &str, member_a: &str) -> String {
    format!(
        r#"
origin = "load.test."
ns = ["ns1"]

[soa]
mname = "ns1"
rname = "hostmaster"
serial = 1
minimum = 30

[records.ns1]
A = "127.0.0.53"

[datacenters.a]
coordinates = [50.11, 8.68]
{dc_a}

[datacenters.b]
coordinates = [39.04, -77.49]

{check}

[pools.a]
members = [{{ address = "{A}", datacenter = "a"{member_a} }}]

[pools.b]
members = [{{ address = "{B}", datacenter = "b" }}]

[services.www]
policy = "failover"
pools = ["a", "b"]
ttl = 30
"#
    )
}

pub fn zone_dir(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("load.test.toml"), text).unwrap();
    dir
}

/// The server with the admin token, a quick control loop (hold `hold_ms`, release all at
/// once) and `tweak`.
pub async fn server(
    zones: &tempfile::TempDir,
    hold_ms: u64,
    tweak: impl FnOnce(&mut meridian::config::ServerConfig),
) -> Running {
    start_with(zones.path().to_str().unwrap(), |c| {
        c.admin_token = Some(Secret(TOKEN.into()));
        c.load_hold_ms = hold_ms;
        c.load_release_step = 1.0;
        tweak(c);
    })
    .await
}

/// For each of [`NETWORKS`] ECS /24s, whether it was answered with datacenter b.
pub async fn moved(server: &Running) -> Vec<bool> {
    let dns = server.udp_addrs[0];
    let mut out = Vec::with_capacity(NETWORKS as usize);
    for i in 0..NETWORKS {
        let net = std::net::Ipv4Addr::from(0x0A00_0000 + (i << 8));
        let q = with_edns(
            query("www.load.test.", RecordType::A),
            1232,
            Some(&format!("{net}/24")),
        );
        let answer = addrs(&udp(dns, &q).await);
        out.push(answer == [B.parse::<std::net::IpAddr>().unwrap()]);
    }
    out
}

/// Waits until `name` sheds half of its clients, checks that half of the networks moved
/// (± [`TOLERANCE`]) and returns which; `what` names the caller in the log line.
pub async fn moved_half(server: &Running, name: &str, what: &str) -> Vec<bool> {
    await_share(server, name, 0.5).await;
    let first = moved(server).await;
    let got = share(&first);
    eprintln!("{what}: moved {got:.4} of {NETWORKS} networks at a share of 0.5");
    assert!(
        (got - 0.5).abs() < TOLERANCE,
        "moved {got}, expected 0.5 ± {TOLERANCE}"
    );
    first
}

pub fn share(moved: &[bool]) -> f64 {
    moved.iter().filter(|&&m| m).count() as f64 / moved.len() as f64
}

/// Waits until `GET /v1/load` shows `name` shedding `share` (± 0.001).
pub async fn await_share(server: &Running, name: &str, share: f64) {
    crate::support::eventually(
        &format!("{name} sheds {share}"),
        Duration::from_secs(15),
        || async {
            let view = crate::support::http::get_json(server, "/v1/load").await;
            let got = view["entries"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["name"] == name)
                .and_then(|e| e["share"].as_f64())
                .unwrap_or(0.0);
            (got - share).abs() < 1e-3
        },
    )
    .await;
}

/// What a backend reports, set by the test.
#[derive(Clone, Default)]
pub struct Report(pub Arc<Mutex<String>>);

impl Report {
    pub fn set(&self, text: &str) {
        text.clone_into(&mut self.0.lock().unwrap());
    }
}

/// An HTTP backend on `ip` answering 200 with the header `x-load: <report>` and the body
/// `{"stats": [{"load": <report>}]}` (the report spliced in as it is).
pub async fn http_backend(ip: &str, report: Report) -> SocketAddr {
    let listener = TcpListener::bind((ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let text = report.0.lock().unwrap().clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = conn.read(&mut buf).await;
                let body = format!(r#"{{"stats": [{{"load": {text}}}]}}"#);
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nx-load: {text}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(reply.as_bytes()).await;
            });
        }
    });
    addr
}

/// A TCP agent on `ip` replying with the report and a line end, like HAProxy's agent-check.
pub async fn agent_backend(ip: &str, report: Report) -> SocketAddr {
    let listener = TcpListener::bind((ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let text = report.0.lock().unwrap().clone();
            tokio::spawn(async move {
                let _ = conn.write_all(format!("{text}\r\n").as_bytes()).await;
            });
        }
    });
    addr
}
