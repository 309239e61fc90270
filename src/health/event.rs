//! Health events worth an info log line: observed transitions, override changes, removals.

use std::fmt;
use std::sync::Arc;

use super::overrides::{ForcedBy, Source};
use super::probe::ProbeFailure;
use super::snapshot::Status;
use super::state::{Observed, Transition};

/// Something worth an info log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
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
    /// The target left the configuration (a reload removed it).
    Removed { key: Arc<str> },
}

pub fn status_word(status: Status) -> &'static str {
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
                let source = if by.source == Source::Api {
                    "api"
                } else {
                    "override file"
                };
                write!(
                    f,
                    "target {key} forced {} by {} ({source}), now {}",
                    by.state,
                    by.selector,
                    status_word(*status)
                )
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
