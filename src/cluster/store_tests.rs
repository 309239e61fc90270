use super::*;
use crate::cluster::record::{FORMAT, encode};
use crate::health::Forced;
use crate::health::state::Observed;

const P: &str = "/meridian/t/";

fn member(name: &str, digest: &str) -> (String, Vec<u8>) {
    let r = MemberRecord {
        v: FORMAT,
        instance: name.into(),
        version: "0.1.0".into(),
        region: "eu".into(),
        started_unix_ms: 1,
        zone_digest: digest.into(),
    };
    (format!("{P}members/{name}"), encode(&r))
}

fn vote(name: &str, target: &str, state: Observed) -> (String, Vec<u8>) {
    let r = VoteRecord {
        v: FORMAT,
        state,
        since_unix_ms: 1,
        reason: None,
        rtt_ms: Some(1.5),
    };
    (format!("{P}votes/{name}/{target}"), encode(&r))
}

fn put(store: &mut Store, (k, v): (String, Vec<u8>)) {
    store.put(k.as_bytes(), &v, 0).unwrap();
}

#[test]
fn only_live_members_vote() {
    let mut s = Store::new(P.into());
    put(&mut s, member("a", "d1"));
    put(&mut s, member("b", "d1"));
    put(&mut s, vote("a", "192.0.2.1/web", Observed::Down));
    put(&mut s, vote("b", "192.0.2.1/web", Observed::Up));
    // A vote by an instance without a live member record does not count.
    put(&mut s, vote("ghost", "192.0.2.1/web", Observed::Down));
    let me: Arc<str> = "a".into();
    let view = s.votes_view(&me, QuorumRule::Majority, 2, false, 0);
    assert_eq!(view.votes["192.0.2.1/web"].len(), 2);
    // The member's lease ends: its votes go with it at once.
    s.delete(format!("{P}members/b").as_bytes(), 10).unwrap();
    let view = s.votes_view(&me, QuorumRule::Majority, 2, false, 0);
    assert_eq!(view.votes["192.0.2.1/web"].len(), 1);
    let members = s.members("a", "d1");
    assert_eq!(members.len(), 2);
    assert!(members[0].alive && members[0].this);
    assert_eq!(
        (members[1].alive, members[1].left_unix_ms),
        (false, Some(10))
    );
}

#[test]
fn drift_is_flagged_against_this_instance() {
    let mut s = Store::new(P.into());
    put(&mut s, member("a", "d1"));
    put(&mut s, member("b", "d2"));
    let members = s.members("a", "d1");
    assert!(!members[0].drift);
    assert!(members[1].drift);
}

#[test]
fn hostile_values_are_ignored_with_a_reason() {
    let mut s = Store::new(P.into());
    let cases: [(&str, &[u8], &str); 5] = [
        ("votes/a/192.0.2.1/web", b"\x00\x01garbage", "garbage"),
        ("votes/a/192.0.2.1/web", br#"{"v":99,"x":1}"#, "future_version"),
        ("members/a", br#"{"v":1,"instance":"b","version":"","region":"","started_unix_ms":0,"zone_digest":""}"#, "invalid"),
        ("something/else", b"{}", "foreign_key"),
        ("overrides/pool:x", br#"{"v":1}"#, "garbage"),
    ];
    for (key, value, reason) in cases {
        let err = s.put(format!("{P}{key}").as_bytes(), value, 0).unwrap_err();
        assert_eq!(err.label(), reason, "{key}");
    }
    assert!(s.members("a", "").is_empty());
}

#[test]
fn expired_overrides_are_left_out() {
    let mut s = Store::new(P.into());
    let o = OverrideRecord {
        v: FORMAT,
        selector: "pool:web".into(),
        state: Forced::Drain,
        who: "alice".into(),
        reason: "maintenance".into(),
        set_at_unix_ms: 0,
        expires_unix_ms: Some(100),
        instance: "a".into(),
    };
    put(&mut s, (format!("{P}overrides/pool:web"), encode(&o)));
    let me: Arc<str> = "a".into();
    assert_eq!(
        s.votes_view(&me, QuorumRule::Majority, 2, false, 50)
            .overrides
            .len(),
        1
    );
    assert_eq!(s.next_expiry(50), Some(100));
    assert!(
        s.votes_view(&me, QuorumRule::Majority, 2, false, 100)
            .overrides
            .is_empty()
    );
}

#[test]
fn a_fresh_listing_replaces_everything() {
    let mut s = Store::new(P.into());
    put(&mut s, member("a", "d"));
    put(&mut s, member("b", "d"));
    put(&mut s, vote("b", "192.0.2.1/web", Observed::Down));
    let (k, v) = member("a", "d");
    let ignored = s.reset(
        [
            (k.as_bytes(), v.as_slice()),
            (b"junk".as_slice(), b"".as_slice()),
        ],
        5,
    );
    assert_eq!(ignored.len(), 1);
    let members = s.members("a", "d");
    assert_eq!(members.iter().filter(|m| m.alive).count(), 1);
    assert!(s.tallies().is_empty());
}
