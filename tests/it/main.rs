//! The integration test harness: one binary whose modules each own an area, over one set of
//! helpers (`support`). Run one area with `cargo test --test it <module>`.

mod abuse;
mod admin_live;
mod cli;
mod cluster;
mod config_errors;
mod delegation;
mod dns_server;
mod dnssec;
mod fault_injection;
mod latency;
mod load;
mod ops;
mod reload_load;
mod steering;
mod support;
mod udp_mtu;
mod ui;
mod wire;
