//! The delegation lab: BIND 9 (local root, example.test), Unbound with ECS and Meridian in-process, all on loopback port 53.
//
// Addresses: the root is `[::1]:53` and example.test `127.0.0.1:53` (one `named`, a view per
// address: BIND listens only on addresses configured on an interface, and lo has just these
// two without CAP_NET_ADMIN); Meridian `127.53.0.12:53`; Unbound `127.53.0.13:53`; the
// health backends `127.53.0.21..23`. Port 53 is global, so labs run one at a time.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::RecordType;
use meridian::app::Running;
use tokio::sync::MutexGuard;

use super::chain;
use super::daemon::{Daemon, TOOLS, render, unbound_stats, wait_until};
use crate::support::http::scrape;
use crate::support::{backend, need_tool, query, skip, start_with, udp_raw, with_edns};

pub const ROOT: &str = "::1";
pub const PARENT: &str = "127.0.0.1";
pub const MERIDIAN: &str = "127.53.0.12";
pub const RESOLVER: &str = "127.53.0.13";
/// The zone example.test delegates to Meridian.
pub const ORIGIN: &str = "gslb.example.test";
/// The geo service's TTL and the zone's negative TTL (SOA minimum), in seconds: long enough
/// that an entry is surely still cached (TTL - 1 s) after Meridian noticed a backend change.
pub const TTL: u64 = 3;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/delegation");
const STARTUP: Duration = Duration::from_secs(10);

/// Port 53 on these addresses is shared by every lab of this test binary.
static PORT_53: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A running lab; dropping it stops Unbound and BIND (by PID) and Meridian's tasks.
pub struct Lab {
    pub server: Running,
    pub eu: Arc<AtomicBool>,
    unbound: Daemon,
    named: Daemon,
    dir: tempfile::TempDir,
    _port_53: MutexGuard<'static, ()>,
}

/// `None` (after a [`skip`], which fails under `CI=true`) when BIND 9 or Unbound is not
/// installed, or this process may not bind port 53 or has no IPv6 loopback. Panics when
/// another process holds one of the lab's port-53 addresses.
pub async fn lab() -> Option<Lab> {
    lab_of(false).await
}

/// The same lab with the chain of trust signed end to end (delegation/chain.rs): Unbound
/// validates from the local root's key, Meridian signs its zones.
pub async fn signed_lab() -> Option<Lab> {
    for (tool, package) in chain::TOOLS {
        need_tool(tool, package)?;
    }
    lab_of(true).await
}

async fn lab_of(signed: bool) -> Option<Lab> {
    for (tool, package) in TOOLS {
        need_tool(tool, package)?;
    }
    let guard = PORT_53.lock().await;
    if let Err(why) = port_53_free() {
        skip(&why);
        return None;
    }
    Some(Lab::start(guard, signed).await)
}

/// Bind (and release) UDP and TCP port 53 on every lab address, to explain failures early.
fn port_53_free() -> Result<(), String> {
    for ip in [ROOT, PARENT, MERIDIAN, RESOLVER] {
        let addr = SocketAddr::new(ip.parse().unwrap(), 53);
        let udp = std::net::UdpSocket::bind(addr).map(drop);
        let tcp = std::net::TcpListener::bind(addr).map(drop);
        match udp.and(tcp) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                return Err(format!("binding {addr} needs root or CAP_NET_BIND_SERVICE"));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable => {
                return Err(format!("{addr} is not available (no IPv6 loopback?)"));
            }
            Err(e) => panic!("the delegation lab needs {addr}, which another process holds: {e}"),
        }
    }
    Ok(())
}

