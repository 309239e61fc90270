//! Regressions: inputs found by fuzzing and bugs found while injecting faults, each pinned by a test.

use std::path::Path;

use meridian::config::compile::compile_zone;

use super::harness::zone_head;

/// The reference zone file documents a tcp check's `port` as "required for tcp unless every
/// member gives `probe = "IP:PORT"`", and the pool compiler reports a member without any
/// port itself; but `CheckSpec::validate` rejects every tcp check without `port` first.
#[test]
fn tcp_check_port_may_come_from_every_member_probe() {
    let text = zone_head("tcp.test.")
        + r#"[checks.smtp]
type = "tcp"
expect = "220"
[pools.mail]
members = [{ address = "192.0.2.25", datacenter = "dc", check = "smtp", probe = "127.0.0.1:2525" }]
[services.mx]
policy = "failover"
pools = ["mail"]
"#;
    let mut no_files = |name: &str| Err(format!("no file {name}"));
    let result = compile_zone(Path::new("tcp.test.toml"), &text, &mut no_files);
    if let Err(errors) = &result {
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        panic!("rejected:\n{}", shown.join("\n"));
    }
    // Without a probe port the member is the one reported.
    let text = text.replace("127.0.0.1:2525", "127.0.0.1");
    let errors = compile_zone(Path::new("tcp.test.toml"), &text, &mut no_files)
        .expect_err("a member without any port is an error");
    assert!(
        errors.iter().any(|e| e.to_string().contains("no port")),
        "{errors:?}"
    );
}
