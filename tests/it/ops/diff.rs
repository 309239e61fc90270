//! `meridian diff`: exit codes 0, 1 and 2, the JSON report, and a continent move's share of
//! the test GeoIP database's addresses.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_meridian");

/// A zone whose `www` sends Africa to `africa_pool`.
fn zone(africa_pool: &str) -> String {
    format!(
        r#"origin = "diff.test."
ns = ["ns1"]
[soa]
mname = "ns1"
rname = "hostmaster"
serial = 1
[records.ns1]
A = "192.0.2.53"
[datacenters.eu-west]
coordinates = [53.3, -6.3]
country = "IE"
[datacenters.us-east]
coordinates = [39.0, -77.5]
country = "US"
[pools.eu]
members = [{{ address = "198.51.100.1", datacenter = "eu-west" }}]
[pools.us]
members = [{{ address = "192.0.2.1", datacenter = "us-east" }}]
[services.www]
policy = "geo"
pools = ["eu", "us"]
[services.www.geo]
default = ["us"]
continent = {{ EU = ["eu"], AF = ["{africa_pool}"] }}
"#
    )
}

struct Setup {
    dir: PathBuf,
}

impl Setup {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("meridian-diff-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (sub, pool) in [("old", "eu"), ("new", "us"), ("same", "eu")] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
            std::fs::write(dir.join(sub).join("diff.test.toml"), zone(pool)).unwrap();
        }
        std::fs::create_dir_all(dir.join("bad")).unwrap();
        std::fs::write(
            dir.join("bad").join("diff.test.toml"),
            zone("eu").replace("default = [\"us\"]", "default = [\"nowhere\"]"),
        )
        .unwrap();
        let geoip = Path::new(env!("CARGO_MANIFEST_DIR")).join("geoip/test-city.mmdb");
        std::fs::write(
            dir.join("meridian.toml"),
            format!(
                "zones_dir = {:?}\ngeoip = {:?}\n",
                dir.join("old").display().to_string(),
                geoip.display().to_string()
            ),
        )
        .unwrap();
        Self { dir }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .arg("diff")
            .args(args)
            .arg("--config")
            .arg(self.dir.join("meridian.toml"))
            .env_remove("MERIDIAN_CONFIG")
            .output()
            .unwrap()
    }

    fn path(&self, sub: &str) -> String {
        self.dir.join(sub).display().to_string()
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// IPv4 addresses of the test database (its networks merged) and those in Africa:
/// 41.0.0.0/11 (ZA) and 198.18.64.0/18 (ZA, continent from the country).
const V4_TOTAL: f64 = 6.0 * 256.0 + 131_072.0 + 2_097_152.0 + 1_048_576.0;
const V4_AFRICA: f64 = 2_097_152.0 + 16_384.0;

#[test]
fn a_continent_moved_exits_1_with_its_share() {
    let s = Setup::new("move");
    let out = s.run(&["--zones", &s.path("new")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let share = 100.0 * V4_AFRICA / V4_TOTAL;
    let line = format!(
        "www.diff.test A: {share:.1} % of IPv4 addresses (AF) move from eu-west to us-east"
    );
    assert!(stdout.contains(&line), "expected {line:?} in:\n{stdout}");

    let out = s.run(&[&s.path("old"), &s.path("new"), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let moves = report["moves"].as_array().unwrap();
    let v4 = moves
        .iter()
        .find(|m| m["qtype"] == "A" && m["basis"] == "IPv4 addresses")
        .unwrap();
    assert_eq!(
        (v4["from"].as_str(), v4["to"].as_str()),
        (Some("eu-west"), Some("us-east"))
    );
    let percent = v4["percent"].as_f64().unwrap();
    assert!((percent - share).abs() < 1e-6, "{percent} != {share}");
    assert_eq!(v4["continents"], serde_json::json!(["AF"]));
}

#[test]
fn nothing_moved_exits_0() {
    let s = Setup::new("same");
    let out = s.run(&[&s.path("old"), &s.path("same")]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("no change"));
}

#[test]
fn an_invalid_change_exits_2_with_file_line_col() {
    let s = Setup::new("bad");
    let out = s.run(&["--zones", &s.path("bad")]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let file = s.dir.join("bad").join("diff.test.toml");
    assert!(
        stderr.contains(&format!("{}:", file.display())) && stderr.contains("nowhere"),
        "{stderr}"
    );
    // The same errors `meridian check` gives.
    let check = Command::new(BIN)
        .args(["check", "--zones", &s.path("bad")])
        .env_remove("MERIDIAN_CONFIG")
        .output()
        .unwrap();
    let check_err = String::from_utf8_lossy(&check.stderr);
    let first = check_err
        .lines()
        .find(|l| l.contains("diff.test.toml:"))
        .unwrap();
    assert!(stderr.contains(first), "{first:?} not in {stderr}");
}

/// `POST /v1/reload?dry_run=true` on a running server: token required, the same report as
/// JSON, live health and the seen-queries basis, and nothing swapped in.
#[tokio::test]
async fn the_reload_dry_run_reports_without_reloading() {
    use crate::support::http::{admin, get_json};
    use meridian::config::server::Secret;
    const TOKEN: &str = "dry-run-token-0123456789abcdef";
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("diff.test.toml");
    std::fs::write(&file, zone("eu")).unwrap();
    let server = crate::support::start_with(dir.path().to_str().unwrap(), |c| {
        c.geoip = "geoip/test-city.mmdb".into();
        c.admin_token = Some(Secret(TOKEN.to_string()));
    })
    .await;
    let post = reqwest::Method::POST;
    let (status, _) = admin(&server, post.clone(), "/v1/reload?dry_run=true", None, None).await;
    assert_eq!(status, 401);
    let (status, body) = admin(
        &server,
        post.clone(),
        "/v1/reload?dry_run=true",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["changed"], false);
    assert_eq!(body["report"]["health"], "live");
    let bases: Vec<&str> = body["report"]["spaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["basis"].as_str().unwrap())
        .collect();
    assert_eq!(bases, ["IPv4 addresses", "IPv6 addresses", "seen queries"]);

    std::fs::write(&file, zone("us")).unwrap();
    let (status, body) = admin(
        &server,
        post.clone(),
        "/v1/reload?dry_run=true",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["changed"], true);
    let moved = body["report"]["moves"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["qtype"] == "A" && m["basis"] == "IPv4 addresses")
        .cloned()
        .unwrap();
    let share = 100.0 * V4_AFRICA / V4_TOTAL;
    assert!(
        (moved["percent"].as_f64().unwrap() - share).abs() < 1e-6,
        "{moved}"
    );
    assert_eq!(get_json(&server, "/v1/status").await["generation"], 1);

    std::fs::write(&file, zone("nowhere")).unwrap();
    let (status, body) = admin(&server, post, "/v1/reload?dry_run=true", Some(TOKEN), None).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("diff.test.toml:"), "{body}");
}
