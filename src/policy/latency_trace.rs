//! The `latency` policy's trace events and how `meridian explain` prints them.

use std::fmt;
use std::sync::Arc;

use ipnet::IpNet;

use super::rtt::{BASE_MS, FIBRE_KM_PER_MS, PATH_FACTOR, RttSource, Ties};

/// What a candidate's RTT is based on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Basis {
    Measured { samples: u32, age_secs: u64 },
    Estimated { distance_km: f64, effective_km: f64 },
    Unknown,
}

/// Trace events of the `latency` policy.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum LatencyEvent {
    Network {
        network: IpNet,
        measured: usize,
    },
    Datacenter {
        name: Option<Arc<str>>,
        rtt_ms: Option<f64>,
        basis: Basis,
        tied: bool,
    },
    Tolerance {
        best_ms: f64,
        within_ms: f64,
        tied: usize,
        ties: Ties,
    },
    Steered(RttSource),
}

impl fmt::Display for LatencyEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LatencyEvent::Network { network, measured } => write!(
                f,
                "latency: client network {network}, {measured} datacenter(s) measured"
            ),
            LatencyEvent::Tolerance {
                best_ms,
                within_ms,
                tied,
                ties,
            } => {
                let by = match ties {
                    Ties::Hash => "a hash of the client network",
                    Ties::Order => "configuration order",
                };
                write!(
                    f,
                    "best RTT {best_ms:.1} ms, tolerance {within_ms:.1} ms: {tied} datacenter(s) tie for best"
                )?;
                if *tied > 1 {
                    write!(f, ", ordered by {by}")?;
                }
                Ok(())
            }
            LatencyEvent::Datacenter {
                name,
                rtt_ms,
                basis,
                tied,
            } => {
                let name = name.as_deref().unwrap_or("(no datacenter)");
                let tie = if *tied { " [tie]" } else { "" };
                match (rtt_ms, basis) {
                    (Some(ms), Basis::Measured { samples, age_secs }) => write!(
                        f,
                        "datacenter {name}: {ms:.1} ms measured ({samples} samples, age {age_secs} s){tie}"
                    ),
                    (
                        Some(ms),
                        Basis::Estimated {
                            distance_km,
                            effective_km,
                        },
                    ) => write!(
                        f,
                        "datacenter {name}: {ms:.1} ms estimated from {distance_km:.0} km (biased {effective_km:.0} km){tie}"
                    ),
                    _ => write!(f, "datacenter {name}: RTT unknown"),
                }
            }
            LatencyEvent::Steered(RttSource::Measured) => {
                write!(f, "steered by measured RTT")
            }
            LatencyEvent::Steered(RttSource::Estimated) => write!(
                f,
                "steered by estimated RTT (no measurement for this network and datacenter; \
                 fallback 2 x km / {FIBRE_KM_PER_MS} km/ms x {PATH_FACTOR} + {BASE_MS} ms)"
            ),
        }
    }
}
