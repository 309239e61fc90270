//! The cluster's votes and overrides as the tracker consumes them, and each target's verdict from them (pure).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Serialize;

use super::overrides::{Forced, Selector};
use super::quorum::{DecidedBy, QuorumRule, Tally, effective};
use super::state::Observed;

/// One instance's verdict on one target, as published under its lease.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Vote {
    #[serde(serialize_with = "super::report::ser_str")]
    pub(crate) instance: Arc<str>,
    pub(crate) state: Observed,
    /// When this instance's verdict last changed (Unix ms).
    pub(crate) since_unix_ms: u64,
    /// Why it is down, e.g. `timeout`.
    pub(crate) reason: Option<String>,
    /// The latest probe's round trip, when it got that far.
    pub(crate) rtt_ms: Option<f64>,
}

/// An override stored in the cluster, with who set it, when and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct ClusterOverride {
    #[serde(serialize_with = "super::overrides::serialize_display")]
    pub(crate) selector: Selector,
    pub(crate) state: Forced,
    pub(crate) who: String,
    pub(crate) reason: String,
    pub(crate) set_at_unix_ms: u64,
    /// When it clears itself (Unix ms); None = until cleared.
    pub(crate) expires_unix_ms: Option<u64>,
    #[serde(serialize_with = "super::report::ser_str")]
    pub(crate) instance: Arc<str>,
}

/// A change of this instance's own votes, from the tracker to the task that publishes them.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum VoteUpdate {
    /// The verdict on one target changed.
    Set(Arc<str>, Vote),
    /// Every vote this instance now holds (the target set changed); others are withdrawn.
    All(Vec<(Arc<str>, Vote)>),
}

/// What the cluster says, one immutable value per change, sent to the tracker by the one task
/// that watches the store. Votes of instances whose lease is gone are already left out.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct ClusterVotes {
    /// This instance's name: its own votes come from the tracker, never from here.
    pub(crate) instance: Arc<str>,
    /// The cluster-wide rule; a check may name its own.
    pub(crate) rule: QuorumRule,
    /// Fewer known votes than this and the local view decides.
    pub(crate) min_voters: usize,
    /// The store has been out of reach for longer than `stale_after`: decide locally.
    pub(crate) stale: bool,
    /// Target key → the votes of the other live instances.
    pub(crate) votes: HashMap<Arc<str>, Vec<Vote>>,
    /// Overrides in force cluster-wide.
    pub(crate) overrides: BTreeMap<Selector, ClusterOverride>,
}

/// A target's verdict in cluster mode, with everything that went into it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    /// The state the query path uses before overrides.
    pub(crate) effective: Observed,
    pub(crate) decided_by: DecidedBy,
    pub(crate) rule: QuorumRule,
    pub(crate) tally: Tally,
    /// Every live instance's vote, this one's first.
    pub(crate) votes: Vec<Vote>,
}

impl ClusterVotes {
    /// The verdict on target `key` given this instance's own vote; `rule` is the check's
    /// rule when it names one.
    pub(crate) fn verdict(&self, key: &str, local: Vote, rule: Option<QuorumRule>) -> Verdict {
        let rule = rule.unwrap_or(self.rule);
        let mut votes = vec![local];
        if let Some(others) = self.votes.get(key) {
            votes.extend(
                others
                    .iter()
                    .filter(|v| v.instance != self.instance)
                    .cloned(),
            );
        }
        let mut tally = Tally::default();
        for v in &votes {
            tally.add(v.state);
        }
        let local = votes[0].state;
        let (effective, decided_by) = if self.stale {
            (local, DecidedBy::Stale)
        } else {
            effective(rule, tally, self.min_voters, local)
        };
        Verdict {
            effective,
            decided_by,
            rule,
            tally,
            votes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vote(instance: &str, state: Observed) -> Vote {
        Vote {
            instance: instance.into(),
            state,
            since_unix_ms: 0,
            reason: None,
            rtt_ms: None,
        }
    }

    fn view(others: &[(&str, Observed)]) -> ClusterVotes {
        let votes = others.iter().map(|(i, s)| vote(i, *s)).collect();
        ClusterVotes {
            instance: "a".into(),
            min_voters: 2,
            votes: HashMap::from([(Arc::from("t/web"), votes)]),
            ..ClusterVotes::default()
        }
    }

    #[test]
    fn one_instance_seeing_down_does_not_take_it_down() {
        let v = view(&[("b", Observed::Up), ("c", Observed::Up)]);
        let verdict = v.verdict("t/web", vote("a", Observed::Down), None);
        assert_eq!(verdict.effective, Observed::Up);
        assert_eq!(verdict.decided_by, DecidedBy::Quorum);
        assert_eq!(verdict.tally, Tally { up: 2, down: 1 });
        assert_eq!(&*verdict.votes[0].instance, "a");
    }

    #[test]
    fn two_of_three_down_take_it_down_everywhere() {
        let v = view(&[("b", Observed::Down), ("c", Observed::Up)]);
        let verdict = v.verdict("t/web", vote("a", Observed::Down), None);
        assert_eq!(verdict.effective, Observed::Down);
        // The instance that still sees it up reaches the same verdict from the same votes.
        let mut from_c = view(&[("a", Observed::Down), ("b", Observed::Down)]);
        from_c.instance = "c".into();
        let verdict_c = from_c.verdict("t/web", vote("c", Observed::Up), None);
        assert_eq!(verdict_c.effective, Observed::Down);
    }

    #[test]
    fn own_votes_from_the_store_are_ignored() {
        // A stale copy of this instance's vote must not count twice.
        let v = view(&[("a", Observed::Down), ("b", Observed::Up)]);
        let verdict = v.verdict("t/web", vote("a", Observed::Up), None);
        assert_eq!(verdict.tally, Tally { up: 2, down: 0 });
    }

    #[test]
    fn unknown_votes_abstain_and_too_few_voters_decide_locally() {
        let v = view(&[("b", Observed::Unknown)]);
        let verdict = v.verdict("t/web", vote("a", Observed::Down), None);
        assert_eq!(verdict.effective, Observed::Down);
        assert_eq!(verdict.decided_by, DecidedBy::TooFewVoters);
    }

    #[test]
    fn stale_views_decide_locally_and_checks_may_name_their_rule() {
        let mut v = view(&[("b", Observed::Up), ("c", Observed::Up)]);
        let any = v.verdict("t/web", vote("a", Observed::Down), Some(QuorumRule::Any));
        assert_eq!(any.effective, Observed::Down);
        v.stale = true;
        let stale = v.verdict("t/web", vote("a", Observed::Down), None);
        assert_eq!(
            (stale.effective, stale.decided_by),
            (Observed::Down, DecidedBy::Stale)
        );
    }
}
