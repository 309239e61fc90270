//! Latency operations: the import file reloaded on change, the import endpoint, the state
//! file across a restart, offline `meridian explain`, and configuration errors.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use reqwest::Method as Http;

use super::lab::*;
use crate::support::eventually;
use crate::support::http::{admin, metric, scrape};

const NET: &str = "198.51.100.0/24";

fn write(path: &Path, text: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[tokio::test]
async fn the_import_file_is_read_at_start_and_on_change() {
    let zones = zone_dir();
    let csv = zones.path().join("rum.csv");
    write(
        &csv,
        "network,datacenter,rtt_ms,samples\n198.51.100.0/24,eu,80,50\n198.51.100.0/24,us,20,50\n",
    );
    let server = server(&zones, |c| c.latency_import = csv.clone()).await;
    assert_eq!(
        ask(&server, "fast.lat.test.", NET).await,
        (vec![US.to_string()], Some(24))
    );
    write(
        &csv,
        "# flipped\n198.51.100.0/24,eu,10,50\n198.51.100.0/24,us,90,50\n",
    );
    eventually("the new import", Duration::from_secs(10), || async {
        ask(&server, "fast.lat.test.", NET).await.0 == [EU]
    })
    .await;
    let text = scrape(&server).await;
    assert!(
        metric(
            &text,
            r#"meridian_latency_samples_total{source="import",result="accepted"}"#
        )
        .unwrap()
            >= 4.0
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_import_endpoint_takes_csv_and_json() {
    let zones = zone_dir();
    let server = server(&zones, |_| {}).await;
    let csv = "198.51.100.0/24,eu,70\n198.51.100.0/24,us,15\n198.51.100.0/24,mars,1\n";
    let (status, _) = admin(
        &server,
        Http::POST,
        "/v1/latency/import",
        None,
        Some(csv.into()),
    )
    .await;
    assert_eq!(status, 401);
    let (status, body) = admin(
        &server,
        Http::POST,
        "/v1/latency/import",
        Some(TOKEN),
        Some(csv.into()),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["accepted"].as_u64(), body["rejected"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(ask(&server, "fast.lat.test.", NET).await.0, [US]);
    // JSON, and a body above the ordinary 64 KiB admin limit.
    let mut rows: Vec<String> = (0..2000)
        .map(|i| {
            format!(
                r#"{{"network":"10.{}.{}.0/24","datacenter":"eu","rtt_ms":5}}"#,
                i / 256,
                i % 256
            )
        })
        .collect();
    rows.push(r#"{"network":"198.51.100.0/24","datacenter":"eu","rtt_ms":1,"samples":100}"#.into());
    let json = format!("[{}]", rows.join(","));
    assert!(json.len() > 64 * 1024);
    let (status, body) = admin(
        &server,
        Http::POST,
        "/v1/latency/import",
        Some(TOKEN),
        Some(json),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"].as_u64(), Some(2001));
    assert_eq!(ask(&server, "fast.lat.test.", NET).await.0, [EU]);
    let text = scrape(&server).await;
    assert!(
        metric(
            &text,
            r#"meridian_latency_samples_total{source="api",result="accepted"}"#
        )
        .unwrap()
            >= 2003.0
    );
    assert!(
        metric(
            &text,
            r#"meridian_latency_samples_total{source="api",result="rejected"}"#
        )
        .unwrap()
            >= 1.0
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_state_file_survives_a_restart() {
    let zones = zone_dir();
    let state = zones.path().join("latency.csv");
    let server1 = server(&zones, |c| c.latency_state_file = state.clone()).await;
    let csv = "198.51.100.0/24,eu,90,4\n198.51.100.0/24,us,30,4\n";
    let (status, _) = admin(
        &server1,
        Http::POST,
        "/v1/latency/import",
        Some(TOKEN),
        Some(csv.into()),
    )
    .await;
    assert_eq!(status, 200);
    server1.shutdown().await;
    let saved = std::fs::read_to_string(&state).unwrap();
    assert!(
        saved.starts_with("network,datacenter,rtt_ms,samples,updated\n"),
        "{saved}"
    );
    assert!(saved.contains("198.51.100.0/24,us,30.000,4,"), "{saved}");

    let server2 = server(&zones, |c| c.latency_state_file = state.clone()).await;
    assert_eq!(ask(&server2, "fast.lat.test.", NET).await.0, [US]);
    let (_, view) = admin(
        &server2,
        Http::GET,
        &format!("/v1/latency?network={NET}"),
        None,
        None,
    )
    .await;
    assert_eq!(view["rtts"][0]["samples"], 4);
    let text = scrape(&server2).await;
    assert!(
        metric(
            &text,
            r#"meridian_latency_samples_total{source="state",result="accepted"}"#
        )
        .unwrap()
            >= 2.0
    );
    server2.shutdown().await;
}

#[test]
fn offline_explain_shows_rtts_ages_and_samples() {
    let zones = zone_dir();
    let csv = zones.path().join("rum.csv");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    write(
        &csv,
        &format!(
            "198.51.100.0/24,eu,80,12,{}\n198.51.100.0/24,us,20,7,{}\n",
            now - 90,
            now - 30
        ),
    );
    let etc = tempfile::tempdir().unwrap();
    let conf = etc.path().join("meridian.toml");
    let text = format!(
        "zones_dir = {:?}\ngeoip = \"geoip/test-city.mmdb\"\nlatency_import = {:?}\n",
        zones.path(),
        csv
    );
    std::fs::write(&conf, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args([
            "explain",
            "fast.lat.test",
            "A",
            "--client",
            "127.0.0.1",
            "--ecs",
            NET,
            "--config",
        ])
        .arg(&conf)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("answer: fast.lat.test. 20 IN A 192.0.2.20"),
        "{stdout}"
    );
    assert!(
        stdout.contains("datacenter us: 20.0 ms measured (7 samples, age 3"),
        "{stdout}"
    );
    assert!(
        stdout.contains("datacenter eu: 80.0 ms measured (12 samples, age 9"),
        "{stdout}"
    );
    assert!(stdout.contains("steered by measured RTT"), "{stdout}");
    // Another network: the estimate, and the trace says so.
    let out = Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args([
            "explain",
            "fast.lat.test",
            "--client",
            "127.0.0.1",
            "--ecs",
            "203.0.113.0/24",
            "--config",
        ])
        .arg(&conf)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("ms estimated from"), "{stdout}");
    assert!(stdout.contains("steered by estimated RTT"), "{stdout}");
}

fn zone_errors(service: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let zone = ZONE.split("[services.fast]").next().unwrap().to_string() + service;
    std::fs::write(dir.path().join("z.toml"), zone).unwrap();
    match meridian::config::load_zones(dir.path()) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn latency_service_options_are_checked() {
    let ok = "[services.a]\npolicy = \"latency\"\npools = [\"eu\", \"us\"]\n\n[services.a.latency]\ntolerance_ms = 2.5\ntolerance_percent = 0\nties = \"order\"\nmin_samples = 3\n";
    assert_eq!(zone_errors(ok), "");
    let bad = "[services.a]\npolicy = \"latency\"\npools = [\"eu\"]\n\n[services.a.latency]\ntolerance_ms = -1\ntolerance_percent = 500\nties = \"random\"\nmin_samples = 0\nwhat = 1\n";
    let errors = zone_errors(bad);
    assert!(errors.contains("unknown field `what`"), "{errors}");
    let bad = "[services.a]\npolicy = \"latency\"\npools = [\"eu\"]\n\n[services.a.latency]\ntolerance_ms = -1\ntolerance_percent = 500\nties = \"random\"\nmin_samples = 0\n";
    let errors = zone_errors(bad);
    for needle in [
        "tolerance_ms must be within 0..=1000",
        "tolerance_percent must be within 0..=100",
        "ties must be `hash` or `order`",
        "min_samples",
    ] {
        assert!(errors.contains(needle), "{needle}: {errors}");
    }
    assert!(errors.contains("z.toml:"), "{errors}");
    let errors = zone_errors("[services.a]\npolicy = \"latency\"\n");
    assert!(
        errors.contains("needs a non-empty `pools` list"),
        "{errors}"
    );
    let errors = zone_errors(
        "[services.a]\npolicy = \"failover\"\npools = [\"eu\"]\n[services.a.latency]\nties = \"order\"\n",
    );
    assert!(errors.contains("needs policy = \"latency\""), "{errors}");
}

#[test]
fn latency_server_settings_parse_and_are_checked() {
    use meridian::config::ServerConfig;
    let text = "latency_prefix_v4 = 22\nlatency_prefix_v6 = 56\nlatency_max_networks = 5000\n\
                latency_max_age_secs = 3600\nlatency_ewma_alpha = 0.5\nlatency_top_networks = 50\n\
                latency_import = \"rum.csv\"\nlatency_state_file = \"state.csv\"\n\
                [latency_representatives]\n\"198.51.100.0/24\" = \"127.0.0.41:5300\"\n";
    let c = ServerConfig::parse(Path::new("m.toml"), text).unwrap();
    assert_eq!(
        (
            c.latency_prefix_v4,
            c.latency_prefix_v6,
            c.latency_top_networks
        ),
        (22, 56, 50)
    );
    assert_eq!(
        c.representatives()
            .unwrap()
            .probe_for(NET.parse().unwrap())
            .to_string(),
        "127.0.0.41:5300"
    );
    for (bad, needle) in [
        ("latency_prefix_v6 = 64\n", "IPv6 network prefix"),
        ("latency_ewma_alpha = 0.0\n", "latency_ewma_alpha"),
        ("latency_max_age_secs = 5\n", "latency_max_age_secs"),
        (
            "[latency_representatives]\n\"x\" = \"127.0.0.1\"\n",
            "latency_representatives",
        ),
    ] {
        let e = ServerConfig::parse(Path::new("m.toml"), bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains(needle), "{bad}: {e}");
    }
    let mut c = ServerConfig::default();
    c.apply_env([(
        "MERIDIAN_LATENCY_REPRESENTATIVES",
        "198.51.100.0/24=127.0.0.41,2001:db8::/48=[::1]:53",
    )])
    .unwrap();
    assert_eq!(c.latency_representatives.len(), 2);
    assert!(
        c.apply_env([("MERIDIAN_LATENCY_REPRESENTATIVES", "nope")])
            .is_err()
    );
}
