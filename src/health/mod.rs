//! Health subsystem: probes report outcomes, one tracker owns state, snapshots are published by swap.

pub mod snapshot;

pub use snapshot::{HealthSnapshot, Status, TargetHealth};
