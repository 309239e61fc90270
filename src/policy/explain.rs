//! The decision trace `meridian explain` prints: structured events with a readable `Display`.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use crate::geo::Location;

use super::eligibility::Pass;
use super::geo_map::GeoKey;
use super::model::Answer;
use super::query::{Client, Outcome, Want};
use super::service::PolicyKind;

/// Everything one evaluation looked at, in order. Filled only when passed to `evaluate_with`.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    pub(crate) events: Vec<Event>,
}

impl Trace {
    pub(crate) fn new() -> Self {
        Self::default()
    }
}

/// One step of an evaluation.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Event {
    Query {
        service: Arc<str>,
        policy: PolicyKind,
        want: Want,
        client: Client,
    },
    /// A fixed remark (why a step was skipped, ...).
    Note(&'static str),
    /// The GeoIP lookup result (`None`: the address is not in the database).
    Located(Option<Location>),
    /// The geo map entry that matched and its pool list.
    Matched {
        key: GeoKey,
        pools: Vec<Arc<str>>,
    },
    /// A datacenter in `nearest` rank order (`None`: members without a datacenter).
    Ranked {
        datacenter: Option<Arc<str>>,
        distance_km: Option<f64>,
        effective_km: Option<f64>,
    },
    /// A candidate pool (restricted to one datacenter for `nearest`) and whether it is up.
    Pool {
        pool: Arc<str>,
        datacenter: Option<Arc<str>>,
        usable: u32,
        total: u32,
        required: u32,
        pass: Pass,
        up: bool,
    },
    /// `weighted` by pool drew this pool.
    DrawnPool {
        pool: Arc<str>,
        reason: PickReason,
    },
    Picked {
        answer: Answer,
        reason: PickReason,
    },
    /// No candidate was up; the service's `all_down` action applies.
    AllDown {
        action: &'static str,
    },
    /// A client-location input the answer depends on, and the prefix length it needs.
    ScopeInput {
        input: ScopeInput,
        bits: u8,
    },
    Scope {
        needed: u8,
        source_prefix: u8,
        scope: u8,
    },
    Decided {
        outcome: Outcome,
        answers: usize,
        ttl: u32,
    },
    /// A step of the `latency` policy (network, RTTs, ties, source).
    Latency(super::latency::LatencyEvent),
    /// A member's or datacenter's load and whether it sheds this client.
    Load(super::load_view::LoadNote),
}

/// Why a member or pool was picked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum PickReason {
    /// Weighted random draw: this weight out of the remaining total.
    Weighted { weight: u32, total: u64 },
    /// Highest weighted rendezvous score for the client subnet.
    Hash {
        subnet: IpAddr,
        prefix: u8,
        weight: u32,
    },
    /// `all` selection (order shuffled).
    All,
    /// The service's static fallback set.
    Fallback,
}

