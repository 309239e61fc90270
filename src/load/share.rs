//! The pure load control rule: watermarks turn a utilisation into a shed share, with
//! hysteresis and a hold time so moving traffic away cannot make the share oscillate.
//!
//! Control rule (one step per new load value, and on every publish tick):
//! - utilisation `u` = 100 × load / `capacity` (percent of capacity);
//! - target `t(u)` = 0 below `shed_start`, 1 at or above `shed_full`, linear in between;
//! - **raise at once**: when `t(u)` exceeds the current share, the share becomes `t(u)`
//!   (shedding never waits: it protects the site);
//! - **hold**: while `u` stays at or above `shed_start − hysteresis` the share never falls,
//!   even when `t(u)` is lower (the load fell *because* clients were moved);
//! - **release in steps**: once `u < shed_start − hysteresis` and at least `hold` has passed
//!   since the share last changed, the share falls by `release_step`, but never below the
//!   share that would bring the load to the middle of the band: with demand estimated as
//!   `u / (1 − share)`, that is `1 − (shed_start − hysteresis/2) / demand`.
//!
//! So an overloaded site sheds at once, then brings its clients back one step per hold time
//! until its load sits just under `shed_start`: the loop settles in the band
//! `[shed_start − hysteresis, shed_start]` without crossing back and forth. `hold` should
//! exceed the answer TTL plus the report interval, so a step's effect is measured before the
//! next one.

use std::time::Duration;

/// Defaults of the control rule (documented in README "Load-aware steering").
pub(crate) const DEFAULT_CAPACITY: f64 = 100.0;
pub(crate) const DEFAULT_SHED_START: f64 = 80.0;
pub(crate) const DEFAULT_SHED_FULL: f64 = 95.0;

/// A member's or datacenter's capacity and watermarks (percent of capacity).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Watermarks {
    /// The load value that is 100 % (in the reporter's unit: requests/s, connections, %).
    pub capacity: f64,
    /// Utilisation (percent of capacity) where shedding starts.
    pub shed_start: f64,
    /// Utilisation where every client is shed.
    pub shed_full: f64,
}

// Compiled watermarks are finite (the config checks them), so bitwise equality is equality.
impl Eq for Watermarks {}

impl std::hash::Hash for Watermarks {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        for v in [self.capacity, self.shed_start, self.shed_full] {
            v.to_bits().hash(h);
        }
    }
}

impl Default for Watermarks {
    fn default() -> Self {
        Self {
            capacity: DEFAULT_CAPACITY,
            shed_start: DEFAULT_SHED_START,
            shed_full: DEFAULT_SHED_FULL,
        }
    }
}

impl Watermarks {
    /// Load as percent of capacity.
    pub(crate) fn utilisation(&self, load: f64) -> f64 {
        100.0 * load / self.capacity
    }

    /// The share the watermarks ask for at utilisation `u`: 0..=1, linear between them.
    pub(crate) fn target(&self, u: f64) -> f64 {
        if u >= self.shed_full {
            1.0
        } else if u <= self.shed_start {
            0.0
        } else {
            (u - self.shed_start) / (self.shed_full - self.shed_start)
        }
    }
}

/// A datacenter as the load feed knows it (every datacenter of every zone).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct DatacenterLoad {
    /// The datacenter name.
    pub(crate) name: std::sync::Arc<str>,
    /// Its capacity and watermarks; `None`: the defaults.
    pub(crate) watermarks: Option<Watermarks>,
    /// A PromQL query giving its load.
    pub(crate) query: Option<std::sync::Arc<str>>,
}

/// The anti-oscillation settings (server `[load]` section).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Control {
    /// Percentage points of capacity below `shed_start` that release requires.
    pub hysteresis: f64,
    /// Least time between a change of the share and a release step.
    pub hold: Duration,
    /// Share of clients brought back per release step (0 < step ≤ 1).
    pub release_step: f64,
}

