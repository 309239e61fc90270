//! What a policy is asked and how its decision came about: `Client`, `Want`, `Outcome`.

use std::net::IpAddr;

use super::addr_bits;
use super::model::Answer;
use crate::closed_set::closed_set;

/// Who is asking: the ECS subnet (address already truncated to `source_prefix`) or,
/// without ECS, the packet source with its full length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Client {
    /// The client address (truncated to `source_prefix` when from ECS).
    pub addr: IpAddr,
    /// The ECS source prefix, or the full address length.
    pub source_prefix: u8,
    /// Whether `addr` came from an ECS option.
    pub from_ecs: bool,
}

impl Client {
    /// ECS addresses with host bits beyond the source prefix cleared (defensive: the
    /// caller should already have done it); the source prefix capped at the family width.
    pub(super) fn normalized(&self) -> Self {
        let (bits, width) = addr_bits::to_bits(self.addr);
        let source_prefix = self.source_prefix.min(width);
        let addr = if self.from_ecs {
            addr_bits::from_bits(addr_bits::mask(bits, width, source_prefix), width)
        } else {
            self.addr
        };
        Self {
            addr,
            source_prefix,
            from_ecs: self.from_ecs,
        }
    }
}

/// Which member kind the query asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Want {
    /// A query: IPv4 members.
    V4,
    /// AAAA query: IPv6 members.
    V6,
    /// A CNAME service: host-name members (one answer at most: a CNAME RRset has one record).
    Name,
}

impl Want {
    /// Whether `answer` is of the kind this query asks for.
    pub(crate) fn accepts(self, answer: &Answer) -> bool {
        matches!(
            (self, answer),
            (Want::V4, Answer::Addr(IpAddr::V4(_)))
                | (Want::V6, Answer::Addr(IpAddr::V6(_)))
                | (Want::Name, Answer::Name(_))
        )
    }
}

impl std::fmt::Display for Want {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Want::V4 => "A",
            Want::V6 => "AAAA",
            Want::Name => "CNAME",
        })
    }
}

closed_set! {
    /// How a decision came about (for the response code, metrics and logs); `as_str` is
    /// the name metrics, the admin API and explain give it.
    pub enum Outcome {
        /// The policy's first choice for this client answered.
        Primary => "primary",
        /// A candidate pool with members of the queried family was down and skipped.
        Failover => "failover",
        /// Nothing was up; answered as if everything were (`all_down = fail_open`).
        FailOpen => "fail_open",
        /// Nothing was up; the static fallback set answered.
        Fallback => "fallback",
        /// Empty answers: the caller answers NODATA.
        NoData => "nodata",
        /// The caller answers SERVFAIL.
        ServFail => "servfail",
    }
}
