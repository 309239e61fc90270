//! Fault injection against the running server: misbehaving probe targets, a corrupt GeoIP file, broken zone files on reload, an unwritable health state file; plus regressions found by fuzzing. Each fault: DNS keeps answering, the fault is reported, removing it recovers.

mod backends;
mod geoip_faults;
mod harness;
mod probe_faults;
mod regressions;
mod state_file_faults;
mod zone_faults;