impl Lab {
    async fn start(port_53: MutexGuard<'static, ()>, signed: bool) -> Lab {
        let started = std::time::Instant::now();
        let dir = tempfile::tempdir().expect("tempdir");
        let (eu_addr, eu) = backend("127.53.0.21").await;
        let (us_addr, _) = backend("127.53.0.22").await;
        let (ap_addr, _) = backend("127.53.0.23").await;
        let path = dir.path().to_str().expect("utf-8 temp path").to_string();
        let (eu_s, us_s, ap_s) = (
            eu_addr.to_string(),
            us_addr.to_string(),
            ap_addr.to_string(),
        );
        let ttl = TTL.to_string();
        let (modules, anchor) = chain::unbound_settings(signed.then_some(dir.path()));
        let values = [
            ("MODULES", modules.as_str()),
            ("TRUST_ANCHOR", anchor.as_str()),
            ("DIR", path.as_str()),
            ("ROOT", ROOT),
            ("PARENT", PARENT),
            ("MERIDIAN", MERIDIAN),
            ("RESOLVER", RESOLVER),
            ("ORIGIN", ORIGIN),
            ("EU_PROBE", eu_s.as_str()),
            ("US_PROBE", us_s.as_str()),
            ("AP_PROBE", ap_s.as_str()),
            ("TTL", ttl.as_str()),
        ];
        let zones = dir.path().join("zones");
        std::fs::create_dir(&zones).expect("zones dir");
        for (template, out) in [
            ("named.conf.in", dir.path().join("named.conf")),
            ("root.zone.in", dir.path().join("root.zone")),
            ("example.test.zone.in", dir.path().join("example.test.zone")),
            ("root.hints.in", dir.path().join("root.hints")),
            ("unbound.conf.in", dir.path().join("unbound.conf")),
            ("gslb.toml.in", zones.join("gslb.example.test.toml")),
        ] {
            let text = std::fs::read_to_string(PathBuf::from(FIXTURES).join(template))
                .expect("fixture template");
            std::fs::write(out, render(&text, &values)).expect("writes config");
        }
        if signed {
            chain::sign(dir.path(), &zones);
        }
        let zones_dir = zones.to_str().expect("utf-8").to_string();
        let server = start_with(&zones_dir, |c| {
            c.listen = vec![SocketAddr::new(MERIDIAN.parse().unwrap(), 53)];
            c.geoip = "geoip/test-city.mmdb".into();
        })
        .await;
        tokio::time::timeout(STARTUP, server.health.wait_ready())
            .await
            .expect("warm start finishes")
            .expect("health ready");
        let conf = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
        let mut named = Daemon::spawn(
            "named",
            "named",
            &["-g", "-n", "1", "-c", &conf("named.conf")],
            dir.path(),
        );
        let soa = |server: &'static str, zone: &'static str| async move {
            let addr = SocketAddr::new(server.parse().unwrap(), 53);
            let q = query(zone, RecordType::SOA).to_vec().unwrap();
            udp_once(addr, &q).await.is_some()
        };
        wait_until(&mut named, STARTUP, || async {
            soa(ROOT, ".").await && soa(PARENT, "example.test.").await
        })
        .await;
        let mut unbound = Daemon::spawn(
            "unbound",
            "unbound",
            &["-d", "-c", &conf("unbound.conf")],
            dir.path(),
        );
        let resolver = SocketAddr::new(RESOLVER.parse().unwrap(), 53);
        wait_until(&mut unbound, STARTUP, || async {
            let q = query("localhost.", RecordType::A).to_vec().unwrap();
            udp_once(resolver, &q).await.is_some()
        })
        .await;
        println!(
            "lab up in {:?}: named pid {}, unbound pid {}",
            started.elapsed(),
            named.pid(),
            unbound.pid()
        );
        Lab {
            server,
            eu,
            unbound,
            named,
            dir,
            _port_53: port_53,
        }
    }

    /// Ask Unbound, as a client would, with an optional ECS option.
    pub async fn resolve(&self, name: &str, qtype: RecordType, ecs: Option<&str>) -> Message {
        let addr = SocketAddr::new(RESOLVER.parse().unwrap(), 53);
        ask(addr, name, qtype, ecs).await
    }

    /// Ask Unbound over TCP.
    pub async fn resolve_tcp(&self, name: &str, qtype: RecordType) -> Message {
        let addr = SocketAddr::new(RESOLVER.parse().unwrap(), 53);
        crate::support::tcp(addr, &with_edns(query(name, qtype), 1232, None)).await
    }

