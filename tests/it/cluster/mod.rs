//! Cluster mode end to end: real etcd (one member and three), three real Meridian processes probing from 127.0.0.11/.12/.13, and a backend that refuses chosen probe sources.
//
// A build without the `cargo` feature `cluster`, or a machine without etcd and etcdctl,
// skips these tests; under `CI=true` they fail instead (`crate::support::skip`).

mod backend;
mod compaction;
mod etcd;
mod instance;
mod load;
mod outage;
mod overrides;
mod quorum;
mod world;

use std::time::Duration;

use crate::support::skip;

/// The cluster tests start several processes each; one at a time keeps their timing honest.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const A: &str = "192.0.2.10";
const B: &str = "192.0.2.20";
/// interval × fall + 1 s, the bound the cluster must meet (200 ms × 2 + 1 s).
const DETECT: Duration = Duration::from_millis(1400);

/// Whether this build has cluster mode; if not, a [`skip`] (a failure under `CI=true`).
fn built_with_cluster() -> bool {
    if !meridian::cluster::AVAILABLE {
        skip("this build lacks the `cluster` feature (cargo test --features cluster)");
    }
    meridian::cluster::AVAILABLE
}

#[test]
fn check_refuses_cluster_settings_only_without_the_feature() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("m.toml");
    let zones = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("zones");
    std::fs::write(
        &config,
        format!(
            "zones_dir = \"{}\"\ngeoip = \"\"\n[cluster]\nendpoints = [\"http://127.0.0.1:9\"]\ninstance = \"ns1\"\n",
            zones.display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args(["check", "--config"])
        .arg(&config)
        .env_remove("MERIDIAN_ADMIN_TOKEN")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if meridian::cluster::AVAILABLE {
        assert_eq!(out.status.code(), Some(0), "{stderr}");
    } else {
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("`cluster` feature"), "{stderr}");
    }
    // A bad cluster setting is a configuration error either way.
    std::fs::write(&config, "[cluster]\nendpoints = []\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cluster.endpoints"));
}
