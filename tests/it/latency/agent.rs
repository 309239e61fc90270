//! The agent's probes against real loopback responders, its global rate cap, and the `meridian agent` binary.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use meridian::agent::{self, AgentConfig, Limiter, Method, ProbeError, Prober};
use meridian::latency::{ProbeAddr, Representatives};
use tokio::net::TcpListener;

use super::lab::*;
use crate::support::http::{admin, url};
use crate::support::{eventually, netns, skip};

fn prober(timeout_ms: u64) -> Prober {
    Prober {
        timeout: Duration::from_millis(timeout_ms),
        bind: None,
        tcp_port: 443,
        dns_port: 53,
    }
}

fn at(ip: &str, port: u16) -> ProbeAddr {
    ProbeAddr {
        ip: ip.parse().unwrap(),
        port: Some(port),
    }
}

/// A port on `ip` with nothing listening (bound once, then released).
async fn closed_tcp_port(ip: &str) -> u16 {
    let l = TcpListener::bind((ip, 0)).await.unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test]
async fn tcp_connect_and_refused_connections_both_give_an_rtt() {
    let listener = TcpListener::bind("127.0.0.43:0").await.unwrap();
    let open = listener.local_addr().unwrap().port();
    let rtt = prober(500)
        .probe(Method::Tcp, at("127.0.0.43", open))
        .await
        .unwrap();
    assert!(rtt < Duration::from_millis(500));
    let closed = closed_tcp_port("127.0.0.44").await;
    let rtt = prober(500)
        .probe(Method::Tcp, at("127.0.0.44", closed))
        .await
        .unwrap();
    assert!(
        rtt < Duration::from_millis(500),
        "refused is a round trip: {rtt:?}"
    );
    drop(listener);
}

#[tokio::test]
async fn dns_probes_measure_the_responders_delay() {
    let responder = Responder::start("127.0.0.47", &[], Some(120)).await;
    let p = Prober {
        bind: Some("127.0.0.48".parse().unwrap()),
        ..prober(1000)
    };
    let to = at("127.0.0.47", responder.addr.port());
    let rtt = p.probe(Method::Dns, to).await.unwrap();
    assert!(
        rtt >= Duration::from_millis(120) && rtt < Duration::from_millis(900),
        "{rtt:?}"
    );
    assert_eq!(responder.count_from("127.0.0.48"), 1);
    // A closed UDP port answers with ICMP port unreachable: a round trip as well.
    let socket = std::net::UdpSocket::bind("127.0.0.49:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    drop(socket);
    let rtt = prober(1000)
        .probe(Method::Dns, at("127.0.0.49", port))
        .await
        .unwrap();
    assert!(rtt < Duration::from_millis(500), "{rtt:?}");
    // Silence is a timeout: no sample.
    let silent = Responder::start("127.0.0.50", &[], None).await;
    let err = prober(150)
        .probe(Method::Dns, at("127.0.0.50", silent.addr.port()))
        .await
        .unwrap_err();
    assert_eq!(err, ProbeError::Timeout);
}

/// An ICMP echo to 127.0.0.1 from the calling thread (on its own runtime).
fn icmp_round_trip() -> Result<Duration, ProbeError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let loopback = ProbeAddr {
        ip: "127.0.0.1".parse().unwrap(),
        port: None,
    };
    runtime.block_on(prober(1000).probe(Method::Icmp, loopback))
}

