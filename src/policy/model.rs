//! The compiled, immutable service model the config compiler builds and `evaluate_with` reads.

use std::net::IpAddr;
use std::sync::Arc;

use crate::geo::Continent;

/// Index of a pool in [`Service::pools`](super::Service::pools). Out-of-range ids are ignored, never a panic.
pub type PoolId = usize;
/// Index of a datacenter in [`Service::datacenters`](super::Service::datacenters). Out-of-range ids count as "no datacenter".
pub type DatacenterId = usize;

/// Default answer TTL in seconds.
pub(crate) const DEFAULT_TTL: u32 = 30;
/// Default [`Pool::min_healthy`].
pub(crate) const DEFAULT_MIN_HEALTHY: u32 = 1;
/// Default member or pool weight.
pub(crate) const DEFAULT_WEIGHT: u32 = 1;

/// What a member contributes to an answer: an address (A/AAAA) or a host name (CNAME).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Answer {
    /// An address.
    Addr(IpAddr),
    /// A fully qualified host name, as the compiler spells it (e.g. `web.eu.example.net.`).
    Name(Arc<str>),
}

/// A decision's answers: inline up to four, so a typical query allocates nothing.
pub type Answers = smallvec::SmallVec<[Answer; 4]>;

/// A place members live: used by `nearest` and shown by `explain`.
#[derive(Clone, Debug, PartialEq)]
pub struct Datacenter {
    pub(crate) name: Arc<str>,
    /// Latitude and longitude in degrees (WGS 84), like [`crate::geo::Location::coordinates`].
    pub(crate) coordinates: (f64, f64),
    /// ISO 3166-1 alpha-2, upper case (informational).
    pub(crate) country: Option<[u8; 2]>,
    pub(crate) continent: Option<Continent>,
    /// Geoproximity bias in −99..=99 (0 = none; values outside are clamped). `nearest`
    /// ranks by effective distance = great-circle distance × (1 − bias/100): a positive
    /// bias makes the datacenter look closer and draws clients from farther away, a
    /// negative one shrinks its catchment (−50 ranks it as if 1.5× as far).
    pub(crate) bias: i8,
}

/// How a chosen pool turns its usable members into answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Selection {
    /// Every usable member, order shuffled with the RNG (default `max_answers`: all).
    #[default]
    All,
    /// Weighted random sample without replacement (default `max_answers`: 1, so the
    /// weights are honoured exactly whatever order resolvers and stub resolvers apply).
    Weighted,
    /// Weighted rendezvous hash of the client subnet: sticky per client, and a member
    /// leaving moves only its own clients (default `max_answers`: 1).
    Hash,
}

impl Selection {
    /// The answer cap used when [`Service::max_answers`](super::Service::max_answers) is `None`.
    pub(crate) fn default_max_answers(self) -> usize {
        match self {
            Selection::All => usize::MAX,
            Selection::Weighted | Selection::Hash => 1,
        }
    }
}

/// One answerable endpoint of a pool.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    /// The record data: an address for A/AAAA services, a host name for CNAME services.
    pub(crate) answer: Answer,
    /// Where the member lives (index into [`Service::datacenters`](super::Service::datacenters)); `nearest` needs it,
    /// members without one rank after every datacenter.
    pub(crate) datacenter: Option<DatacenterId>,
    /// Relative weight for `weighted` selection and `weighted` policies; 0 = drained
    /// (never answered, except by fail-open when every candidate is drained).
    pub(crate) weight: u32,
    /// Health target key (`192.0.2.10/web`) looked up in the snapshot; `None` = never
    /// probed = always up.
    pub(crate) target: Option<Arc<str>>,
}

/// A named group of members.
#[derive(Clone, Debug, PartialEq)]
pub struct Pool {
    pub(crate) name: Arc<str>,
    pub(crate) members: Vec<Member>,
    pub(crate) selection: Selection,
    /// The pool is up when at least this many members *of the queried family* (A: IPv4,
    /// AAAA: IPv6, CNAME: names) are usable; 0 behaves like 1. Default 1.
    pub(crate) min_healthy: u32,
}

/// What a service answers when no candidate pool of its policy is up.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum AllDown {
    /// Answer as if every member were up (health ignored, `min_healthy` treated as 1;
    /// drained members only if nothing else exists). Outcome `FailOpen`.
    #[default]
    FailOpen,
    /// Empty answer: the caller answers NODATA.
    NoData,
    /// The caller answers SERVFAIL.
    ServFail,
    /// A static answer set (only entries of the queried family are used).
    Fallback(Vec<Answer>),
}

/// Whether `weighted` draws members or whole pools.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WeightBy {
    /// Draw members of every up pool in the list by [`Member::weight`].
    #[default]
    Member,
    /// Draw one up pool by [`PoolWeight::weight`], then apply that pool's selection.
    Pool,
}

/// How `weighted` draws.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WeightMode {
    /// Fresh draw per query with the injected RNG (ECS scope 0).
    #[default]
    Random,
    /// Weighted rendezvous hash of the client subnet (/24 IPv4, /56 IPv6, capped by
    /// the source prefix; that is also the ECS scope).
    Hash,
}

/// A pool listed by a `weighted` policy, with its weight for [`WeightBy::Pool`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolWeight {
    pub(crate) pool: PoolId,
    /// Ignored for [`WeightBy::Member`]; 0 = drained.
    pub(crate) weight: u32,
}
