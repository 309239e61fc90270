//! Packaging stays consistent: compose and Prometheus files, the Dockerfile, the systemd unit, the Grafana dashboard.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use ipnet::Ipv4Net;
use meridian::metrics::{self, Kind, MetricDef};
use serde_norway::Value as Yaml;

use crate::support::need_tool;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml(path: &str) -> Yaml {
    let mut value: Yaml =
        serde_norway::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    value.apply_merge().unwrap();
    value
}

fn services(compose: &Yaml) -> Vec<(String, Yaml)> {
    let map = compose["services"].as_mapping().expect("services");
    map.iter()
        .map(|(k, v)| (k.as_str().unwrap().to_string(), v.clone()))
        .collect()
}

fn find_service(compose: &Yaml, name: &str) -> Yaml {
    services(compose)
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no service {name}"))
        .1
}

fn str_list(v: &Yaml) -> Vec<String> {
    v.as_sequence()
        .map(|s| {
            s.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn compose_build_context_and_mounted_files_exist() {
    let compose = yaml("docker-compose.yml");
    let build = &find_service(&compose, "meridian")["build"];
    let context = root().join(build["context"].as_str().unwrap_or("."));
    let dockerfile = build["dockerfile"].as_str().unwrap_or("Dockerfile");
    assert!(
        context.join(dockerfile).is_file(),
        "{dockerfile} in {}",
        context.display()
    );
    let named = compose["volumes"].as_mapping().cloned().unwrap_or_default();
    for (name, service) in services(&compose) {
        for volume in str_list(&service["volumes"]) {
            let source = volume.split(':').next().unwrap();
            if source.starts_with('.') || source.starts_with('/') {
                let path = root().join(source);
                assert!(path.exists(), "{name}: mounted {source} does not exist");
            } else {
                assert!(
                    named.contains_key(source),
                    "{name}: volume {source} not declared"
                );
            }
        }
        for port in str_list(&service["ports"]) {
            assert!(
                port.starts_with("127.0.0.1:"),
                "{name}: {port} not on loopback"
            );
        }
    }
}

#[test]
fn compose_addresses_fit_the_network_and_the_demo_zone() {
    let compose = yaml("docker-compose.yml");
    let subnet: Ipv4Net = compose["networks"]["gslb"]["ipam"]["config"][0]["subnet"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let zone: toml::Value = toml::from_str(&read("deploy/zones/gslb.example.com.toml")).unwrap();
    let mut datacenters = 0;
    for (name, service) in services(&compose) {
        let addr: Ipv4Addr = service["networks"]["gslb"]["ipv4_address"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} has no fixed address"))
            .parse()
            .unwrap();
        assert!(subnet.contains(&addr), "{name}: {addr} outside {subnet}");
        let record = match name.strip_prefix("dc-") {
            Some(dc) => dc.to_string(),
            None if name == "meridian" => "ns1".to_string(),
            None if name == "meridian-ns2" => "ns2".to_string(),
            None => continue,
        };
        datacenters += usize::from(name.starts_with("dc-"));
        let a = zone["records"][&record]["A"].as_str();
        assert_eq!(
            a,
            Some(addr.to_string().as_str()),
            "records.{record}.A for {name}"
        );
    }
    assert_eq!(datacenters, 3);
}

#[test]
fn demo_zone_compiles() {
    if let Err(errors) = meridian::config::load_zones(&root().join("deploy/zones")) {
        panic!("deploy/zones is invalid:\n{errors}");
    }
}

#[test]
fn prometheus_scrapes_the_meridian_admin_listener() {
    let prometheus = yaml("prometheus.yml");
    let compose = yaml("docker-compose.yml");
    let admin = find_service(&compose, "meridian")["environment"]["MERIDIAN_ADMIN_LISTEN"]
        .as_str()
        .unwrap()
        .to_string();
    let port = admin.rsplit(':').next().unwrap();
    let jobs = prometheus["scrape_configs"].as_sequence().unwrap();
    let job = jobs
        .iter()
        .find(|j| j["job_name"] == "meridian")
        .expect("meridian job");
    assert_eq!(
        job["metrics_path"].as_str().unwrap_or("/metrics"),
        "/metrics"
    );
    let targets = str_list(&job["static_configs"][0]["targets"]);
    assert_eq!(
        targets,
        [format!("meridian:{port}"), format!("meridian-ns2:{port}")]
    );
    let mounted = str_list(&find_service(&compose, "prometheus")["volumes"]);
    assert!(mounted.iter().any(|v| v.starts_with("./prometheus.yml:")));
    run_tool(
        "promtool",
        "prometheus",
        &["check", "config", "prometheus.yml"],
        &root(),
    );
}

#[test]
fn dockerfile_copies_only_what_exists_and_is_not_ignored() {
    let dockerfile = read("Dockerfile");
    let ignored: Vec<String> = read(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect();
    for line in dockerfile.lines().filter(|l| l.starts_with("COPY ")) {
        let words: Vec<&str> = line.split_whitespace().skip(1).collect();
        if words.iter().any(|w| w.starts_with("--from")) {
            continue;
        }
        for source in &words[..words.len() - 1] {
            assert!(root().join(source).exists(), "COPY {source}: missing");
            assert!(
                !ignored.iter().any(|i| i == source),
                "COPY {source}: in .dockerignore"
            );
        }
    }
    for needed in ["src", "Cargo.toml", "Cargo.lock"] {
        assert!(!ignored.iter().any(|i| i == needed), "{needed} ignored");
    }
    assert!(dockerfile.contains("cargo build --release --locked"));
    assert!(
        dockerfile.lines().any(|l| l.starts_with("USER ")),
        "runs as root"
    );
}

#[test]
fn systemd_unit_is_hardened_and_reloads_with_hup() {
    let unit = read("contrib/meridian.service");
    let has = |line: &str| unit.lines().any(|l| l.trim() == line);
    for line in [
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        "RestartPreventExitStatus=2",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "DynamicUser=yes",
    ] {
        assert!(has(line), "missing {line}");
    }
    // systemd-analyze checks that ExecStart exists: point it at a binary that does.
    let dir = std::env::temp_dir().join(format!("meridian-ops-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("meridian.service"),
        unit.replace("/usr/local/bin/meridian", "/bin/true"),
    )
    .unwrap();
    run_tool(
        "systemd-analyze",
        "systemd",
        &["verify", "meridian.service"],
        &dir,
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Run `tool args` in `dir` and require success; `tool` comes from the Debian `package`
/// (a skip without it, a failure under `CI=true`).
fn run_tool(tool: &str, package: &str, args: &[&str], dir: &Path) {
    let Some(path) = need_tool(tool, package) else {
        return;
    };
    let out = Command::new(path)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{tool} {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every PromQL expression of the dashboard.
fn dashboard_exprs() -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v.as_str()) {
                        ("expr", Some(e)) => out.push(e.to_string()),
                        _ => walk(v, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let json: serde_json::Value =
        serde_json::from_str(&read("contrib/grafana-dashboard.json")).unwrap();
    let mut out = Vec::new();
    walk(&json, &mut out);
    out
}

/// The definition a series name in PromQL refers to (histogram series carry a suffix).
fn definition(series: &str) -> Option<MetricDef> {
    metrics::ALL.into_iter().find(|m| {
        m.name == series
            || (m.kind == Kind::Histogram
                && ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|s| series == format!("{}{s}", m.name)))
    })
}

/// Each `meridian_*` series in `expr`, with the label names of its `{...}` matchers.
fn series_in(expr: &str) -> Vec<(String, Vec<String>)> {
    let mut found = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("meridian_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let mut labels = Vec::new();
        if let Some(matchers) = tail[end..].strip_prefix('{') {
            let body = &matchers[..matchers.find('}').unwrap()];
            for m in body.split(',') {
                let name = m.split(['=', '!']).next().unwrap().trim();
                labels.push(name.to_string());
            }
        }
        found.push((tail[..end].to_string(), labels));
        rest = &tail[end..];
    }
    found
}

#[test]
fn dashboard_uses_only_defined_metrics_and_labels() {
    let exprs = dashboard_exprs();
    assert!(exprs.len() >= 10);
    let mut used = std::collections::HashSet::new();
    for expr in &exprs {
        let mut allowed = vec!["instance".to_string(), "job".to_string(), "le".to_string()];
        for (series, labels) in series_in(expr) {
            let def = definition(&series)
                .unwrap_or_else(|| panic!("{series} is not in metrics::ALL: {expr}"));
            used.insert(def.name);
            for l in &labels {
                assert!(
                    def.labels.contains(&l.as_str()) || l == "instance",
                    "{series} has no label {l}"
                );
            }
            allowed.extend(def.labels.iter().map(std::string::ToString::to_string));
        }
        for clause in expr.split("by (").skip(1) {
            for l in clause[..clause.find(')').unwrap()].split(',') {
                assert!(
                    allowed.iter().any(|a| a == l.trim()),
                    "by ({l}) unknown in {expr}"
                );
            }
        }
    }
    for m in metrics::ALL {
        assert!(
            used.contains(m.name),
            "the dashboard does not show {}",
            m.name
        );
    }
}

#[test]
fn compose_runs_two_nameservers_in_one_cluster() {
    let compose = yaml("docker-compose.yml");
    let env = |name: &str, key: &str| {
        find_service(&compose, name)["environment"][key]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no {key}"))
            .to_string()
    };
    assert_eq!(
        env("meridian", "MERIDIAN_CLUSTER_ENDPOINTS"),
        env("meridian-ns2", "MERIDIAN_CLUSTER_ENDPOINTS")
    );
    assert_ne!(
        env("meridian", "MERIDIAN_CLUSTER_INSTANCE"),
        env("meridian-ns2", "MERIDIAN_CLUSTER_INSTANCE")
    );
    let endpoint = env("meridian", "MERIDIAN_CLUSTER_ENDPOINTS");
    assert!(endpoint.starts_with("http://etcd:"), "{endpoint}");
    assert!(find_service(&compose, "etcd")["image"].as_str().is_some());
    // The image must carry cluster mode, or both instances would refuse to start.
    assert!(read("Dockerfile").contains("--features cluster"));
    // And each instance's settings, as the container gets them, must be valid.
    for name in ["meridian", "meridian-ns2"] {
        let service = find_service(&compose, name);
        let vars: Vec<(String, String)> = service["environment"]
            .as_mapping()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.as_str().unwrap().into(), v.as_str().unwrap_or("").into()))
            .filter(|(k, _)| k != "MERIDIAN_ADMIN_TOKEN")
            .collect();
        let mut config = meridian::config::ServerConfig::default();
        config
            .apply_env(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(config.cluster.is_some(), "{name}");
    }
}
