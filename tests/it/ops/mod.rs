//! Operations: the admin API against a stand-in control, the `/metrics` exposition, and the packaging files (Dockerfile, systemd unit, compose, dashboard).

mod admin;
mod console;
mod control;
mod diff;
mod metrics;
mod packaging;