    /// Ask Unbound with DO=1 (and CD=1 when `cd`), as a validating stub would.
    pub async fn resolve_signed(
        &self,
        name: &str,
        qtype: RecordType,
        ecs: Option<&str>,
        cd: bool,
    ) -> Message {
        let addr = SocketAddr::new(RESOLVER.parse().unwrap(), 53);
        let mut q = with_edns(query(name, qtype), 1232, ecs);
        if let Some(edns) = q.edns.as_mut() {
            edns.set_dnssec_ok(true);
        }
        q.metadata.checking_disabled = cd;
        exchange(addr, &q).await
    }

    /// The lab's directory (the trust anchor files are there).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Ask Meridian directly.
    pub async fn direct(&self, name: &str, qtype: RecordType, ecs: Option<&str>) -> Message {
        ask(self.server.udp_addrs[0], name, qtype, ecs).await
    }

    /// Queries Meridian answered in its zone with this type and rcode (from `/metrics`).
    pub async fn meridian_queries(&self, qtype: &str, rcode: &str) -> u64 {
        self.meridian_queries_over(qtype, rcode, "").await
    }

    /// The same, counting only one transport (`udp`, `tcp`; empty for both).
    pub async fn meridian_queries_over(&self, qtype: &str, rcode: &str, transport: &str) -> u64 {
        let text = scrape(&self.server).await;
        let labels = [
            format!("zone=\"{ORIGIN}.\""),
            format!("qtype=\"{qtype}\""),
            format!("rcode=\"{rcode}\""),
            format!("transport=\"{transport}"),
        ];
        text.lines()
            .filter(|l| l.starts_with("meridian_queries_total{"))
            .filter(|l| labels.iter().all(|label| l.contains(label.as_str())))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .map(|v| v as u64)
            .sum()
    }

    /// One of Unbound's counters (`unbound-control stats_noreset`), 0 when absent.
    pub fn unbound_stat(&self, key: &str) -> u64 {
        let stats = unbound_stats(&self.dir.path().join("unbound.conf"));
        stats.iter().find(|(k, _)| k == key).map_or(0, |(_, v)| *v)
    }

    /// Named/Unbound output, for failure messages.
    pub fn logs(&self) -> String {
        format!(
            "--- named ---\n{}\n--- unbound ---\n{}",
            self.named.log(),
            self.unbound.log()
        )
    }

    pub fn set_up(flag: &AtomicBool, up: bool) {
        flag.store(up, Ordering::SeqCst);
    }

    pub async fn shutdown(self) {
        let Lab { server, .. } = self;
        server.shutdown().await;
    }
}

async fn ask(addr: SocketAddr, name: &str, qtype: RecordType, ecs: Option<&str>) -> Message {
    exchange(addr, &with_edns(query(name, qtype), 1232, ecs)).await
}

async fn exchange(addr: SocketAddr, q: &Message) -> Message {
    let name = q
        .queries
        .first()
        .map(|q| q.name().to_string())
        .unwrap_or_default();
    let qtype = q.queries.first().map_or(RecordType::A, Query::query_type);
    let reply = udp_raw(addr, &q.to_vec().unwrap())
        .await
        .unwrap_or_else(|| panic!("no reply from {addr} for {name} {qtype}"));
    Message::from_vec(&reply).expect("reply parses")
}

/// One UDP exchange with a short timeout (readiness polls).
async fn udp_once(addr: SocketAddr, packet: &[u8]) -> Option<Vec<u8>> {
    let bind: SocketAddr = if addr.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    }
    .parse()
    .ok()?;
    let socket = tokio::net::UdpSocket::bind(bind).await.ok()?;
    socket.send_to(packet, addr).await.ok()?;
    let mut buf = vec![0u8; 4096];
    let recv = socket.recv_from(&mut buf);
    match tokio::time::timeout(Duration::from_millis(200), recv).await {
        Ok(Ok((len, _))) => Message::from_vec(&buf[..len])
            .ok()
            .filter(|m| m.metadata.response_code != ResponseCode::ServFail)
            .map(|_| buf[..len].to_vec()),
        _ => None,
    }
}
