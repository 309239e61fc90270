//! Table tests for failover, pool selection and the all-down actions.

use std::num::NonZeroU16;
use std::sync::Arc;

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::fixtures::evaluate;
use super::fixtures::*;
use super::model::*;
use super::service::{Policy, Service};
use super::{Outcome, Want};
use crate::geo::Nowhere;
use crate::health::{HealthSnapshot, Status};

fn failover() -> Service {
    service(
        Policy::Failover { pools: vec![0, 1] },
        eu_us(Selection::All),
    )
}

#[test]
fn failover_table() {
    let c = client("10.1.2.0", 24);
    let eu = vec!["192.0.2.10", "192.0.2.11"];
    let us = vec!["198.51.100.10"];
    #[rustfmt::skip]
    let cases: Vec<(&str, HealthSnapshot, Want, Vec<&str>, Outcome)> = vec![
        ("all up", HealthSnapshot::empty(), Want::V4, eu.clone(), Outcome::Primary),
        ("one eu down", down(&["192.0.2.10"]), Want::V4, vec!["192.0.2.11"], Outcome::Primary),
        ("eu down", down(&eu), Want::V4, us.clone(), Outcome::Failover),
        ("eu drained", with_status(&eu, Status::Drained), Want::V4, us.clone(), Outcome::Failover),
        ("eu up again", with_status(&eu, Status::Up), Want::V4, eu.clone(), Outcome::Primary),
        ("all down", down(&["192.0.2.10", "192.0.2.11", "198.51.100.10"]), Want::V4, eu.clone(), Outcome::FailOpen),
        ("v6 up", down(&eu), Want::V6, vec!["2001:db8::10"], Outcome::Primary),
        ("v6 eu down", down(&["2001:db8::10"]), Want::V6, vec!["2001:db8::20"], Outcome::Failover),
        ("no names", HealthSnapshot::empty(), Want::Name, vec![], Outcome::NoData),
    ];
    for (name, health, want, expect, outcome) in cases {
        let d = run(&failover(), want, &c, &health);
        assert_eq!(texts(&d), expect, "{name}");
        assert_eq!(d.outcome, outcome, "{name}");
        assert_eq!((d.ecs_scope, d.ttl), (0, 30), "{name}");
    }
}

#[test]
fn min_healthy_counts_usable_members_of_the_family() {
    let mut pools = eu_us(Selection::All);
    Arc::make_mut(&mut pools[0]).min_healthy = 2;
    let s = service(Policy::Failover { pools: vec![0, 1] }, pools);
    let c = client("10.1.2.0", 24);
    let d = run(&s, Want::V4, &c, &down(&["192.0.2.11"]));
    assert_eq!(
        (texts(&d), d.outcome),
        (vec!["198.51.100.10".to_owned()], Outcome::Failover)
    );
    // Only one IPv6 member in `eu`: never up for AAAA with min_healthy 2.
    let d = run(&s, Want::V6, &c, &HealthSnapshot::empty());
    assert_eq!(
        (texts(&d), d.outcome),
        (vec!["2001:db8::20".to_owned()], Outcome::Failover)
    );
}

#[test]
fn all_down_actions() {
    let everything = down(&["192.0.2.10", "192.0.2.11", "198.51.100.10"]);
    let c = client("10.1.2.0", 24);
    let fallback = AllDown::Fallback(vec![answer("203.0.113.1"), answer("2001:db8::99")]);
    #[rustfmt::skip]
    let cases = [
        (AllDown::NoData, Want::V4, vec![], Outcome::NoData),
        (AllDown::ServFail, Want::V4, vec![], Outcome::ServFail),
        (fallback.clone(), Want::V4, vec!["203.0.113.1"], Outcome::Fallback),
        (fallback, Want::V6, vec!["2001:db8::10"], Outcome::Primary), // IPv6 members are up
        (AllDown::Fallback(vec![answer("2001:db8::99")]), Want::V4, vec![], Outcome::NoData),
    ];
    for (action, want, expect, outcome) in cases {
        let mut s = failover();
        s.all_down = action.clone();
        let d = run(&s, want, &c, &everything);
        assert_eq!(
            (texts(&d), d.outcome),
            (expect.iter().map(ToString::to_string).collect(), outcome),
            "{action:?}"
        );
    }
}

