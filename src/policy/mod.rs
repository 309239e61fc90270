//! Traffic steering policies: pure functions from a service, a client and snapshots to a decision.