/// What the ECS scope had to cover.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ScopeInput {
    /// The client subnet hashed for a sticky draw.
    HashedSubnet,
    /// The matched CIDR entry, narrowed to exclude more specific entries near the client.
    CidrEntry,
    /// No CIDR entry matched; the scope excludes the nearest entries.
    CidrNeighbours,
    /// The GeoIP database network containing the client.
    GeoDatabase,
    /// The client is not in the GeoIP database, so its whole source prefix is relied on.
    Unlocated,
    /// The latency table's client network (its measurements, or a hash of it for ties).
    LatencyNetwork,
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for event in &self.events {
            writeln!(f, "{event}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Query {
                service,
                policy,
                want,
                client,
            } => {
                let via = if client.from_ecs { "ECS" } else { "source" };
                write!(
                    f,
                    "query {service} {want} from {}/{} ({via}), policy {policy}",
                    client.addr, client.source_prefix
                )
            }
            Event::Note(text) => write!(f, "note: {text}"),
            Event::Located(None) => write!(f, "location: not in the GeoIP database"),
            Event::Located(Some(loc)) => write_location(f, loc),
            Event::Matched { key, pools } => {
                write!(f, "matched {key} -> pools [{}]", pools.join(", "))
            }
            Event::Ranked {
                datacenter,
                distance_km,
                effective_km,
            } => {
                let name = datacenter.as_deref().unwrap_or("(no datacenter)");
                match (distance_km, effective_km) {
                    (Some(d), Some(e)) => {
                        write!(f, "datacenter {name}: {d:.0} km (biased {e:.0} km)")
                    }
                    _ => write!(f, "datacenter {name}: distance unknown"),
                }
            }
            Event::Pool {
                pool,
                datacenter,
                usable,
                total,
                required,
                pass,
                up,
            } => {
                let at = datacenter
                    .as_deref()
                    .map(|d| format!(" in {d}"))
                    .unwrap_or_default();
                let verdict = match (up, total) {
                    (true, _) => "up",
                    (false, 0) => "no members of the queried family",
                    (false, _) => "down",
                };
                write!(
                    f,
                    "pool {pool}{at}: {usable}/{total} usable, needs {required} ({pass:?} pass) -> {verdict}"
                )
            }
            Event::DrawnPool { pool, reason } => write!(f, "drew pool {pool}: {reason}"),
            Event::Picked { answer, reason } => write!(f, "picked {answer}: {reason}"),
            Event::AllDown { action } => write!(f, "no candidate pool is up: all_down = {action}"),
            Event::ScopeInput { input, bits } => write!(f, "scope needs /{bits}: {input}"),
            Event::Scope {
                needed,
                source_prefix,
                scope,
            } => write!(
                f,
                "ECS scope /{scope} (needed /{needed}, source prefix /{source_prefix})"
            ),
            Event::Decided {
                outcome,
                answers,
                ttl,
            } => write!(f, "decision {outcome:?}: {answers} answer(s), ttl {ttl}"),
            Event::Latency(event) => write!(f, "{event}"),
            Event::Load(note) => write!(f, "{note}"),
        }
    }
}

fn write_location(f: &mut fmt::Formatter<'_>, loc: &Location) -> fmt::Result {
    write!(f, "location:")?;
    if let Some(c) = loc.country {
        write!(f, " country {}", String::from_utf8_lossy(&c))?;
    }
    if let Some(c) = loc.continent {
        write!(f, " continent {c:?}")?;
    }
    if let Some(s) = &loc.subdivision {
        write!(f, " subdivision {s}")?;
    }
    if let Some((lat, lon)) = loc.coordinates {
        write!(f, " coordinates {lat:.2},{lon:.2}")?;
    }
    if let Some(asn) = loc.asn {
        write!(f, " AS{asn}")?;
    }
    write!(f, " (database network /{})", loc.prefix_len)
}

impl fmt::Display for ScopeInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ScopeInput::HashedSubnet => "the hashed client subnet",
            ScopeInput::CidrEntry => "the matched CIDR entry, minus more specific entries nearby",
            ScopeInput::CidrNeighbours => "no CIDR entry matched; the nearest entries are excluded",
            ScopeInput::GeoDatabase => "the GeoIP database network",
            ScopeInput::Unlocated => "the client is not in the GeoIP database",
            ScopeInput::LatencyNetwork => "the latency table's client network",
        })
    }
}

impl fmt::Display for PickReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PickReason::Weighted { weight, total } => {
                write!(f, "weighted draw, weight {weight} of {total}")
            }
            PickReason::Hash {
                subnet,
                prefix,
                weight,
            } => write!(f, "rendezvous hash of {subnet}/{prefix}, weight {weight}"),
            PickReason::All => write!(f, "all usable members"),
            PickReason::Fallback => write!(f, "static fallback"),
        }
    }
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Addr(a) => write!(f, "{a}"),
            Answer::Name(n) => write!(f, "{n}"),
        }
    }
}
