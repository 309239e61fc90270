//! Unit tests of the ledger: outcomes, dedup, overrides, reconcile and restore, with fixed times.

use std::net::SocketAddr;
use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::health::check::{CheckKind, CheckSpec, HttpCheck};
use crate::health::probe::ProbeFailure;

const T0: Duration = Duration::from_secs(1_700_000_000);

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + T0 + Duration::from_secs(secs)
}

fn check(name: &str, path: &str) -> Arc<CheckSpec> {
    Arc::new(CheckSpec::new(name, CheckKind::Http(HttpCheck::new(path))))
}

fn target(key: &str, probe: &str, check: &Arc<CheckSpec>, dc: &str, pools: &[&str]) -> TargetSpec {
    TargetSpec {
        key: key.into(),
        probe_addr: probe.parse::<SocketAddr>().unwrap(),
        check: check.clone(),
        datacenter: dc.into(),
        pools: pools.iter().map(|p| Arc::from(*p)).collect(),
    }
}

fn web_targets() -> Vec<TargetSpec> {
    let web = check("web", "/health");
    vec![
        target(
            "192.0.2.10/web",
            "192.0.2.10:80",
            &web,
            "eu-west",
            &["web-eu"],
        ),
        target(
            "192.0.2.11/web",
            "192.0.2.11:80",
            &web,
            "eu-west",
            &["web-eu"],
        ),
        target(
            "198.51.100.1/web",
            "198.51.100.1:80",
            &web,
            "us-east",
            &["web-us"],
        ),
    ]
}

fn ok() -> ProbeOutcome {
    ProbeOutcome::success(Duration::from_millis(3))
}

fn timeout() -> ProbeOutcome {
    ProbeOutcome::failed(Duration::from_secs(3), ProbeFailure::Timeout)
}

fn texts(events: &[Event]) -> Vec<String> {
    events.iter().map(ToString::to_string).collect()
}

fn record(ledger: &mut Ledger, t: &TargetSpec, outcome: ProbeOutcome, secs: u64) -> Vec<String> {
    texts(&ledger.record(&t.probe_key(), &outcome, at(secs)))
}

#[test]
fn first_result_decides_then_fall_applies() {
    let (mut ledger, _) = Ledger::restoring(None);
    let targets = web_targets();
    ledger.set_targets(targets.clone(), at(0));
    assert!(!ledger.all_probed());
    assert_eq!(ledger.snapshot(1).status("192.0.2.10/web"), Status::Unknown);
    let t = &targets[0];
    assert_eq!(
        record(&mut ledger, t, ok(), 1),
        ["target 192.0.2.10/web UP after first probe"]
    );
    assert!(record(&mut ledger, t, timeout(), 2).is_empty());
    assert!(record(&mut ledger, t, timeout(), 3).is_empty());
    assert_eq!(
        record(&mut ledger, t, timeout(), 4),
        ["target 192.0.2.10/web DOWN after 3 failures: timeout"]
    );
    let report = ledger.report(7, false);
    let status = report.target("192.0.2.10/web").unwrap();
    assert_eq!(
        (status.status, status.failures, status.since),
        (Status::Down, 3, at(4))
    );
    assert_eq!(
        status.last_probe.as_ref().unwrap().failure,
        Some(ProbeFailure::Timeout)
    );
    assert_eq!(record(&mut ledger, t, ok(), 5), Vec::<String>::new());
    assert_eq!(
        record(&mut ledger, t, ok(), 6),
        ["target 192.0.2.10/web UP after 2 successes"]
    );
}

#[test]
fn one_probe_feeds_every_target_sharing_it() {
    let (mut ledger, _) = Ledger::restoring(None);
    let web = check("web", "/health");
    let alias = check("web-copy", "/health");
    let targets = vec![
        target("192.0.2.10/web", "192.0.2.99:80", &web, "eu-west", &[]),
        target(
            "192.0.2.20/web-copy",
            "192.0.2.99:80",
            &alias,
            "eu-west",
            &[],
        ),
    ];
    ledger.set_targets(targets.clone(), at(0));
    let events = record(&mut ledger, &targets[0], ok(), 1);
    assert_eq!(events.len(), 2);
    assert!(ledger.all_probed());
    assert_eq!(ledger.counts().up, 2);
}

