//! The GeoIP file replaced by garbage at runtime: answers keep coming from the old database, the refusal is logged, and a good replacement is taken up.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use meridian::app::GEOIP_POLL;
use meridian::geo::GeoDb;

use super::harness::{Served, log_line, serve};
use crate::support::http::{metric, scrape};
use crate::support::{addrs, backend, eventually, ip, query, udp, with_edns};

/// One watcher tick plus a loaded machine's slack.
fn poll_bound() -> Duration {
    GEOIP_POLL * 2 + Duration::from_secs(1)
}

/// Replace `path` the way a database update must: write beside it, rename over it.
fn replace(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// The steering zone served with the test City database copied to a temp file.
async fn geo_server() -> (Served, tempfile::TempDir, std::path::PathBuf) {
    // A backend that stays up, so every geo pool is up.
    let (probe, _up) = backend("127.0.0.1").await;
    let probe = probe.to_string();
    let zone = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/steer.toml"
    ))
    .replace("EU_PROBE", &probe)
    .replace("US_PROBE", &probe)
    .replace("AP_PROBE", &probe)
    // Health is not under test here: slow probes keep a loaded machine from flapping the
    // pools (an 80 ms timeout twice missed would answer the fallback).
    .replace("interval = \"100ms\"", "interval = \"5s\"")
    .replace("timeout = \"80ms\"", "timeout = \"4s\"");
    let geo_dir = tempfile::tempdir().unwrap();
    let db = geo_dir.path().join("city.mmdb");
    std::fs::copy("geoip/test-city.mmdb", &db).unwrap();
    let path = db.clone();
    let s = serve(&[("steer.test.toml", zone)], move |c| c.geoip = path).await;
    (s, geo_dir, db)
}

async fn geo_answer(s: &Served, ecs: &str) -> Vec<std::net::IpAddr> {
    addrs(&s.ask("geo.steer.test.", RecordType::A, Some(ecs)).await)
}

#[tokio::test]
async fn corrupt_geoip_replacement_is_refused_and_a_good_one_is_taken_up() {
    let (s, _geo_dir, db) = geo_server().await;
    let de = "198.51.100.0/24";
    assert_eq!(
        geo_answer(&s, de).await,
        vec![ip("198.51.100.10")],
        "DE -> eu"
    );
    // Keep asking in the background: every answer must stay the old database's.
    let stop = Arc::new(AtomicBool::new(false));
    let asked = {
        let (stop, addr) = (stop.clone(), s.server.udp_addrs[0]);
        tokio::spawn(async move {
            let mut n = 0u32;
            while !stop.load(Ordering::SeqCst) {
                let q = with_edns(
                    query("geo.steer.test.", RecordType::A),
                    1232,
                    Some("198.51.100.0/24"),
                );
                let reply = udp(addr, &q).await;
                assert_eq!(addrs(&reply), vec![ip("198.51.100.10")], "answer #{n}");
                n += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            n
        })
    };
    let real = std::fs::read("geoip/test-city.mmdb").unwrap();
    let started = Instant::now();
    replace(&db, &real[..real.len() / 3]);
    let shown = db.display().to_string();
    let line = log_line(&["GeoIP database reload failed", &shown], poll_bound()).await;
    println!("refused after {:?}: {}", started.elapsed(), line.trim());
    assert!(line.contains("not a valid MaxMind DB"), "{line}");
    stop.store(true, Ordering::SeqCst);
    let n = asked.await.expect("every answer used the old database");
    println!("{n} answers from the old database while the file was corrupt");
    // A valid replacement is taken up: the country-level database places the DE test
    // network elsewhere (registry data), so the answer leaves eu.
    let country = std::fs::read("geoip/geo-whois-asn-country.mmdb").unwrap();
    let started = Instant::now();
    replace(&db, &country);
    log_line(&["GeoIP database reloaded", &shown], poll_bound()).await;
    eventually(
        "the new database answers",
        Duration::from_secs(1),
        || async {
            let now = geo_answer(&s, de).await;
            !now.is_empty() && now != vec![ip("198.51.100.10")]
        },
    )
    .await;
    println!("recovered after {:?}", started.elapsed());
    s.server.shutdown().await;
}

#[tokio::test]
async fn geoip_build_metric_follows_a_reload() {
    let (s, _geo_dir, db) = geo_server().await;
    let build_epoch = || async {
        let text = scrape(&s.server).await;
        metric(&text, "meridian_geoip_build_timestamp_seconds").map_or(0, |v| v as u64)
    };
    let old = GeoDb::open("geoip/test-city.mmdb", None)
        .unwrap()
        .build_epoch();
    let new = GeoDb::open("geoip/geo-whois-asn-country.mmdb", None)
        .unwrap()
        .build_epoch();
    assert_ne!(old, new);
    replace(
        &db,
        &std::fs::read("geoip/geo-whois-asn-country.mmdb").unwrap(),
    );
    let shown = db.display().to_string();
    log_line(&["GeoIP database reloaded", &shown], poll_bound()).await;
    eventually(
        "meridian_geoip_build_timestamp_seconds shows the reloaded database",
        Duration::from_secs(2),
        || async { build_epoch().await == new },
    )
    .await;
    s.server.shutdown().await;
}
