//! Load-aware steering: members and datacenters report their load (probe replies, the admin
//! API, Prometheus); the feed turns it into shed shares and publishes a [`LoadSnapshot`].
//!
//! `share.rs` (the control rule), `snapshot.rs` (what the query path reads) and `read.rs`
//! (reading a probe reply) are pure and sit below `policy`; the feed and the Prometheus
//! poller record metrics and sit beside `health`.

pub(crate) mod feed;
pub(crate) mod handle;
pub(crate) mod peer;
pub(crate) mod prometheus;
pub(crate) mod read;
pub(crate) mod share;
pub(crate) mod snapshot;

#[cfg(test)]
mod simulation_tests;

pub use handle::{LoadHandle, LoadView};
pub use peer::Observation;
pub use read::{LoadRead, LoadReading, ReadError, Sample};
pub use share::{Control, Watermarks};
pub use snapshot::{Entry, LoadSnapshot, Source, unix_ms};
