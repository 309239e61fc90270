//! Client networks as table keys: the configured prefix per family and a 64-bit packed key.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// Allowed IPv4 network prefix lengths.
pub(crate) const V4_RANGE: std::ops::RangeInclusive<u8> = 8..=32;
/// Allowed IPv6 network prefix lengths (a key keeps at most 62 leading bits).
pub(crate) const V6_RANGE: std::ops::RangeInclusive<u8> = 16..=62;
/// Most table networks one shorter prefix may expand into (e.g. a /16 into 256 /24s).
pub(crate) const MAX_EXPAND: usize = 256;

const TAG_V4: u64 = 1 << 62;
const TAG_V6: u64 = 2 << 62;
const LOW_62: u64 = (1 << 62) - 1;

/// A client network at the table's prefix length, packed into 64 bits: two tag bits
/// (IPv4 or IPv6) and the network's leading address bits. Never 0, so 0 can mean "empty".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct NetKey(u64);

impl NetKey {
    /// The packed value (for lock-free slots).
    pub(crate) fn raw(self) -> u64 {
        self.0
    }

    /// A key from a packed value; `None` for values no key packs to.
    pub(crate) fn from_raw(raw: u64) -> Option<Self> {
        matches!(raw & !LOW_62, TAG_V4 | TAG_V6).then_some(Self(raw))
    }

    pub(crate) fn is_v4(self) -> bool {
        self.0 & !LOW_62 == TAG_V4
    }
}

/// The network prefix length the table keys each family by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prefixes {
    pub(crate) v4: u8,
    pub(crate) v6: u8,
}

impl Default for Prefixes {
    /// IPv4 /24 and IPv6 /48: what resolvers commonly send as ECS and what routing
    /// usually keeps together.
    fn default() -> Self {
        Self { v4: 24, v6: 48 }
    }
}

/// Why a network cannot be keyed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    #[error("{net} covers {count} /{prefix} networks; at most {MAX_EXPAND} per entry")]
    TooWide { net: IpNet, count: u128, prefix: u8 },
    #[error("invalid network {0:?}: expected an address or address/prefix")]
    Syntax(String),
}

impl Prefixes {
    /// Checks both lengths are within [`V4_RANGE`] and [`V6_RANGE`].
    pub(crate) fn validate(&self) -> Result<(), String> {
        if !V4_RANGE.contains(&self.v4) {
            return Err(format!("IPv4 network prefix must be within {V4_RANGE:?}"));
        }
        if !V6_RANGE.contains(&self.v6) {
            return Err(format!("IPv6 network prefix must be within {V6_RANGE:?}"));
        }
        Ok(())
    }

    /// The network prefix length of `addr`'s family.
    pub(crate) fn of(&self, addr: IpAddr) -> u8 {
        if addr.is_ipv4() {
            self.v4.min(32)
        } else {
            self.v6.min(62)
        }
    }

    /// The key of the network containing `addr`.
    pub(crate) fn key(&self, addr: IpAddr) -> NetKey {
        match addr {
            IpAddr::V4(a) => {
                let bits = u32::from(a) & mask32(self.v4);
                NetKey(TAG_V4 | u64::from(bits))
            }
            IpAddr::V6(a) => {
                let hi = (u128::from(a) >> 64) as u64 & mask64(self.v6.min(62));
                NetKey(TAG_V6 | hi >> 2)
            }
        }
    }

    /// The network a key stands for.
    pub(crate) fn network(&self, key: NetKey) -> IpNet {
        let low = key.0 & LOW_62;
        let (addr, prefix) = if key.is_v4() {
            (IpAddr::V4(Ipv4Addr::from(low as u32)), self.v4.min(32))
        } else {
            let bits = u128::from(low << 2) << 64;
            (IpAddr::V6(Ipv6Addr::from(bits)), self.v6.min(62))
        };
        IpNet::new(addr, prefix).map_or_else(|_| IpNet::from(addr), |n| n.trunc())
    }

    /// The keys of the table networks `net` covers: its own network when it is at least
    /// as long as the table prefix, else every table network inside it (at most
    /// [`MAX_EXPAND`]).
    pub(crate) fn keys(&self, net: IpNet) -> Result<Vec<NetKey>, NetError> {
        let prefix = self.of(net.addr());
        if net.prefix_len() >= prefix {
            return Ok(vec![self.key(net.addr())]);
        }
        let extra = u32::from(prefix - net.prefix_len());
        let count = 1u128.checked_shl(extra).unwrap_or(u128::MAX);
        if count > MAX_EXPAND as u128 {
            return Err(NetError::TooWide { net, count, prefix });
        }
        let subnets = net
            .trunc()
            .subnets(prefix)
            .map_err(|_| NetError::Syntax(net.to_string()))?;
        Ok(subnets.map(|n| self.key(n.addr())).collect())
    }
}

