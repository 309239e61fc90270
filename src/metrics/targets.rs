//! Per-target health series: state and forced gauges, and leaving the series of targets a reload removed out of the rendered text.

use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard, PoisonError};

use metrics::gauge;

use super::{PrometheusHandle, TARGET_FORCED, TARGET_STATE};
use crate::health::Status;

const STATES: [Status; 4] = [Status::Unknown, Status::Up, Status::Down, Status::Drained];

/// Publish a target's current state (call whenever the tracker publishes it).
pub fn target_state(target: &str, status: Status, forced: bool) {
    {
        let mut removed = removed_targets();
        if !removed.is_empty() {
            removed.remove(target);
        }
    }
    for s in STATES {
        let value = if s == status { 1.0 } else { 0.0 };
        gauge!(TARGET_STATE, "target" => target.to_string(), "state" => s.as_str()).set(value);
    }
    gauge!(TARGET_FORCED, "target" => target.to_string()).set(if forced { 1.0 } else { 0.0 });
}

/// A target left the configuration: its state and forced series are left out of
/// [`render`] until [`target_state`] publishes the target again. (The recorder cannot
/// delete a series; its gauges also drop to 0.)
pub fn target_removed(target: &str) {
    for s in STATES {
        gauge!(TARGET_STATE, "target" => target.to_string(), "state" => s.as_str()).set(0.0);
    }
    gauge!(TARGET_FORCED, "target" => target.to_string()).set(0.0);
    removed_targets().insert(target.to_string());
}

/// Targets removed by a reload and not configured again since.
static REMOVED_TARGETS: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

fn removed_targets() -> MutexGuard<'static, BTreeSet<String>> {
    REMOVED_TARGETS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// The text `GET /metrics` serves: the recorder's, without the state series of targets
/// that left the configuration.
pub(crate) fn render(handle: &PrometheusHandle) -> String {
    let text = handle.render();
    let removed = removed_targets();
    if removed.is_empty() {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let gone = target_label(line).is_some_and(|t| removed.contains(&unescape(t)));
        if !gone {
            out.push_str(line);
        }
    }
    out
}

/// The raw `target` label value of a [`TARGET_STATE`] or [`TARGET_FORCED`] sample line.
fn target_label(line: &str) -> Option<&str> {
    let rest = line
        .strip_prefix(TARGET_STATE)
        .or_else(|| line.strip_prefix(TARGET_FORCED))?
        .strip_prefix("{target=\"")?;
    let mut escaped = false;
    for (i, c) in rest.char_indices() {
        match c {
            '"' if !escaped => return Some(&rest[..i]),
            '\\' if !escaped => escaped = true,
            _ => escaped = false,
        }
    }
    None
}

/// A Prometheus label value as written (`\\`, `\"` and `\n` escaped) back to text.
fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}
