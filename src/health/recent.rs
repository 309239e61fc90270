//! The recent health events (transitions, overrides, verdicts, removals) kept for the console and `/v1/health`.

use std::collections::VecDeque;
use std::sync::Arc;

use serde::Serialize;

use super::event::Event;

/// Events kept; older ones are dropped first.
pub(crate) const KEPT: usize = 100;

/// One event as `/v1/health` lists it under `recent`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecentEvent {
    /// When the tracker applied it (Unix milliseconds).
    pub at_unix_ms: u64,
    /// The target (`ADDRESS/CHECK`).
    pub target: String,
    /// The state before, when the event is a change of state (`unknown`, `up`, `down`).
    pub from: Option<&'static str>,
    /// The state after: `up`, `down`, `unknown`, `drained`, or `removed`.
    pub to: &'static str,
    /// The log line: why (the probe failure, the override and who set it, the votes).
    pub reason: String,
}

impl RecentEvent {
    pub(crate) fn new(event: &Event, at_unix_ms: u64) -> Self {
        let (key, from, to): (&Arc<str>, Option<&'static str>, &'static str) = match event {
            Event::Observed {
                key, transition, ..
            } => (key, Some(transition.from.as_str()), transition.to.as_str()),
            Event::Forced { key, status, .. } => (key, None, status.as_str()),
            Event::Verdict { key, from, to, .. } => (key, Some(from.as_str()), to.as_str()),
            Event::Removed { key } => (key, None, "removed"),
        };
        Self {
            at_unix_ms,
            target: key.to_string(),
            from,
            to,
            reason: event.to_string(),
        }
    }
}

/// The last [`KEPT`] events, newest first when listed.
#[derive(Debug, Default)]
pub(crate) struct Recent {
    events: VecDeque<RecentEvent>,
}

impl Recent {
    pub(crate) fn push(&mut self, event: RecentEvent) {
        if self.events.len() == KEPT {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    /// Newest first.
    pub(crate) fn list(&self) -> Vec<RecentEvent> {
        self.events.iter().rev().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::snapshot::Status;
    use crate::health::state::{Observed, Transition};

    fn down(key: &str) -> Event {
        Event::Observed {
            key: Arc::from(key),
            transition: Transition {
                from: Observed::Up,
                to: Observed::Down,
                after: 2,
            },
            reason: None,
        }
    }

    #[test]
    fn keeps_the_newest_events_newest_first() {
        let mut r = Recent::default();
        for i in 0..(KEPT as u64 + 5) {
            r.push(RecentEvent::new(&down(&format!("192.0.2.{i}/web")), i));
        }
        let list = r.list();
        assert_eq!(list.len(), KEPT);
        assert_eq!(list[0].at_unix_ms, KEPT as u64 + 4);
        assert_eq!(list[KEPT - 1].at_unix_ms, 5);
        assert_eq!((list[0].from, list[0].to), (Some("up"), "down"));
        assert!(
            list[0].reason.contains("DOWN after 2 failures"),
            "{}",
            list[0].reason
        );
    }

    #[test]
    fn removals_and_overrides_name_the_state_after() {
        let removed = RecentEvent::new(
            &Event::Removed {
                key: Arc::from("192.0.2.1/web"),
            },
            0,
        );
        assert_eq!((removed.from, removed.to), (None, "removed"));
        let cleared = Event::Forced {
            key: Arc::from("192.0.2.1/web"),
            status: Status::Up,
            by: None,
        };
        let cleared = RecentEvent::new(&cleared, 0);
        assert_eq!((cleared.from, cleared.to), (None, "up"));
        assert!(cleared.reason.contains("override cleared"));
    }
}
