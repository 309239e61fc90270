//! The feed without its task: selectors, the most recent value, expiry and the control rule.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::*;

fn plan() -> Arc<LoadPlan> {
    let mut members = HashMap::new();
    for (key, pool) in [
        ("192.0.2.10/web", "eu"),
        ("192.0.2.11/web", "eu"),
        ("198.51.100.10/web", "us"),
    ] {
        members.insert(
            Arc::from(key),
            MemberPlan {
                watermarks: Watermarks::default(),
                pools: vec![Arc::from(pool)],
            },
        );
    }
    let mut datacenters = HashMap::new();
    datacenters.insert(
        Arc::from("fra"),
        DcPlan {
            watermarks: Watermarks {
                capacity: 2000.0,
                ..Watermarks::default()
            },
            query: None,
            configured: true,
        },
    );
    Arc::new(LoadPlan {
        members,
        datacenters,
        by_probe: HashMap::new(),
    })
}

fn feed(hold_ms: u64) -> Feed {
    let mut f = Feed::new(FeedConfig {
        control: Control {
            hysteresis: 5.0,
            hold: Duration::from_millis(hold_ms),
            release_step: 0.5,
        },
        ttl: Duration::from_secs(10),
    });
    f.set_plan(plan());
    f
}

#[test]
fn selectors_name_members_pools_and_datacenters() {
    let p = plan();
    assert_eq!(p.resolve("192.0.2.10/web").unwrap().len(), 1);
    assert_eq!(p.resolve("member:192.0.2.10/web").unwrap().len(), 1);
    assert_eq!(p.resolve("pool:eu").unwrap().len(), 2);
    assert_eq!(
        p.resolve("datacenter:fra").unwrap(),
        vec![Key::Datacenter(Arc::from("fra"))]
    );
    for bad in ["pool:nope", "datacenter:nope", "192.0.2.99/web", ""] {
        assert!(p.resolve(bad).is_err(), "{bad}");
    }
}

#[test]
fn the_most_recent_value_wins_and_expires_after_the_ttl() {
    let mut f = feed(0);
    let dc = Key::Datacenter(Arc::from("fra"));
    f.report(dc.clone(), Sample::Value(1900.0), Source::Prometheus, 0);
    f.report(dc.clone(), Sample::Value(1750.0), Source::Api, 100);
    let s = f.tick(200);
    let e = s.datacenter("fra").unwrap();
    assert_eq!(
        (e.load, e.utilisation, e.source),
        (1750.0, 87.5, Source::Api)
    );
    // The share rose to 100 % at 1900 (95 %): it holds while the load stays near start.
    assert_eq!(e.share, 1.0);
    // After the TTL the value counts as no load; with hold 0 the share steps down.
    let s = f.tick(10_100);
    assert_eq!(s.datacenter("fra").unwrap().share, 0.5);
    let s = f.tick(10_200);
    assert!(
        s.datacenter("fra").is_none(),
        "dropped once nothing is shed"
    );
}

#[test]
fn unknown_keys_are_ignored_and_a_reload_drops_removed_ones() {
    let mut f = feed(0);
    f.report(
        Key::Member(Arc::from("203.0.113.1/x")),
        Sample::Value(99.0),
        Source::Api,
        0,
    );
    f.report(
        Key::Member(Arc::from("192.0.2.10/web")),
        Sample::Saturated,
        Source::Probe,
        0,
    );
    let s = f.tick(1);
    assert_eq!(s.members.len(), 1);
    assert_eq!(s.member("192.0.2.10/web").unwrap().share, 1.0);
    f.set_plan(Arc::new(LoadPlan::default()));
    assert!(f.tick(2).members.is_empty());
}

fn peer_obs(value: f64, observed_unix_ms: u64, ttl_ms: u64) -> super::super::peer::Observation {
    super::super::peer::Observation {
        selector: "datacenter:fra".into(),
        sample: Sample::Value(value),
        source: Source::Api,
        observed_unix_ms,
        expires_unix_ms: observed_unix_ms + ttl_ms,
    }
}

#[test]
fn a_peer_value_counts_unless_a_more_recent_one_is_held_and_expires_by_the_observer_ttl() {
    let mut f = feed(0);
    f.share_as(Arc::from("ns1"));
    let dc = Key::Datacenter(Arc::from("fra"));
    let now = unix_ms();
    // A peer's value, observed a second ago, valid for 10 s more.
    assert!(f.report_peer(
        Arc::from("ns2"),
        dc.clone(),
        &peer_obs(1750.0, now - 1000, 11_000),
        0
    ));
    let e = f.tick(1).datacenter("fra").unwrap().clone();
    assert_eq!((e.load, e.instance.as_deref()), (1750.0, Some("ns2")));
    // Observed here afterwards: ours is the most recent, and it is offered for sharing.
    let shared = f.report(dc.clone(), Sample::Value(1900.0), Source::Probe, 2);
    assert_eq!(shared.map(|o| o.selector), Some("datacenter:fra".into()));
    // An older peer value does not replace it; an expired one is refused outright.
    assert!(!f.report_peer(
        Arc::from("ns3"),
        dc.clone(),
        &peer_obs(100.0, now - 500, 10_000),
        3
    ));
    assert!(!f.report_peer(
        Arc::from("ns3"),
        dc.clone(),
        &peer_obs(100.0, now - 20_000, 10_000),
        3
    ));
    let e = f.tick(4).datacenter("fra").unwrap().clone();
    assert_eq!((e.load, e.instance.as_deref()), (1900.0, Some("ns1")));
    // A newer peer value wins, and expires when the observer said, not after our TTL.
    let later = unix_ms() + 50;
    assert!(f.report_peer(
        Arc::from("ns3"),
        dc.clone(),
        &peer_obs(100.0, later, 2_000),
        5
    ));
    let e = f.tick(6).datacenter("fra").unwrap().clone();
    assert_eq!((e.load, e.instance.as_deref()), (100.0, Some("ns3")));
    assert!(
        f.tick(5_000)
            .datacenter("fra")
            .is_none_or(|e| e.load == 0.0 || e.share < 1.0)
    );
}
