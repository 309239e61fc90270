//! Tests of the environment overlay: typed values, unknown variables, nested sections.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::*;
use crate::config::ServerConfig;

#[test]
fn settings_are_typed_by_the_struct() {
    let vars = [
        ("MERIDIAN_LISTEN", "127.0.0.1:1, [::1]:2"),
        ("MERIDIAN_MAX_UDP_PAYLOAD", " 1400 "),
        ("MERIDIAN_LATENCY_EWMA_ALPHA", "0.5"),
        ("MERIDIAN_ADMIN_PROTECT_READS", "true"),
        ("MERIDIAN_ADMIN_TOKEN_FILE", "/run/token"),
        ("MERIDIAN_LOG_FORMAT", "json"),
        ("MERIDIAN_LATENCY_REPRESENTATIVES", "192.0.2.0/24=192.0.2.9"),
        ("MERIDIAN_GEOIP", ""),
        ("HOME", "/root"),
    ];
    let c = overlay(ServerConfig::default(), vars).unwrap();
    assert_eq!(c.listen.len(), 2);
    assert_eq!(c.max_udp_payload, 1400);
    assert_eq!(c.latency_ewma_alpha, 0.5);
    assert!(c.admin_protect_reads);
    assert_eq!(c.admin_token_file.as_deref(), Some("/run/token".as_ref()));
    assert_eq!(c.log_format, crate::config::LogFormat::Json);
    assert_eq!(c.latency_representatives["192.0.2.0/24"], "192.0.2.9");
    assert_eq!(c.geoip.as_os_str(), "");
    assert_eq!(c.zones_dir, ServerConfig::default().zones_dir, "untouched");
}

#[test]
fn variables_that_are_not_settings_are_left_alone() {
    let vars = NOT_SETTINGS.map(|v| (v, "whatever"));
    assert_eq!(
        overlay(ServerConfig::default(), vars).unwrap(),
        ServerConfig::default()
    );
}

#[test]
fn a_misspelled_variable_is_an_error_naming_it() {
    for var in ["MERIDIAN_LISTN", "MERIDIAN_ADMIN_TOKEN_FIEL", "MERIDIAN_"] {
        let e = overlay(ServerConfig::default(), [(var, "x")]).unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with(&format!("{var}: `")), "{text}");
        assert!(text.contains("is not a server setting"), "{text}");
        assert!(
            text.contains("MERIDIAN_CONFIG, MERIDIAN_ADMIN_TOKEN"),
            "{text}"
        );
    }
}

#[test]
fn a_bad_value_is_an_error_naming_the_variable() {
    for (var, value) in [
        ("MERIDIAN_MAX_UDP_PAYLOAD", "x"),
        ("MERIDIAN_MAX_UDP_PAYLOAD", "70000"),
        ("MERIDIAN_LISTEN", "nowhere"),
        ("MERIDIAN_LOG_FORMAT", "xml"),
        ("MERIDIAN_ADMIN_PROTECT_READS", "yes"),
        ("MERIDIAN_LATENCY_REPRESENTATIVES", "nope"),
    ] {
        let e = overlay(ServerConfig::default(), [(var, value)]).unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("{var}: invalid value"))
                || text.starts_with(&format!("{var}: expected KEY=VALUE")),
            "{text}"
        );
    }
}

/// A settings struct with a section, as `[cluster]` will be.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct WithSection {
    listen: Vec<String>,
    cluster_mode: bool,
    cluster: Section,
}

#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Section {
    peers: Vec<String>,
    port: u16,
    name: Option<String>,
    labels: BTreeMap<String, String>,
}

#[test]
fn a_section_takes_its_keys_from_prefixed_variables() {
    let vars = [
        ("MERIDIAN_CLUSTER_PEERS", "a:1,b:2"),
        ("MERIDIAN_CLUSTER_PORT", "7000"),
        ("MERIDIAN_CLUSTER_NAME", "eu"),
        ("MERIDIAN_CLUSTER_MODE", "true"),
    ];
    let s = overlay(WithSection::default(), vars).unwrap();
    assert_eq!(s.cluster.peers, ["a:1", "b:2"]);
    assert_eq!(s.cluster.port, 7000);
    assert_eq!(s.cluster.name.as_deref(), Some("eu"));
    assert!(s.cluster_mode, "a top-level key wins over the section");

    let e = overlay(WithSection::default(), [("MERIDIAN_CLUSTER_PERS", "a")]).unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with("MERIDIAN_CLUSTER_PERS: `cluster.pers` is not a server setting"),
        "{text}"
    );
    let e = overlay(WithSection::default(), [("MERIDIAN_CLUSTER_PORT", "x")]).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("MERIDIAN_CLUSTER_PORT: invalid value")
    );
}

#[test]
fn cluster_variables_turn_cluster_mode_on_and_typos_are_errors() {
    let mut s = ServerConfig::default();
    s.apply_env([
        (
            "MERIDIAN_CLUSTER_ENDPOINTS",
            "http://127.0.0.1:2379,http://127.0.0.1:2380",
        ),
        ("MERIDIAN_CLUSTER_INSTANCE", "ns1"),
        ("MERIDIAN_CLUSTER_LEASE_TTL_SECS", "5"),
        ("MERIDIAN_CLUSTER_QUORUM", "up_fraction>0.18"),
        ("MERIDIAN_PROBE_SOURCE_V4", "127.0.0.11"),
    ])
    .unwrap();
    let c = s.cluster.as_ref().unwrap();
    assert_eq!(c.endpoints.len(), 2);
    assert_eq!((c.instance.as_str(), c.lease_ttl_secs), ("ns1", 5));
    assert_eq!(s.probe_source_v4, Some("127.0.0.11".parse().unwrap()));
    let mut s = ServerConfig::default();
    let e = s
        .apply_env([
            ("MERIDIAN_CLUSTER_ENDPOINTS", "http://127.0.0.1:2379"),
            ("MERIDIAN_CLUSTER_LEASE_TTL", "5"),
        ])
        .unwrap_err();
    assert!(
        e.to_string().starts_with("MERIDIAN_CLUSTER_LEASE_TTL"),
        "{e}"
    );
}