#[test]
fn overrides_decide_and_clear() {
    let (mut ledger, _) = Ledger::restoring(None);
    let targets = web_targets();
    ledger.set_targets(targets.clone(), at(0));
    for t in &targets {
        record(&mut ledger, t, ok(), 1);
    }
    ledger.take_status_dirty();
    let drain = Override {
        selector: "datacenter:eu-west".parse().unwrap(),
        state: Forced::Drain,
    };
    let mut events = texts(&ledger.set_override(drain, Source::File));
    events.sort();
    assert_eq!(
        events,
        [
            "target 192.0.2.10/web forced DRAIN by datacenter:eu-west (override file), now DRAINED",
            "target 192.0.2.11/web forced DRAIN by datacenter:eu-west (override file), now DRAINED",
        ]
    );
    assert!(ledger.take_status_dirty());
    let snap = ledger.snapshot(2);
    assert_eq!(
        snap.get("192.0.2.10/web"),
        Some(&TargetHealth {
            status: Status::Drained,
            forced: true
        })
    );
    assert_eq!(snap.status("198.51.100.1/web"), Status::Up);

    let down = Override {
        selector: "192.0.2.10/web".parse().unwrap(),
        state: Forced::Down,
    };
    ledger.set_override(down, Source::Api);
    assert_eq!(ledger.snapshot(3).status("192.0.2.10/web"), Status::Down);
    let (existed, events) = ledger.clear_override(&"192.0.2.10/web".parse().unwrap(), Source::Api);
    assert!(existed);
    assert_eq!(
        texts(&events),
        ["target 192.0.2.10/web forced DRAIN by datacenter:eu-west (override file), now DRAINED"]
    );
    let events = ledger.replace_file_overrides(Vec::new());
    assert_eq!(events.len(), 2);
    assert!(
        texts(&events)
            .iter()
            .all(|e| e.ends_with("override cleared, now UP"))
    );
    let (existed, _) = ledger.clear_override(&"pool:none".parse().unwrap(), Source::Api);
    assert!(!existed);
}

#[test]
fn reconcile_keeps_state_and_overrides() {
    let (mut ledger, _) = Ledger::restoring(None);
    let targets = web_targets();
    ledger.set_targets(targets.clone(), at(0));
    record(&mut ledger, &targets[0], timeout(), 1);
    let pool = Override {
        selector: "pool:web-us".parse().unwrap(),
        state: Forced::Down,
    };
    ledger.set_override(pool, Source::Api);

    // Drop the second target, change the first one's check, add a new one.
    let other = check("web", "/other");
    let mut next = vec![
        targets[2].clone(),
        target(
            "192.0.2.10/web",
            "192.0.2.10:80",
            &other,
            "eu-west",
            &["web-eu"],
        ),
    ];
    next.push(target(
        "192.0.2.12/web",
        "192.0.2.12:80",
        &targets[0].check,
        "eu-west",
        &[],
    ));
    ledger.set_targets(next, at(2));
    let report = ledger.report(1, true);
    let keys: Vec<&str> = report.targets.iter().map(|t| &*t.key).collect();
    assert_eq!(
        keys,
        ["192.0.2.10/web", "192.0.2.12/web", "198.51.100.1/web"]
    );
    let changed = report.target("192.0.2.10/web").unwrap();
    assert_eq!(
        (changed.observed, changed.failures, changed.since),
        (Observed::Down, 0, at(1))
    );
    assert_eq!(
        report.target("192.0.2.12/web").unwrap().status,
        Status::Unknown
    );
    assert_eq!(
        report.target("198.51.100.1/web").unwrap().status,
        Status::Down
    );
    assert_eq!(report.overrides.len(), 1);
}