#[test]
fn fail_open_uses_drained_members_only_as_a_last_resort() {
    let pools = vec![pool(
        "only",
        Selection::All,
        vec![member("192.0.2.1", None, 0), member("192.0.2.2", None, 0)],
    )];
    let s = service(Policy::Failover { pools: vec![0] }, pools);
    let d = run(
        &s,
        Want::V4,
        &client("10.1.0.0", 16),
        &HealthSnapshot::empty(),
    );
    assert_eq!((d.answers.len(), d.outcome), (2, Outcome::FailOpen));
}

#[test]
fn selection_all_weighted_hash_and_max_answers() {
    let c = client("10.9.9.0", 24);
    let health = HealthSnapshot::empty();
    let d = run(&failover(), Want::V4, &c, &health);
    assert_eq!(d.answers.len(), 2);
    let mut s = failover();
    s.max_answers = NonZeroU16::new(1);
    assert_eq!(run(&s, Want::V4, &c, &health).answers.len(), 1);
    for sel in [Selection::Weighted, Selection::Hash] {
        let s = service(Policy::Failover { pools: vec![0, 1] }, eu_us(sel));
        let d = run(&s, Want::V4, &c, &health);
        assert_eq!(d.answers.len(), 1, "{sel:?} defaults to one answer");
        assert_eq!(d.ecs_scope, if sel == Selection::Hash { 24 } else { 0 });
        let mut s = s;
        s.max_answers = NonZeroU16::new(5);
        let d = run(&s, Want::V4, &c, &health);
        assert_eq!(
            texts(&d),
            ["192.0.2.10", "192.0.2.11"],
            "{sel:?} without replacement"
        );
        assert_eq!(
            d.ecs_scope, 0,
            "{sel:?}: every member answered, the client did not matter"
        );
    }
}

#[test]
fn all_selection_shuffles_with_the_rng() {
    let members = (1..=8)
        .map(|i| member(&format!("192.0.2.{i}"), None, 1))
        .collect();
    let s = service(
        Policy::Failover { pools: vec![0] },
        vec![pool("p", Selection::All, members)],
    );
    let c = client("10.1.0.0", 16);
    let mut firsts = std::collections::HashSet::new();
    let mut rng = StdRng::seed_from_u64(1);
    for _ in 0..200 {
        let d = evaluate(
            &s,
            Want::V4,
            &c,
            &Nowhere,
            &HealthSnapshot::empty(),
            &mut rng,
            None,
        );
        assert_eq!(d.answers.len(), 8);
        firsts.insert(d.answers[0].clone());
    }
    assert_eq!(firsts.len(), 8);
}

#[test]
fn cname_services_answer_one_name() {
    let names = vec![
        member("web1.example.net.", None, 1),
        member("web2.example.net.", None, 1),
    ];
    let mut s = service(
        Policy::Failover { pools: vec![0] },
        vec![pool("names", Selection::All, names)],
    );
    s.max_answers = NonZeroU16::new(4);
    let c = client("10.1.0.0", 16);
    let d = run(&s, Want::Name, &c, &HealthSnapshot::empty());
    assert_eq!((d.answers.len(), d.outcome), (1, Outcome::Primary));
    let d = run(&s, Want::Name, &c, &down(&["web1.example.net."]));
    assert_eq!(texts(&d), ["web2.example.net."]);
    let d = run(&s, Want::V4, &c, &HealthSnapshot::empty());
    assert_eq!(
        (d.answers.len(), d.outcome, d.ecs_scope),
        (0, Outcome::NoData, 0)
    );
}

#[test]
fn ecs_host_bits_are_ignored() {
    let s = service(
        Policy::Failover { pools: vec![0, 1] },
        eu_us(Selection::Hash),
    );
    let sloppy = super::Client {
        addr: "10.1.2.99".parse().unwrap(),
        source_prefix: 20,
        from_ecs: true,
    };
    let clean = client("10.1.0.0", 20);
    let health = HealthSnapshot::empty();
    assert_eq!(
        run(&s, Want::V4, &sloppy, &health),
        run(&s, Want::V4, &clean, &health)
    );
    assert_eq!(run(&s, Want::V4, &sloppy, &health).ecs_scope, 20);
}
