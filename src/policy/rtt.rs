//! The `latency` policy's settings and vocabulary: the RTT estimate from distance, how ties
//! are ordered, where an RTT came from, and the latency table a query reads.

use crate::latency::LatencyTable;
use crate::latency::aggregate::Level;

use super::model::PoolId;

/// Speed of light in fibre, km per millisecond (one way).
pub(crate) const FIBRE_KM_PER_MS: f64 = 200.0;
/// How much longer real paths are than the great circle.
pub(crate) const PATH_FACTOR: f64 = 1.5;
/// Fixed overhead added to every estimate (last mile, queueing), ms.
pub(crate) const BASE_MS: f64 = 5.0;

/// The RTT estimate used where nothing is measured:
/// `2 × distance_km / 200 km/ms × 1.5 + 5 ms` (about 1.5 ms per 100 km, plus 5 ms).
pub(crate) fn estimate_rtt_ms(distance_km: f64) -> f64 {
    2.0 * distance_km / FIBRE_KM_PER_MS * PATH_FACTOR + BASE_MS
}

/// How near-ties are ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Ties {
    /// By a hash of the client network and the datacenter: spread and sticky.
    #[default]
    Hash,
    /// By the order datacenters first appear in the listed pools.
    Order,
}

/// The `latency` policy's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct LatencyPolicy {
    pub(crate) pools: Vec<PoolId>,
    /// Absolute tolerance in ms (default 5).
    pub(crate) tolerance_ms: f64,
    /// Relative tolerance in percent of the best RTT (default 10).
    pub(crate) tolerance_percent: f64,
    pub(crate) ties: Ties,
    /// Measurements with fewer samples are not used (default 1).
    pub(crate) min_samples: u32,
}

impl LatencyPolicy {
    pub(crate) const DEFAULT_TOLERANCE_MS: f64 = 5.0;
    pub(crate) const DEFAULT_TOLERANCE_PERCENT: f64 = 10.0;

    pub(crate) fn new(pools: Vec<PoolId>) -> Self {
        Self {
            pools,
            tolerance_ms: Self::DEFAULT_TOLERANCE_MS,
            tolerance_percent: Self::DEFAULT_TOLERANCE_PERCENT,
            ties: Ties::Hash,
            min_samples: 1,
        }
    }
}

crate::closed_set::closed_set! {
    /// Where the RTT that chose the answering datacenter came from: the network's own
    /// measurement, a neighbour aggregate (by level), or great-circle distance
    /// (`estimated`, the name it had before neighbour estimates).
    pub(crate) enum RttSource {
        Measured => "measured",
        AsnCountry => "asn_country",
        PrefixNarrow => "prefix_narrow",
        PrefixWide => "prefix_wide",
        Asn => "asn",
        Subdivision => "subdivision",
        Country => "country",
        Estimated => "estimated",
    }
}

impl From<Level> for RttSource {
    fn from(level: Level) -> Self {
        match level {
            Level::AsnCountry => Self::AsnCountry,
            Level::PrefixNarrow => Self::PrefixNarrow,
            Level::PrefixWide => Self::PrefixWide,
            Level::Asn => Self::Asn,
            Level::Subdivision => Self::Subdivision,
            Level::Country => Self::Country,
        }
    }
}

/// The latency snapshot a query reads, with the time (Unix seconds) it is read at.
#[derive(Clone, Copy, Debug)]
pub struct LatencyView<'a> {
    /// The latency table.
    pub table: &'a LatencyTable,
    pub(crate) now: u64,
}

impl LatencyView<'static> {
    /// No measurements: every `latency` service falls back to estimates.
    pub fn none() -> Self {
        Self {
            table: LatencyTable::empty(),
            now: 0,
        }
    }
}