#[test]
fn restored_state_survives_until_rise() {
    let (mut first, _) = Ledger::restoring(None);
    let targets = web_targets();
    first.set_targets(targets.clone(), at(0));
    record(&mut first, &targets[0], timeout(), 1);
    record(&mut first, &targets[1], ok(), 1);
    let dc = Override {
        selector: "datacenter:us-east".parse().unwrap(),
        state: Forced::Drain,
    };
    first.set_override(dc, Source::Api);
    assert!(first.take_persist_dirty());
    let mut saved = first.persisted(at(2));
    assert_eq!(saved.targets.len(), 2, "unknown targets are not saved");
    saved.overrides.push(PersistedOverride {
        selector: "bad selector".into(),
        state: Forced::Up,
    });

    let (mut second, bad) = Ledger::restoring(Some(saved));
    assert_eq!(bad, ["bad selector"]);
    second.set_targets(targets.clone(), at(10));
    let snap = second.snapshot(1);
    assert_eq!(snap.status("192.0.2.10/web"), Status::Down);
    assert_eq!(snap.status("192.0.2.11/web"), Status::Up);
    assert_eq!(snap.status("198.51.100.1/web"), Status::Drained);
    assert!(
        !second.all_probed(),
        "restored targets still need their warm-start probe"
    );
    assert!(record(&mut second, &targets[0], ok(), 11).is_empty());
    assert_eq!(second.snapshot(2).status("192.0.2.10/web"), Status::Down);
    assert_eq!(
        second
            .report(2, false)
            .target("192.0.2.10/web")
            .unwrap()
            .since,
        at(1)
    );
}

#[test]
fn stale_probe_outcomes_are_ignored() {
    let (mut ledger, _) = Ledger::restoring(None);
    let targets = web_targets();
    ledger.set_targets(targets[..1].to_vec(), at(0));
    assert!(record(&mut ledger, &targets[2], ok(), 1).is_empty());
    assert_eq!(
        ledger.counts(),
        Counts {
            targets: 1,
            unknown: 1,
            ..Counts::default()
        }
    );
}

#[test]
fn report_serializes_for_status_output() {
    let (mut ledger, _) = Ledger::restoring(None);
    let targets = web_targets();
    ledger.set_targets(targets.clone(), at(0));
    record(
        &mut ledger,
        &targets[0],
        ProbeOutcome::failed(Duration::from_millis(12), ProbeFailure::Status(503)),
        1,
    );
    let drain = Override {
        selector: "pool:web-eu".parse().unwrap(),
        state: Forced::Drain,
    };
    ledger.set_override(drain, Source::Api);
    let json = serde_json::to_value(ledger.report(4, true)).unwrap();
    let first = &json["targets"][0];
    assert_eq!(first["key"], "192.0.2.10/web");
    assert_eq!(first["status"], "drained");
    assert_eq!(first["observed"], "down");
    assert_eq!(first["since_unix_ms"], 1_700_000_001_000u64);
    assert_eq!(first["forced"]["selector"], "pool:web-eu");
    assert_eq!(first["forced"]["source"], "api");
    assert_eq!(first["last_probe"]["rtt_ms"], 12.0);
    assert_eq!(first["last_probe"]["failure"]["reason"], "status");
    assert_eq!(first["last_probe"]["failure"]["detail"], 503);
    assert_eq!(
        (first["successes"].clone(), first["failures"].clone()),
        (0.into(), 1.into())
    );
    assert_eq!(json["overrides"][0]["selector"], "pool:web-eu");
    assert_eq!(
        (json["generation"].clone(), json["ready"].clone()),
        (4.into(), true.into())
    );
}

#[test]
fn absurd_saved_times_do_not_panic() {
    let mut saved = PersistedState::default();
    let huge = PersistedTarget {
        observed: Observed::Down,
        since_unix_ms: u64::MAX,
    };
    saved.targets.insert("192.0.2.10/web".into(), huge);
    let (mut ledger, _) = Ledger::restoring(Some(saved));
    ledger.set_targets(web_targets(), at(0));
    assert_eq!(ledger.snapshot(1).status("192.0.2.10/web"), Status::Down);
}