impl Default for Control {
    fn default() -> Self {
        Self {
            hysteresis: 5.0,
            hold: Duration::from_secs(30),
            release_step: 0.1,
        }
    }
}

/// The share shed by one member or datacenter and when it last changed.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct ShedState {
    /// Share of clients sent elsewhere, 0..=1.
    pub(crate) share: f64,
    /// When `share` last changed (any monotonic clock, milliseconds).
    pub(crate) changed_ms: u64,
}

/// One step of the control rule at utilisation `u` and time `now_ms`.
pub(crate) fn step(
    ctl: &Control,
    wm: &Watermarks,
    state: ShedState,
    u: f64,
    now_ms: u64,
) -> ShedState {
    let target = wm.target(u);
    if target > state.share {
        return ShedState {
            share: target,
            changed_ms: now_ms,
        };
    }
    let held = now_ms.saturating_sub(state.changed_ms) >= ctl.hold.as_millis() as u64;
    if state.share > 0.0 && u < wm.shed_start - ctl.hysteresis && held {
        // Never release below the share that would put the load back in the middle of
        // the band, estimating the demand as the load over the share kept.
        let floor = if state.share < 1.0 && u > 0.0 {
            let demand = u / (1.0 - state.share);
            (1.0 - (wm.shed_start - ctl.hysteresis / 2.0) / demand).max(0.0)
        } else {
            0.0
        };
        let share = (state.share - ctl.release_step).max(floor).max(target);
        // Float steps must reach 0 exactly.
        let share = if share < 1e-9 { 0.0 } else { share };
        return ShedState {
            share,
            changed_ms: now_ms,
        };
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctl(hold_ms: u64) -> Control {
        Control {
            hysteresis: 5.0,
            hold: Duration::from_millis(hold_ms),
            release_step: 0.25,
        }
    }

    #[test]
    fn target_is_linear_between_the_watermarks() {
        let wm = Watermarks::default();
        assert_eq!(wm.target(10.0), 0.0);
        assert_eq!(wm.target(80.0), 0.0);
        assert!((wm.target(87.5) - 0.5).abs() < 1e-12);
        assert_eq!(wm.target(95.0), 1.0);
        assert_eq!(wm.target(400.0), 1.0);
        let rps = Watermarks {
            capacity: 2000.0,
            ..Watermarks::default()
        };
        assert_eq!(rps.utilisation(1750.0), 87.5);
    }

    #[test]
    fn shedding_rises_at_once_and_holds_while_the_load_is_near_start() {
        let (c, wm) = (ctl(1000), Watermarks::default());
        let s = step(&c, &wm, ShedState::default(), 87.5, 0);
        assert!((s.share - 0.5).abs() < 1e-12);
        // Moving clients lowered the load to 79: inside the hysteresis band, so it holds.
        let held = step(&c, &wm, s, 79.0, 60_000);
        assert_eq!(held, s);
        // Higher load raises again at once, whatever the hold.
        let up = step(&c, &wm, s, 95.0, 10);
        assert_eq!(up.share, 1.0);
    }

    #[test]
    fn release_waits_for_the_hold_and_goes_in_steps() {
        let (c, wm) = (ctl(1000), Watermarks::default());
        let full = step(&c, &wm, ShedState::default(), 120.0, 0);
        assert_eq!(full.share, 1.0);
        assert_eq!(step(&c, &wm, full, 10.0, 999), full, "hold not over");
        let s1 = step(&c, &wm, full, 10.0, 1000);
        assert_eq!((s1.share, s1.changed_ms), (0.75, 1000));
        assert_eq!(step(&c, &wm, s1, 10.0, 1500), s1);
        let mut s = s1;
        for t in [2000, 3000, 4000] {
            s = step(&c, &wm, s, 10.0, t);
        }
        assert_eq!(s.share, 0.0);
        assert_eq!(step(&c, &wm, s, 10.0, 9000), s, "nothing to release");
    }
}
