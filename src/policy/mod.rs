//! Traffic steering policies: pure functions from a service, a client and snapshots to a decision.

/// Placeholder until the policy model lands.
#[derive(Debug)]
pub struct Service;
