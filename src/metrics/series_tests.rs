//! Tests of the recorder and the typed recording functions against rendered Prometheus text.

use super::*;
use crate::health::check::CheckType;
use crate::policy::PolicyKind;

/// Handles registered before `install` are no-ops, so every test installs first.
fn installed() -> PrometheusHandle {
    install().expect("recorder installs")
}

fn rendered(handle: &PrometheusHandle) -> String {
    handle.run_upkeep();
    handle.render()
}

fn has_line(text: &str, prefix: &str) -> bool {
    text.lines().any(|l| l.starts_with(prefix))
}

#[test]
fn install_is_idempotent_and_describes_everything() {
    let a = install().expect("first install");
    let b = install().expect("second install");
    a.run_upkeep();
    let text = b.render();
    assert!(text.contains(&format!(
        "{BUILD_INFO}{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    )));
    assert!(text.contains("# HELP meridian_config_reloads_total"));
    assert!(has_line(
        &text,
        "meridian_config_reloads_total{result=\"error\"} "
    ));
}

#[test]
fn queries_are_counted_per_label_cell() {
    let handle = installed();
    for _ in 0..3 {
        query(Some("q.test."), 28, 0, "udp", QueryTimer::always());
    }
    query(Some("q.test."), 9999, 77, "quic", QueryTimer::always());
    query(None, 1, 5, "tcp", QueryTimer::always());
    flush();
    let text = rendered(&handle);
    let line =
        r#"meridian_queries_total{zone="q.test.",qtype="AAAA",rcode="NOERROR",transport="udp"} 3"#;
    assert!(text.contains(line), "{text}");
    let other =
        r#"meridian_queries_total{zone="q.test.",qtype="other",rcode="other",transport="other"} 1"#;
    assert!(text.contains(other));
    assert!(text.contains(
        r#"meridian_queries_total{zone="none",qtype="A",rcode="REFUSED",transport="tcp"} 1"#
    ));
    assert!(has_line(
        &text,
        r#"meridian_query_duration_seconds_bucket{transport="udp",le="0.000025"} "#
    ));
    assert!(!text.contains("quantile="), "histograms, not summaries");
}

#[test]
fn tallies_reach_the_counters_on_flush_zone_change_overflow_and_thread_exit() {
    let handle = installed();
    let line = |zone: &str, qtype: &str, n: u32| {
        format!(
            r#"meridian_queries_total{{zone="{zone}",qtype="{qtype}",rcode="NOERROR",transport="udp"}} {n}"#
        )
    };
    query(Some("t1.test."), 1, 0, "udp", QueryTimer::start());
    assert!(!rendered(&handle).contains(&line("t1.test.", "A", 1)));
    // Another zone adds the last one's tally.
    query(Some("t2.test."), 1, 0, "udp", QueryTimer::start());
    assert!(rendered(&handle).contains(&line("t1.test.", "A", 1)));
    // More cells than a tally holds: the first ones are added early, none is lost.
    let qtypes = [1, 2, 5, 6, 12, 15, 16, 28, 33, 35, 43, 255];
    for _ in 0..3 {
        for q in qtypes {
            query(Some("t2.test."), q, 0, "udp", QueryTimer::start());
        }
    }
    flush();
    let text = rendered(&handle);
    for (q, name) in [(1, "A"), (2, "NS"), (28, "AAAA"), (255, "ANY")] {
        let n = if q == 1 { 4 } else { 3 };
        assert!(text.contains(&line("t2.test.", name, n)), "{name}: {text}");
    }
    // A thread that ends adds what it tallied.
    std::thread::spawn(|| query(Some("t3.test."), 1, 0, "udp", QueryTimer::start()))
        .join()
        .unwrap();
    assert!(rendered(&handle).contains(&line("t3.test.", "A", 1)));
}

#[test]
fn decisions_carry_zone_service_policy_outcome() {
    let handle = installed();
    decision("d.test.", "www", PolicyKind::Failover, Outcome::Failover);
    decision("d.test.", "www", PolicyKind::Failover, Outcome::Failover);
    decision("d.test.", "api", PolicyKind::Latency, Outcome::FailOpen);
    flush();
    let text = rendered(&handle);
    assert!(text.contains(r#"meridian_decisions_total{zone="d.test.",service="www",policy="failover",outcome="failover"} 2"#));
    assert!(text.contains(r#"meridian_decisions_total{zone="d.test.",service="api",policy="latency",outcome="fail_open"} 1"#));
}

#[test]
fn health_probe_reload_and_geoip_series() {
    let handle = installed();
    target_state("198.51.100.199/metrics-only", Status::Down, true);
    health_transition("198.51.100.199/metrics-only", Status::Up, Status::Down);
    health_transition("198.51.100.199/metrics-only", Status::Unknown, Status::Up);
    probe(CheckType::Http, 0.03, Some("timeout"));
    probe(CheckType::Tcp, 0.03, Some("weird"));
    reload(true, 7);
    geoip_build_epoch(1_700_000_000);
    let text = rendered(&handle);
    for line in [
        r#"meridian_health_target_state{target="198.51.100.199/metrics-only",state="down"} 1"#,
        r#"meridian_health_target_state{target="198.51.100.199/metrics-only",state="up"} 0"#,
        r#"meridian_health_target_forced{target="198.51.100.199/metrics-only"} 1"#,
        r#"meridian_health_transitions_total{target="198.51.100.199/metrics-only",direction="down"} 1"#,
        r#"meridian_probe_failures_total{kind="http",reason="timeout"} 1"#,
        r#"meridian_probe_failures_total{kind="tcp",reason="other"} 1"#,
        r#"meridian_probe_duration_seconds_bucket{kind="http",le="0.05"} 1"#,
        "meridian_geoip_build_timestamp_seconds 1700000000",
    ] {
        assert!(text.contains(line), "missing {line}\n{text}");
    }
    // Only this target: health tests in the same binary record their own transitions.
    assert!(!text.contains(r#"target="198.51.100.199/metrics-only",direction="up""#));
    assert!(has_line(&text, "meridian_config_generation "));
    assert!(has_line(
        &text,
        "meridian_config_last_reload_success_timestamp_seconds "
    ));
}

#[test]
fn every_definition_is_named_and_labelled_consistently() {
    let mut names = std::collections::HashSet::new();
    for m in ALL {
        assert!(m.name.starts_with("meridian_"), "{}", m.name);
        assert!(names.insert(m.name), "duplicate {}", m.name);
        assert_eq!(
            m.kind == Kind::Counter,
            m.name.ends_with("_total"),
            "{}",
            m.name
        );
        if m.kind == Kind::Histogram {
            assert!(m.name.ends_with("_seconds"), "{}", m.name);
        }
        assert!(
            !m.labels
                .iter()
                .any(|l| ["client", "name", "qname"].contains(l))
        );
    }
}

#[test]
fn removed_targets_leave_the_rendered_text_until_published_again() {
    let handle = installed();
    let (kept, gone, odd) = ("192.0.2.60/keep", "192.0.2.61/gone", "192.0.2.62/we\"ird\\");
    for t in [kept, gone, odd] {
        target_state(t, Status::Up, false);
    }
    target_removed(gone);
    target_removed(odd);
    handle.run_upkeep();
    let text = render(&handle);
    let series = |t: &str| {
        let escaped = t.replace('\\', "\\\\").replace('"', "\\\"");
        [TARGET_STATE, TARGET_FORCED].map(|m| format!("{m}{{target=\"{escaped}\""))
    };
    for prefix in series(kept) {
        assert!(has_line(&text, &prefix), "missing {prefix}\n{text}");
    }
    for prefix in series(gone).into_iter().chain(series(odd)) {
        assert!(!has_line(&text, &prefix), "still there: {prefix}\n{text}");
    }
    assert!(text.contains("# HELP meridian_health_target_state"));
    target_state(gone, Status::Down, true);
    let text = render(&handle);
    assert!(
        text.contains(r#"meridian_health_target_state{target="192.0.2.61/gone",state="down"} 1"#)
    );
    assert!(text.contains(r#"meridian_health_target_forced{target="192.0.2.61/gone"} 1"#));
    assert!(!has_line(&text, &series(odd)[0]));
}
