//! Recording functions of the cluster-mode metrics (names and help texts are in `metrics.rs`).

use metrics::{counter, gauge};

use super::{
    CLUSTER_CONNECTED, CLUSTER_DRIFT, CLUSTER_IGNORED, CLUSTER_LOAD_RECEIVED, CLUSTER_LOAD_WRITTEN,
    CLUSTER_MEMBER, CLUSTER_MEMBERS, CLUSTER_VOTES, CLUSTER_WATCH_RESTARTS,
};

/// `reason` label values of [`CLUSTER_IGNORED`].
pub(crate) const IGNORED_REASONS: [&str; 5] = [
    "garbage",
    "foreign_key",
    "future_version",
    "invalid",
    "unknown_selector",
];

/// Registers the cluster series at 0 so a scrape shows them before cluster mode starts.
pub(super) fn zeroes() {
    cluster_connected(false);
    gauge!(CLUSTER_MEMBERS).set(0.0);
    gauge!(CLUSTER_DRIFT).set(0.0);
    counter!(CLUSTER_WATCH_RESTARTS).increment(0);
    counter!(CLUSTER_LOAD_WRITTEN).increment(0);
    for reason in IGNORED_REASONS {
        counter!(CLUSTER_IGNORED, "reason" => reason).increment(0);
    }
}

/// Whether this instance is in touch with etcd.
pub(crate) fn cluster_connected(connected: bool) {
    gauge!(CLUSTER_CONNECTED).set(f64::from(u8::from(connected)));
}

/// The live members, and how many of them serve zones that differ from this instance's.
pub(crate) fn cluster_members(live: usize, drifted: usize) {
    gauge!(CLUSTER_MEMBERS).set(live as f64);
    gauge!(CLUSTER_DRIFT).set(drifted as f64);
}

/// One member's identity: 1 while alive, 0 once its lease is gone.
pub fn cluster_member(instance: &str, region: &str, version: &str, digest: &str, alive: bool) {
    gauge!(CLUSTER_MEMBER, "member" => instance.to_owned(), "region" => region.to_owned(),
        "version" => version.to_owned(), "zone_digest" => digest.to_owned())
    .set(f64::from(u8::from(alive)));
}

/// Live votes on a target: how many instances see it up and down.
pub fn cluster_votes(target: &str, up: usize, down: usize) {
    gauge!(CLUSTER_VOTES, "target" => target.to_owned(), "state" => "up").set(up as f64);
    gauge!(CLUSTER_VOTES, "target" => target.to_owned(), "state" => "down").set(down as f64);
}

/// The watch on the cluster's keys was started again (lost connection, compaction, restart).
pub(crate) fn cluster_watch_restart() {
    counter!(CLUSTER_WATCH_RESTARTS).increment(1);
}

/// A value under the cluster's prefix was ignored; `reason` is one of [`IGNORED_REASONS`].
pub(crate) fn cluster_ignored(reason: &'static str) {
    counter!(CLUSTER_IGNORED, "reason" => reason).increment(1);
}

/// Load values `peer` observed were received from etcd.
pub fn cluster_load_received(peer: &str, n: usize) {
    counter!(CLUSTER_LOAD_RECEIVED, "peer" => peer.to_owned()).increment(n as u64);
}

/// One load value this instance observed was written to etcd.
pub(crate) fn cluster_load_sent() {
    counter!(CLUSTER_LOAD_WRITTEN).increment(1);
}
