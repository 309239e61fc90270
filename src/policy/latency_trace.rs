//! The `latency` policy's trace events and how `meridian explain` prints them.

use std::fmt;
use std::sync::Arc;

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use crate::latency::aggregate::{Group, Level};

use super::rtt::{BASE_MS, FIBRE_KM_PER_MS, PATH_FACTOR, RttSource, Ties};

/// What a candidate's RTT is based on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Basis {
    Measured {
        samples: u32,
        age_secs: u64,
    },
    Estimated {
        distance_km: f64,
        effective_km: f64,
    },
    /// From measured neighbours: the group's residual added to this network's own
    /// great-circle prediction.
    Neighbours(Neighbours),
    Unknown,
}

/// What a neighbour estimate is made of.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Neighbours {
    pub(crate) level: Level,
    /// The group, as explain names it ("AS3320 in DE", "198.51.96.0/20").
    pub(crate) group: Group,
    pub(crate) networks: u32,
    pub(crate) samples: u32,
    pub(crate) age_secs: u64,
    pub(crate) residual_ms: f64,
    pub(crate) distance_km: f64,
}

/// How explain names a group.
pub(crate) struct GroupName(pub(crate) Group, pub(crate) Option<Arc<str>>);

impl fmt::Display for GroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let country = |c: &[u8; 2]| String::from_utf8_lossy(c).into_owned();
        match &self.0 {
            Group::AsnCountry(asn, c) => write!(f, "AS{asn} in {}", country(c)),
            Group::Prefix(true, len, bits) => {
                let addr = Ipv4Addr::from(u32::try_from(*bits).unwrap_or(0));
                write!(f, "{addr}/{len}")
            }
            Group::Prefix(false, len, bits) => {
                let addr = Ipv6Addr::from(u128::from(*bits) << 64);
                write!(f, "{addr}/{len}")
            }
            Group::Asn(asn) => write!(f, "AS{asn}"),
            Group::Subdivision(c, _) => {
                let sub = self.1.as_deref().unwrap_or("?");
                write!(f, "{sub} in {}", country(c))
            }
            Group::Country(c) => write!(f, "{}", country(c)),
        }
    }
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
        /// The client's subdivision (to name a subdivision group).
        subdivision: Option<Arc<str>>,
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
                subdivision,
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
                    (Some(ms), Basis::Neighbours(n)) => write!(
                        f,
                        "datacenter {name}: {ms:.1} ms estimated from {} measured network(s) of {} \
                         ({}; {} samples, age {} s): residual {:+.1} ms over {:.0} km great-circle{tie}",
                        n.networks,
                        GroupName(n.group, subdivision.clone()),
                        n.level,
                        n.samples,
                        n.age_secs,
                        n.residual_ms,
                        n.distance_km,
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
            LatencyEvent::Steered(level) => write!(
                f,
                "steered by RTT estimated from measured neighbours (level {level})"
            ),
        }
    }
}