fn cluster_view(votes: &[(&str, &str, Observed)]) -> Arc<ClusterVotes> {
    let mut by_target: std::collections::HashMap<Arc<str>, Vec<Vote>> =
        std::collections::HashMap::default();
    for (instance, target, state) in votes {
        by_target.entry((*target).into()).or_default().push(Vote {
            instance: (*instance).into(),
            state: *state,
            since_unix_ms: 0,
            reason: None,
            rtt_ms: None,
        });
    }
    Arc::new(ClusterVotes {
        instance: "a".into(),
        min_voters: 2,
        votes: by_target,
        ..ClusterVotes::default()
    })
}

#[test]
fn cluster_votes_decide_and_local_votes_are_offered_for_publishing() {
    let mut ledger = Ledger::default();
    ledger.set_instance("a".into());
    let targets = web_targets();
    let probe = targets[0].probe_key();
    ledger.set_targets(targets, at(0));
    assert!(
        ledger.local_votes().is_empty(),
        "unknown verdicts are not votes"
    );
    let failed = ProbeOutcome::failed(Duration::from_millis(2), ProbeFailure::Refused);
    ledger.record(&probe, &failed, at(1));
    let vote = ledger.local_vote("192.0.2.10/web").unwrap();
    assert_eq!((&*vote.instance, vote.state), ("a", Observed::Down));
    assert_eq!(vote.reason.as_deref(), Some("connection refused"));
    // Alone, this instance's view decides.
    assert_eq!(ledger.snapshot(1).status("192.0.2.10/web"), Status::Down);
    // Two others see it up: the majority keeps it in the answers.
    let b_c_up = [
        ("b", "192.0.2.10/web", Observed::Up),
        ("c", "192.0.2.10/web", Observed::Up),
    ];
    let events = ledger.set_cluster(cluster_view(&b_c_up));
    assert_eq!(ledger.snapshot(2).status("192.0.2.10/web"), Status::Up);
    let text: Vec<String> = events.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|t| t == "target 192.0.2.10/web UP (was DOWN): cluster majority of 2 up, 1 down"),
        "{text:?}"
    );
    // One of them loses it too: two of three down.
    let b_down = [
        ("b", "192.0.2.10/web", Observed::Down),
        ("c", "192.0.2.10/web", Observed::Up),
    ];
    ledger.set_cluster(cluster_view(&b_down));
    assert_eq!(ledger.snapshot(3).status("192.0.2.10/web"), Status::Down);
    let report = ledger.report(3, true);
    let verdict = report
        .target("192.0.2.10/web")
        .unwrap()
        .cluster
        .clone()
        .unwrap();
    assert_eq!(verdict.votes.len(), 3);
    // Both other instances leave: too few voters, the local view decides.
    ledger.set_cluster(cluster_view(&[]));
    assert_eq!(ledger.snapshot(4).status("192.0.2.10/web"), Status::Down);
}

#[test]
fn cluster_overrides_are_a_source_of_their_own() {
    let mut ledger = Ledger::default();
    ledger.set_instance("a".into());
    ledger.set_targets(web_targets(), at(0));
    let mut view = (*cluster_view(&[])).clone();
    let selector: Selector = "pool:web-eu".parse().unwrap();
    view.overrides.insert(
        selector.clone(),
        crate::health::ClusterOverride {
            selector,
            state: Forced::Drain,
            who: "alice".into(),
            reason: "ticket".into(),
            set_at_unix_ms: 0,
            expires_unix_ms: None,
            instance: "b".into(),
        },
    );
    ledger.set_cluster(Arc::new(view));
    let snapshot = ledger.snapshot(1);
    assert_eq!(snapshot.status("192.0.2.10/web"), Status::Drained);
    assert_eq!(snapshot.status("198.51.100.1/web"), Status::Unknown);
    let report = ledger.report(1, true);
    assert!(report.overrides.iter().any(|o| o.source == Source::Cluster));
    // The view without it clears it.
    ledger.set_cluster(cluster_view(&[]));
    assert_eq!(ledger.snapshot(2).status("192.0.2.10/web"), Status::Unknown);
}
