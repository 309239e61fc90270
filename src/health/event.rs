//! Health events worth an info log line: observed transitions, override changes, removals.

use std::fmt;
use std::sync::Arc;

use super::overrides::{ForcedBy, Source};
use super::probe::ProbeFailure;
use super::quorum::{DecidedBy, QuorumRule, Tally};
use super::snapshot::Status;
use super::state::{Observed, Transition};

/// Something worth an info log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    Observed {
        key: Arc<str>,
        transition: Transition,
        reason: Option<ProbeFailure>,
    },
    Forced {
        key: Arc<str>,
        status: Status,
        by: Option<ForcedBy>,
    },
    /// Cluster mode: the effective state changed (votes, members or the store's reachability).
    Verdict {
        key: Arc<str>,
        from: Observed,
        to: Observed,
        decided_by: DecidedBy,
        tally: Tally,
        rule: QuorumRule,
    },
    /// The target left the configuration (a reload removed it).
    Removed { key: Arc<str> },
}

pub(crate) fn status_word(status: Status) -> &'static str {
    match status {
        Status::Unknown => "UNKNOWN",
        Status::Up => "UP",
        Status::Down => "DOWN",
        Status::Drained => "DRAINED",
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Observed {
                key,
                transition: t,
                reason,
            } => {
                let word = if t.to == Observed::Up { "UP" } else { "DOWN" };
                let (noun, plural) = if t.to == Observed::Up {
                    ("success", "successes")
                } else {
                    ("failure", "failures")
                };
                write!(f, "target {key} {word} after ")?;
                match (t.from, t.after) {
                    (Observed::Unknown, _) => f.write_str("first probe")?,
                    (_, 1) => write!(f, "1 {noun}")?,
                    (_, n) => write!(f, "{n} {plural}")?,
                }
                match reason {
                    Some(reason) if t.to == Observed::Down => write!(f, ": {reason}"),
                    _ => Ok(()),
                }
            }
            Event::Forced {
                key,
                status,
                by: Some(by),
            } => {
                let source = match by.source {
                    Source::Api => "api",
                    Source::File => "override file",
                    Source::Cluster => "cluster",
                };
                write!(
                    f,
                    "target {key} forced {} by {} ({source}), now {}",
                    by.state,
                    by.selector,
                    status_word(*status)
                )
            }
            Event::Verdict {
                key,
                from,
                to,
                decided_by,
                tally,
                rule,
            } => {
                let (to, from) = (to.as_str(), from.as_str());
                write!(
                    f,
                    "target {key} {} (was {}): ",
                    to.to_ascii_uppercase(),
                    from.to_ascii_uppercase()
                )?;
                let votes = format!("{} up, {} down", tally.up, tally.down);
                match decided_by {
                    DecidedBy::Quorum => write!(f, "cluster {rule} of {votes}"),
                    DecidedBy::TooFewVoters => write!(f, "local view, too few voters ({votes})"),
                    DecidedBy::Stale => f.write_str("local view, cluster store out of reach"),
                }
            }
            Event::Removed { key } => write!(f, "target {key} removed from the configuration"),
            Event::Forced {
                key,
                status,
                by: None,
            } => {
                write!(
                    f,
                    "target {key} override cleared, now {}",
                    status_word(*status)
                )
            }
        }
    }
}
