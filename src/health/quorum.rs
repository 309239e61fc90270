//! Quorum rules: how the votes of several instances on one target become its effective state (pure).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::state::Observed;

/// How votes become a verdict. Every instance applies the same rule to the same votes, so
/// every instance reaches the same verdict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum QuorumRule {
    /// Down only when a strict majority of the voters see it down (the default).
    #[default]
    Majority,
    /// Down only when every voter sees it down.
    All,
    /// Down as soon as any voter sees it down.
    Any,
    /// Up while more than this share of the voters see it up, in thousandths
    /// (Route 53 calls an endpoint healthy when more than 18 % of its checkers do: 180).
    UpFraction(u16),
}

/// Why the effective state is what it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DecidedBy {
    /// The votes met `min_voters`; the rule decided.
    Quorum,
    /// Fewer live voters than `min_voters`: the local view decides.
    TooFewVoters,
    /// The cluster store has been out of reach for longer than `stale_after`.
    Stale,
}

/// The tally of one target's votes (known verdicts of live instances only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Tally {
    pub(crate) up: usize,
    pub(crate) down: usize,
}

impl Tally {
    pub(crate) fn add(&mut self, vote: Observed) {
        match vote {
            Observed::Up => self.up += 1,
            Observed::Down => self.down += 1,
            Observed::Unknown => {}
        }
    }

    pub(crate) fn voters(&self) -> usize {
        self.up + self.down
    }
}

impl QuorumRule {
    /// The verdict of `tally` under this rule; `Unknown` when nobody voted.
    pub(crate) fn verdict(self, tally: Tally) -> Observed {
        let n = tally.voters();
        if n == 0 {
            return Observed::Unknown;
        }
        let down = match self {
            QuorumRule::Majority => tally.down * 2 > n,
            QuorumRule::All => tally.down == n,
            QuorumRule::Any => tally.down > 0,
            QuorumRule::UpFraction(permille) => tally.up * 1000 <= usize::from(permille) * n,
        };
        if down { Observed::Down } else { Observed::Up }
    }
}

/// The effective observed state of a target: the rule over the tally when at least
/// `min_voters` voted, otherwise the local verdict.
pub(crate) fn effective(
    rule: QuorumRule,
    tally: Tally,
    min_voters: usize,
    local: Observed,
) -> (Observed, DecidedBy) {
    if tally.voters() < min_voters.max(1) {
        return (local, DecidedBy::TooFewVoters);
    }
    (rule.verdict(tally), DecidedBy::Quorum)
}

impl fmt::Display for QuorumRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QuorumRule::Majority => f.write_str("majority"),
            QuorumRule::All => f.write_str("all"),
            QuorumRule::Any => f.write_str("any"),
            QuorumRule::UpFraction(p) => write!(f, "up_fraction>{}", f64::from(*p) / 1000.0),
        }
    }
}

impl Serialize for QuorumRule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The accepted spellings, for error messages.
pub(crate) const RULES: &str = "`majority`, `all`, `any` or `up_fraction>F` (0 <= F < 1)";

impl FromStr for QuorumRule {
    type Err = String;

    /// `majority`, `all`, `any`, or `up_fraction>0.18`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "majority" => Ok(QuorumRule::Majority),
            "all" => Ok(QuorumRule::All),
            "any" => Ok(QuorumRule::Any),
            other => other
                .strip_prefix("up_fraction>")
                .and_then(|f| f.trim().parse::<f64>().ok())
                .filter(|f| (0.0..1.0).contains(f))
                .map(|f| QuorumRule::UpFraction((f * 1000.0).round() as u16))
                .ok_or_else(|| format!("unknown quorum rule {s:?}: expected {RULES}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(up: usize, down: usize) -> Tally {
        Tally { up, down }
    }

    #[test]
    fn majority_needs_strictly_more_than_half_down() {
        let r = QuorumRule::Majority;
        assert_eq!(r.verdict(tally(2, 1)), Observed::Up);
        assert_eq!(r.verdict(tally(1, 2)), Observed::Down);
        assert_eq!(r.verdict(tally(1, 1)), Observed::Up, "a tie keeps it up");
        assert_eq!(r.verdict(tally(0, 1)), Observed::Down);
        assert_eq!(r.verdict(tally(0, 0)), Observed::Unknown);
    }

    #[test]
    fn all_and_any() {
        assert_eq!(QuorumRule::All.verdict(tally(1, 2)), Observed::Up);
        assert_eq!(QuorumRule::All.verdict(tally(0, 3)), Observed::Down);
        assert_eq!(QuorumRule::Any.verdict(tally(2, 1)), Observed::Down);
        assert_eq!(QuorumRule::Any.verdict(tally(3, 0)), Observed::Up);
    }

    #[test]
    fn up_fraction_is_strictly_greater() {
        let r: QuorumRule = "up_fraction>0.18".parse().unwrap();
        assert_eq!(r, QuorumRule::UpFraction(180));
        // 1 of 5 = 20 % > 18 %: up. 1 of 6 = 16.7 %: down.
        assert_eq!(r.verdict(tally(1, 4)), Observed::Up);
        assert_eq!(r.verdict(tally(1, 5)), Observed::Down);
        let half: QuorumRule = "up_fraction>0.5".parse().unwrap();
        assert_eq!(half.verdict(tally(1, 1)), Observed::Down);
        assert_eq!(half.to_string(), "up_fraction>0.5");
    }

    #[test]
    fn too_few_voters_fall_back_to_the_local_view() {
        let (o, by) = effective(QuorumRule::Majority, tally(0, 1), 2, Observed::Up);
        assert_eq!((o, by), (Observed::Up, DecidedBy::TooFewVoters));
        let (o, by) = effective(QuorumRule::Majority, tally(1, 2), 2, Observed::Up);
        assert_eq!((o, by), (Observed::Down, DecidedBy::Quorum));
    }

    #[test]
    fn parsing_rejects_nonsense() {
        for bad in [
            "",
            "most",
            "up_fraction>1",
            "up_fraction>-0.1",
            "up_fraction>x",
        ] {
            assert!(bad.parse::<QuorumRule>().is_err(), "{bad}");
        }
        for good in ["majority", "all", "any", " up_fraction>0 "] {
            assert!(good.parse::<QuorumRule>().is_ok(), "{good}");
        }
    }

    #[test]
    fn every_rule_is_deterministic_in_the_vote_order() {
        // The tally is order-free by construction; the same votes give the same verdict.
        for rule in [
            QuorumRule::Majority,
            QuorumRule::All,
            QuorumRule::Any,
            QuorumRule::UpFraction(180),
        ] {
            for up in 0..5 {
                for down in 0..5 {
                    let mut a = Tally::default();
                    let mut b = Tally::default();
                    let votes: Vec<Observed> = std::iter::repeat_n(Observed::Up, up)
                        .chain(std::iter::repeat_n(Observed::Down, down))
                        .collect();
                    for v in &votes {
                        a.add(*v);
                    }
                    for v in votes.iter().rev() {
                        b.add(*v);
                    }
                    assert_eq!(rule.verdict(a), rule.verdict(b));
                }
            }
        }
    }
}
