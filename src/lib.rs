//! Meridian: an authoritative DNS server that steers clients to datacenters.
//!
//! Modules:
//! - `config`: server settings and zone policy files (serde mirror, then compile collecting every error).
//! - `zone`: compiled zones and the pure name lookup (longest-suffix zone match, wildcards, delegations).
//! - `policy`: pure steering policies (failover, weighted, geo, nearest, latency) producing a decision.
//! - `health`: probes, the single tracker that owns rise/fall, and the published snapshot.
//! - `latency`: measured client-network RTT per datacenter (the table, its writer, the
//!   busiest networks) and `agent`: the `meridian agent` mode that measures it.
//! - `geo`: client location through the `Locate` seam and the MaxMind-format reader.
//! - `dns`: wire parsing, the synchronous `resolve()`, response encoding and the socket loops.
//! - `cluster`: cluster mode over etcd (health votes decided by quorum, shared overrides).
//! - `app`, `cli`, `signals`: wiring, the command line and process signals.
//!
//! Flow of one query: socket → `dns::handler` decodes → client = ECS address (truncated to its
//! source prefix) or packet source → load the zone, health and geo snapshots once →
//! `dns::resolve` (zone lookup → REFUSED | NXDOMAIN | NODATA | static | service → policy) →
//! `dns::response` encodes with AA, SOA for negatives, the ECS scope and the size cap.

#![warn(unreachable_pub)]

pub mod admin;
pub mod agent;
pub mod app;
pub mod cli;
mod closed_set;
pub mod cluster;
pub mod config;
pub mod dns;
pub mod dnssec;
pub mod geo;
pub mod hash;
pub mod health;
pub mod latency;
pub mod metrics;
pub mod policy;
pub mod signals;
pub mod zone;
