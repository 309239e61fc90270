//! An unwritable health state file: the server starts, keeps answering and warns; once the path is writable the state is saved again.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hickory_proto::rr::RecordType;

use super::harness::{Served, log_line, serve, zone_head};
use crate::support::{addrs, backend, eventually, ip};

fn zone(probe: std::net::SocketAddr) -> String {
    zone_head("state.test.")
        + &format!(
            r#"[checks.web]
type = "http"
interval = "100ms"
timeout = "80ms"
rise = 1
fall = 1
jitter = 0
[pools.web]
members = [{{ address = "192.0.2.10", datacenter = "dc", check = "web", probe = "{probe}" }}]
[services.www]
policy = "failover"
pools = ["web"]
all_down = "fallback"
fallback = ["192.0.2.1"]
"#
        )
}

async fn answer(s: &Served) -> Vec<std::net::IpAddr> {
    addrs(&s.ask("www.state.test.", RecordType::A, None).await)
}

/// Flip the backend and wait for the answer to follow: a state change to persist.
async fn flip(s: &Served, up: &AtomicBool, to: bool) {
    up.store(to, Ordering::SeqCst);
    let want = if to { "192.0.2.10" } else { "192.0.2.1" };
    eventually(
        "answer follows the backend",
        Duration::from_secs(3),
        || async { answer(s).await == vec![ip(want)] },
    )
    .await;
}

/// Start with `state_file`, check the warning and that DNS answers and follows health.
async fn serve_with_state_file(state_file: PathBuf, ip_addr: &str) -> (Served, Arc<AtomicBool>) {
    let (probe, up) = backend(ip_addr).await;
    let path = state_file.clone();
    let s = serve(&[("state.test.toml", zone(probe))], move |c| {
        c.health_state_file = path;
    })
    .await;
    tokio::time::timeout(Duration::from_secs(3), s.server.health.wait_ready())
        .await
        .expect("warm start")
        .unwrap();
    let shown = state_file.display().to_string();
    let line = log_line(
        &["writing health state file", &shown],
        Duration::from_secs(3),
    )
    .await;
    println!("warned: {}", line.trim());
    assert!(line.contains("WARN"), "{line}");
    assert_eq!(answer(&s).await, vec![ip("192.0.2.10")]);
    flip(&s, &up, false).await;
    flip(&s, &up, true).await;
    (s, up)
}

#[tokio::test]
async fn state_file_in_a_missing_directory_warns_and_is_written_once_it_exists() {
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().join("not-yet");
    let state_file = state_dir.join("health.json");
    let (s, up) = serve_with_state_file(state_file.clone(), "127.55.0.1").await;
    assert!(!state_file.exists());
    std::fs::create_dir(&state_dir).unwrap();
    flip(&s, &up, false).await;
    eventually("state file written", Duration::from_secs(3), || async {
        std::fs::read_to_string(&state_file).is_ok_and(|t| t.contains("192.0.2.10/web"))
    })
    .await;
    s.server.shutdown().await;
}

#[tokio::test]
async fn state_file_path_that_is_a_directory_warns_and_recovers_when_removed() {
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("health.json");
    std::fs::create_dir(&state_file).unwrap();
    let (s, up) = serve_with_state_file(state_file.clone(), "127.55.0.2").await;
    let shown = state_file.display().to_string();
    let read = log_line(
        &["reading health state file", &shown],
        Duration::from_secs(1),
    )
    .await;
    assert!(read.contains("starting without it"), "{read}");
    std::fs::remove_dir(&state_file).unwrap();
    flip(&s, &up, false).await;
    eventually("state file written", Duration::from_secs(3), || async {
        std::fs::read_to_string(&state_file).is_ok_and(|t| t.contains("192.0.2.10/web"))
    })
    .await;
    // No temporary files are left behind by the failed attempts (a write in progress may
    // hold one for a moment, until its rename).
    let names = || -> Vec<String> {
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned()))
            .collect()
    };
    eventually(
        "only health.json in the directory",
        Duration::from_secs(3),
        || async { names() == ["health.json"] },
    )
    .await;
    s.server.shutdown().await;
}
