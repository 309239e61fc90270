//! Fault injection against the running server: misbehaving probe targets, a corrupt GeoIP file, broken zone files on reload, an unwritable health state file; plus regressions found by fuzzing. Each fault: DNS keeps answering, the fault is reported, removing it recovers.

mod support;

#[path = "fault_injection/backends.rs"]
mod backends;
#[path = "fault_injection/geoip_faults.rs"]
mod geoip_faults;
#[path = "fault_injection/harness.rs"]
mod harness;
#[path = "fault_injection/probe_faults.rs"]
mod probe_faults;
#[path = "fault_injection/regressions.rs"]
mod regressions;
#[path = "fault_injection/state_file_faults.rs"]
mod state_file_faults;
#[path = "fault_injection/zone_faults.rs"]
mod zone_faults;