#[test]
fn icmp_echo_gives_a_round_trip() {
    let result = match icmp_round_trip() {
        Err(ProbeError::NotPermitted) => {
            // This namespace's net.ipv4.ping_group_range excludes our group. Where we may
            // (root), ask again from a private network namespace whose range includes it.
            let range =
                std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").unwrap_or_default();
            let private = netns::enter()
                .and_then(|()| netns::loopback_up(None))
                .and_then(|()| netns::allow_ping_sockets());
            if let Err(e) = private {
                return skip(&format!(
                    "ICMP echo sockets are not permitted (net.ipv4.ping_group_range {:?}) and \
                     no private network namespace allows them ({e}); run as root or \
                     `sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"`",
                    range.trim()
                ));
            }
            icmp_round_trip()
        }
        other => other,
    };
    let rtt = result.unwrap_or_else(|e| panic!("ICMP probe: {e}"));
    assert!(rtt < Duration::from_millis(500), "{rtt:?}");
}

#[tokio::test]
async fn the_global_rate_cap_holds_across_concurrent_probes() {
    let responder = Responder::start("127.0.0.54", &[], Some(0)).await;
    let config = AgentConfig {
        datacenter: "eu".into(),
        servers: vec![],
        token: String::new(),
        rate: 25.0,
        interval: Duration::from_mins(1),
        limit: 100,
        methods: vec![Method::Dns],
        attempts: 5,
        timeout: Duration::from_millis(500),
        tcp_port: 443,
        dns_port: 53,
        bind: None,
        representatives: Representatives::default(),
        once: true,
    };
    // Ten networks, all pointing at the responder: 50 probes at 25/s with bursts of 10.
    let planned: Vec<_> = (0..10)
        .map(|i| {
            (
                format!("10.0.{i}.0/24").parse().unwrap(),
                at("127.0.0.54", responder.addr.port()),
            )
        })
        .collect();
    let start = Instant::now();
    let (measured, probes) = agent::measure(&config, &planned, &Arc::new(Limiter::new(25.0))).await;
    assert_eq!((probes, measured.len()), (50, 10));
    assert!(measured.iter().all(|m| m.samples == 5));
    assert!(
        start.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        start.elapsed()
    );
    let mut times: Vec<Instant> = responder.seen.lock().unwrap().iter().map(|s| s.1).collect();
    times.sort();
    for (i, t) in times.iter().enumerate() {
        let window = times[i..]
            .iter()
            .take_while(|u| **u <= *t + Duration::from_secs(1))
            .count();
        // Token bucket: burst 10 + 25/s; a little slack for scheduling stalls on a busy host.
        assert!(window <= 10 + 25 + 5, "{window} probes within one second");
    }
}

#[tokio::test]
async fn the_agent_binary_measures_and_pushes_once() {
    let responder = Responder::start("127.0.0.55", &[("127.0.0.56", 30)], None).await;
    let zones = zone_dir();
    let server = server(&zones, |c| {
        c.latency_representatives =
            [("198.51.100.0/24".to_string(), responder.addr.to_string())].into();
    })
    .await;
    ask(&server, "fast.lat.test.", "198.51.100.0/24").await;
    eventually("a target", Duration::from_secs(5), || async {
        let (_, body) = admin(
            &server,
            reqwest::Method::GET,
            "/v1/latency/targets",
            Some(TOKEN),
            None,
        )
        .await;
        body["targets"].as_array().is_some_and(|t| !t.is_empty())
    })
    .await;
    let token = zones.path().join("token");
    std::fs::write(&token, format!("{TOKEN}\n")).unwrap();
    let base = url(&server, "");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_meridian"))
            .args([
                "agent",
                "--datacenter",
                "us",
                "--server",
                &base,
                "--token-file",
            ])
            .arg(&token)
            .args([
                "--probe",
                "dns",
                "--once",
                "--bind",
                "127.0.0.56",
                "--rate",
                "50",
                "--timeout-ms",
                "500",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("agent: round done"), "{stderr}");
    assert_eq!(
        responder.count_from("127.0.0.56"),
        2,
        "two attempts by default"
    );
    let (_, view) = admin(
        &server,
        reqwest::Method::GET,
        "/v1/latency?network=198.51.100.0/24",
        None,
        None,
    )
    .await;
    let rtt = view["rtts"][0]["rtt_ms"].as_f64().unwrap();
    assert!((30.0..400.0).contains(&rtt), "{view}");
    assert_eq!(view["rtts"][0]["datacenter"], "us");
    server.shutdown().await;
}

#[test]
fn agent_flags_are_validated() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_meridian"))
            .arg("agent")
            .args(args)
            .env_remove("MERIDIAN_AGENT_TOKEN")
            .output()
            .unwrap()
    };
    let out = run(&["--datacenter", "eu", "--server", "http://127.0.0.1:9"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--token-file"));
    let out = run(&["--datacenter", "e u", "--server", "http://127.0.0.1:9"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["--datacenter", "eu", "--server", "127.0.0.1:9"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("must start with http://"));
    let help = run(&["--help"]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("--representative"));
}
