//! Health subsystem: probes report outcomes, one tracker owns state, snapshots are published by swap.
//!
//! # Shape
//! The config compiler builds [`CheckSpec`]s and [`TargetSpec`]s (plain data). [`Health::start`]
//! spawns one tracker task (the only writer of health state), one probe task per distinct probe
//! (same probe address × same check content are probed once, whatever the number of services,
//! zones or check names sharing it), and a watcher for the override file. Probes only report
//! [`ProbeOutcome`]s; the tracker runs the pure rise/fall machine ([`state::step`]), applies
//! operator overrides and publishes an immutable [`HealthSnapshot`] (by `ArcSwap`, coalesced) that
//! the query path reads without locks, plus a [`HealthReport`] for status output.
//! [`Health::reconcile`] applies a reloaded target set: unchanged targets keep their state and
//! probe task, removed ones stop, new ones start; overrides survive.
//!
//! # Check keys (zone files)
//! Common to every check (defaults and ranges are the consts in [`check`]):
//!
//! | key        | default | range               | meaning |
//! |------------|---------|---------------------|---------|
//! | `type`     | —       | `http` `https` `tcp` | kind of probe |
//! | `port`     | 80 / 443 | 1–65535 (required for `tcp`) | port probed |
//! | `interval` | 10s     | 100ms–1h            | time between probe starts |
//! | `timeout`  | 3s      | 50ms–60s, ≤ interval | bound on one whole probe: connect, TLS, request, headers and body |
//! | `rise`     | 2       | 1–100               | consecutive successes that bring a down target up |
//! | `fall`     | 3       | 1–100               | consecutive failures that bring an up target down |
//! | `jitter`   | 1s      | 0–1h, ≤ interval    | first probe starts after a stable per-target delay in `[0, jitter]` |
//!
//! A target never probed is `unknown`, which counts as usable; its first result decides up or
//! down at once. After that, `rise`/`fall` apply.
//!
//! `http` and `https` (HTTP/1.1 via reqwest with rustls; redirects are not followed):
//!
//! | key             | default | meaning |
//! |-----------------|---------|---------|
//! | `method`        | `GET`   | `GET`, `HEAD`, `POST`, `OPTIONS` |
//! | `path`          | `/`     | request path and query, starts with `/` |
//! | `host`          | probe IP | `Host` header; also the TLS SNI name unless `sni` is set |
//! | `sni`           | `host`  | TLS server name (and certificate name) when it differs from `host` |
//! | `verify_tls`    | `true`  | `false` accepts any certificate (`https` only) |
//! | `expect_status` | `[200-299]` | list of codes and ranges, e.g. `[200, "300-399"]`, within 100–599 |
//! | `body_contains` | none    | substring the body must contain (not with `HEAD`) |
//! | `max_body`      | 65536   | 1–1048576; bytes read while looking for `body_contains` |
//! | `headers`       | none    | extra request headers, name → value |
//!
//! `tcp`: connect within the timeout; optionally `send` a string and `expect` a reply substring
//! within the first `max_reply` bytes (default 65536, 1–1048576).
//!
//! The probe address may differ from the answered member address (probe a health endpoint,
//! answer the VIP): the config passes an explicit [`TargetSpec::probe_addr`]. Targets are keyed
//! `address/check` (`192.0.2.10/web`); the snapshot is looked up by that key.
//!
//! Failure reasons: `timeout`, `refused`, `reset`, `status` (code), `body_mismatch`, `tls`
//! (message), `other` (message). Every transition is logged at info, e.g.
//! `target 192.0.2.10/web DOWN after 3 failures: timeout`.
//!
//! # Operator overrides
//! States: `UP` (answered whatever the probes say), `DOWN` (never answered), `DRAIN` (out of
//! answers while probing continues; the snapshot says `drained`). Selectors:
//! - `192.0.2.10/web` (or `target:192.0.2.10/web`): one target;
//! - `pool:NAME`: every target whose member is in the pool;
//! - `datacenter:NAME`: every target in the datacenter.
//!
//! When several overrides match a target, the most specific selector wins (target, then pool,
//! then datacenter), then an API override over a file override, then the most severe state
//! (`DOWN`, then `DRAIN`, then `UP`).
//!
//! The override file (`HealthConfig::override_file`) holds one `SELECTOR STATE` per line; `#`
//! starts a comment; states are case-insensitive; a selector may appear once:
//! ```text
//! # maintenance window, ticket 1234
//! 192.0.2.10/web      DOWN
//! pool:web-eu         DRAIN
//! datacenter:us-east  UP
//! ```
//! It is read at start (an unreadable or invalid file fails the start) and re-read every
//! `override_poll` (1s); a new valid content replaces all file overrides, an invalid one is
//! logged and the previous overrides stay; deleting the file clears them. The admin API uses
//! [`HealthHandle::force`] and [`HealthHandle::clear`]; API overrides are saved in the state file.
//!
//! # State file and warm start
//! With `HealthConfig::state_file`, the observed state of each target and the API overrides are
//! written as JSON (temporary file + rename) whenever they change, and read at start, so a
//! restart still treats a dead site as down until it has passed `rise` probes. Every target is
//! probed once before [`HealthHandle::ready`] turns true; then the tracker logs
//! `health: warm start complete, N targets, U up, D down`.

pub mod check;
pub(crate) mod event;
mod handle;
pub(crate) mod ledger;
pub(crate) mod override_file;
pub(crate) mod overrides;
pub(crate) mod persist;
pub(crate) mod probe;
pub(crate) mod quorum;
pub(crate) mod recent;
pub(crate) mod report;
pub(crate) mod scheduler;
pub(crate) mod snapshot;
pub(crate) mod state;
pub(crate) mod target;
pub(crate) mod tracker;
pub(crate) mod votes;

#[cfg(test)]
mod backend_fixtures;
#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod lifecycle_tests;
#[cfg(test)]
mod operator_tests;
#[cfg(test)]
mod probes_tests;

pub use check::{CheckSpec, HttpCheck, HttpMethod, StatusRange, TcpCheck};
pub(crate) use handle::ClusterLink;
pub use handle::{Health, HealthConfig, HealthError, HealthHandle};
pub(crate) use overrides::Forced;
pub use overrides::{Override, Selector};
pub use probe::{ProbeOutcome, ProbeSource, probe};
pub use quorum::QuorumRule;
pub use recent::RecentEvent;
pub use report::TargetStatus;
pub use scheduler::ReconcileReport;
pub use snapshot::{HealthSnapshot, Status, TargetHealth};
pub(crate) use votes::{ClusterOverride, ClusterVotes, Verdict, Vote, VoteUpdate};
