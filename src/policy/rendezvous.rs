//! Stable hashing of client subnets and weighted rendezvous (HRW) scores for sticky draws.

use std::net::IpAddr;

use super::addr_bits::{from_bits, mask, to_bits};
use super::model::Answer;
use crate::hash::{bytes_hash, mix};

/// IPv4 clients hash by their /24 (capped by the ECS source prefix).
pub(crate) const HASH_PREFIX_V4: u8 = 24;
/// IPv6 clients hash by their /56 (capped by the ECS source prefix).
pub(crate) const HASH_PREFIX_V6: u8 = 56;

/// The client subnet a sticky draw depends on: its hash and prefix length (= ECS scope).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ClientKey {
    pub(crate) hash: u64,
    /// The subnet the key covers, e.g. `198.51.100.0/24`.
    pub(crate) addr: IpAddr,
    pub(crate) prefix: u8,
}

impl ClientKey {
    /// Key for `addr`, truncated to the hash prefix or the source prefix, whichever is shorter.
    pub(crate) fn new(addr: IpAddr, source_prefix: u8) -> Self {
        let (bits, width) = to_bits(addr);
        let cap = if width == 32 {
            HASH_PREFIX_V4
        } else {
            HASH_PREFIX_V6
        };
        let prefix = cap.min(source_prefix).min(width);
        let masked = mask(bits, width, prefix);
        let tag = u64::from(width) << 8 | u64::from(prefix);
        let hash = mix(mix(masked as u64) ^ mix((masked >> 64) as u64 ^ tag));
        Self {
            hash,
            addr: from_bits(masked, width),
            prefix,
        }
    }
}

/// Identity of a member for hashing: its answer, so reordering a config moves nobody.
pub(crate) fn answer_hash(answer: &Answer) -> u64 {
    match answer {
        Answer::Addr(IpAddr::V4(a)) => bytes_hash(&a.octets()),
        Answer::Addr(IpAddr::V6(a)) => bytes_hash(&a.octets()),
        Answer::Name(n) => bytes_hash(n.as_bytes()),
    }
}

/// Weighted rendezvous score: the highest score wins. For weights w_i the winner is i
/// with probability w_i / Σw over clients, and removing one candidate moves only the
/// clients it was winning. Weight 0 never wins.
pub(crate) fn score(client: u64, identity: u64, weight: u32) -> f64 {
    if weight == 0 {
        return f64::NEG_INFINITY;
    }
    let h = mix(client ^ mix(identity));
    // Uniform in (0, 1): 53 random bits, offset by half a step so ln() is finite.
    let u = ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    f64::from(weight) / -u.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_truncates_to_hash_prefix_and_source() {
        let k = ClientKey::new("198.51.100.77".parse().unwrap(), 32);
        assert_eq!((k.addr, k.prefix), ("198.51.100.0".parse().unwrap(), 24));
        let same = ClientKey::new("198.51.100.1".parse().unwrap(), 32);
        assert_eq!(k.hash, same.hash);
        let k = ClientKey::new("198.51.100.77".parse().unwrap(), 20);
        assert_eq!((k.addr, k.prefix), ("198.51.96.0".parse().unwrap(), 20));
        let k = ClientKey::new("2001:db8:1:2ff:3::1".parse().unwrap(), 128);
        assert_eq!(
            (k.addr, k.prefix),
            ("2001:db8:1:200::".parse().unwrap(), 56)
        );
        let k = ClientKey::new("2001:db8::1".parse().unwrap(), 0);
        assert_eq!((k.addr, k.prefix), ("::".parse().unwrap(), 0));
        let v4zero = ClientKey::new("0.0.0.0".parse().unwrap(), 0);
        assert_ne!(k.hash, v4zero.hash);
    }

    #[test]
    fn score_is_stable_and_weight_zero_never_wins() {
        assert_eq!(score(1, 2, 3), score(1, 2, 3));
        assert!(score(1, 2, 0) < score(1, 2, 1));
        assert!(score(7, 9, 10) > 0.0);
    }
}