/// Parses `198.51.100.0/24` or a bare address (a host network); host bits are ignored.
pub fn parse_network(text: &str) -> Result<IpNet, NetError> {
    let text = text.trim();
    if let Ok(net) = text.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    text.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| NetError::Syntax(text.to_string()))
}

/// The address an agent probes for a network: the first usable address (network + 1),
/// or the network address itself for IPv4 /31 and /32 and IPv6 /127 and /128.
pub fn first_usable(net: IpNet) -> IpAddr {
    let net = net.trunc();
    match net {
        IpNet::V4(n) if n.prefix_len() <= 30 => {
            IpAddr::V4(Ipv4Addr::from(u32::from(n.network()).wrapping_add(1)))
        }
        IpNet::V6(n) if n.prefix_len() <= 126 => {
            IpAddr::V6(Ipv6Addr::from(u128::from(n.network()).wrapping_add(1)))
        }
        other => other.addr(),
    }
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(prefix.min(32)))
        .unwrap_or(0)
}

fn mask64(prefix: u8) -> u64 {
    u64::MAX
        .checked_shl(64 - u32::from(prefix.min(64)))
        .unwrap_or(0)
}

impl fmt::Display for NetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#018x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn keys_round_trip_to_their_network() {
        let p = Prefixes::default();
        let k = p.key("198.51.100.77".parse().unwrap());
        assert!(k.is_v4());
        assert_eq!(p.network(k), net("198.51.100.0/24"));
        let k6 = p.key("2001:db8:1:2::5".parse().unwrap());
        assert!(!k6.is_v4());
        assert_eq!(p.network(k6), net("2001:db8:1::/48"));
        assert_eq!(NetKey::from_raw(k6.raw()), Some(k6));
        assert_eq!(NetKey::from_raw(0), None);
        assert_eq!(NetKey::from_raw(3 << 62), None);
        let wide = Prefixes { v4: 32, v6: 62 };
        let k = wide.key("2001:db8:ffff:fffd::".parse().unwrap());
        assert_eq!(wide.network(k), net("2001:db8:ffff:fffc::/62"));
        assert_eq!(
            wide.network(wide.key("192.0.2.9".parse().unwrap())),
            net("192.0.2.9/32")
        );
    }

    #[test]
    fn families_never_collide() {
        let p = Prefixes::default();
        assert_ne!(
            p.key("0.0.0.0".parse().unwrap()),
            p.key("::".parse().unwrap())
        );
    }

    #[test]
    fn wide_networks_expand_up_to_a_limit() {
        let p = Prefixes::default();
        assert_eq!(p.keys(net("198.51.100.128/25")).unwrap().len(), 1);
        let keys = p.keys(net("198.51.100.0/22")).unwrap();
        assert_eq!(keys.len(), 4);
        assert_eq!(p.network(keys[3]), net("198.51.103.0/24"));
        assert_eq!(p.keys(net("10.0.0.0/16")).unwrap().len(), 256);
        assert!(matches!(
            p.keys(net("10.0.0.0/15")),
            Err(NetError::TooWide { count: 512, .. })
        ));
        assert!(p.keys(net("::/0")).is_err());
    }

    #[test]
    fn parse_and_first_usable() {
        assert_eq!(
            parse_network("198.51.100.9/24").unwrap(),
            net("198.51.100.0/24")
        );
        assert_eq!(parse_network(" 192.0.2.1 ").unwrap(), net("192.0.2.1/32"));
        assert!(parse_network("nope").is_err());
        let first = |s: &str| first_usable(net(s)).to_string();
        assert_eq!(first("198.51.100.0/24"), "198.51.100.1");
        assert_eq!(first("192.0.2.8/31"), "192.0.2.8");
        assert_eq!(first("2001:db8:1::/48"), "2001:db8:1::1");
        assert_eq!(first("2001:db8::5/128"), "2001:db8::5");
    }

    #[test]
    fn prefixes_are_validated() {
        assert!(Prefixes::default().validate().is_ok());
        assert!(Prefixes { v4: 7, v6: 48 }.validate().is_err());
        assert!(Prefixes { v4: 24, v6: 64 }.validate().is_err());
    }
}
