//! EDNS Client Subnet (RFC 7871): strict parsing, the client address it implies, and its echo.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The ECS option code.
pub const OPTION_CODE: u16 = 8;

/// A validated ECS option from a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientSubnet {
    /// The address, with every bit beyond `source_prefix` zero.
    pub(crate) addr: IpAddr,
    pub(crate) source_prefix: u8,
}

/// Why an ECS option is malformed (each one is answered with FORMERR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EcsError {
    #[error("ECS option shorter than its fixed fields")]
    /// Shorter than the fixed fields.
    Short,
    #[error("ECS family {0} is neither 1 (IPv4) nor 2 (IPv6)")]
    /// A family other than 1 (IPv4) or 2 (IPv6).
    Family(u16),
    #[error("ECS source prefix {0} is longer than the address")]
    /// A source prefix longer than the address.
    PrefixTooLong(u8),
    #[error("ECS address is not exactly as long as the source prefix needs")]
    /// An address not exactly as long as the source prefix needs.
    AddressLength,
    #[error("ECS address has bits set beyond the source prefix")]
    /// Bits set beyond the source prefix.
    TrailingBits,
}

impl ClientSubnet {
    /// Parse the option data (after code and length) as RFC 7871 section 6 lays it out.
    pub fn parse(data: &[u8]) -> Result<Self, EcsError> {
        let [f0, f1, source_prefix, _scope, addr @ ..] = data else {
            return Err(EcsError::Short);
        };
        let family = u16::from_be_bytes([*f0, *f1]);
        let max = match family {
            1 => 32,
            2 => 128,
            other => return Err(EcsError::Family(other)),
        };
        let source_prefix = *source_prefix;
        if source_prefix > max {
            return Err(EcsError::PrefixTooLong(source_prefix));
        }
        if addr.len() != usize::from(source_prefix).div_ceil(8) {
            return Err(EcsError::AddressLength);
        }
        if let Some(last) = addr.last() {
            let used = source_prefix % 8;
            if used != 0 && last & (0xff >> used) != 0 {
                return Err(EcsError::TrailingBits);
            }
        }
        let addr = if family == 1 {
            let mut octets = [0u8; 4];
            octets[..addr.len()].copy_from_slice(addr);
            IpAddr::V4(Ipv4Addr::from(octets))
        } else {
            let mut octets = [0u8; 16];
            octets[..addr.len()].copy_from_slice(addr);
            IpAddr::V6(Ipv6Addr::from(octets))
        };
        Ok(Self {
            addr,
            source_prefix,
        })
    }

    /// Append the reply option (code, length, data) with `scope` to `out`.
    /// The scope is never more than the source prefix.
    pub(crate) fn encode_reply(&self, scope: u8, out: &mut Vec<u8>) {
        let mut octets = [0u8; 16];
        let family: u16 = match self.addr {
            IpAddr::V4(a) => {
                octets[..4].copy_from_slice(&a.octets());
                1
            }
            IpAddr::V6(a) => {
                octets = a.octets();
                2
            }
        };
        let len = usize::from(self.source_prefix).div_ceil(8);
        out.extend_from_slice(&OPTION_CODE.to_be_bytes());
        out.extend_from_slice(&((4 + len) as u16).to_be_bytes());
        out.extend_from_slice(&family.to_be_bytes());
        out.push(self.source_prefix);
        out.push(scope.min(self.source_prefix));
        out.extend_from_slice(&octets[..len]);
    }
}

/// `addr` with every bit beyond `prefix` cleared.
pub(crate) fn truncate(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let p = u32::from(prefix.min(32));
            let mask = u32::MAX.checked_shl(32 - p).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
        }
        IpAddr::V6(a) => {
            let p = u32::from(prefix.min(128));
            let mask = u128::MAX.checked_shl(128 - p).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ecs(family: u16, source: u8, addr: &[u8]) -> Vec<u8> {
        let mut v = family.to_be_bytes().to_vec();
        v.extend([source, 0]);
        v.extend_from_slice(addr);
        v
    }

    #[test]
    fn parses_v4_and_v6() {
        let s = ClientSubnet::parse(&ecs(1, 24, &[192, 0, 2])).unwrap();
        assert_eq!(s.addr, "192.0.2.0".parse::<IpAddr>().unwrap());
        assert_eq!(s.source_prefix, 24);
        let s = ClientSubnet::parse(&ecs(2, 56, &[0x20, 1, 0xd, 0xb8, 0, 0, 0x12])).unwrap();
        assert_eq!(s.addr, "2001:db8:0:1200::".parse::<IpAddr>().unwrap());
        let s = ClientSubnet::parse(&ecs(1, 0, &[])).unwrap();
        assert_eq!(s.source_prefix, 0);
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(ClientSubnet::parse(&[0, 1, 24]), Err(EcsError::Short));
        assert_eq!(
            ClientSubnet::parse(&ecs(3, 0, &[])),
            Err(EcsError::Family(3))
        );
        assert_eq!(
            ClientSubnet::parse(&ecs(1, 33, &[1, 2, 3, 4, 5])),
            Err(EcsError::PrefixTooLong(33))
        );
        assert_eq!(
            ClientSubnet::parse(&ecs(1, 24, &[192, 0, 2, 1])),
            Err(EcsError::AddressLength)
        );
        assert_eq!(
            ClientSubnet::parse(&ecs(1, 24, &[192, 0])),
            Err(EcsError::AddressLength)
        );
        assert_eq!(
            ClientSubnet::parse(&ecs(1, 23, &[192, 0, 3])),
            Err(EcsError::TrailingBits)
        );
    }

    #[test]
    fn reply_echoes_with_scope_capped_by_source() {
        let s = ClientSubnet::parse(&ecs(1, 20, &[10, 1, 16])).unwrap();
        let mut out = Vec::new();
        s.encode_reply(24, &mut out);
        assert_eq!(out, vec![0, 8, 0, 7, 0, 1, 20, 20, 10, 1, 16]);
    }

    #[test]
    fn truncates_addresses() {
        let a: IpAddr = "192.0.2.255".parse().unwrap();
        assert_eq!(truncate(a, 24).to_string(), "192.0.2.0");
        assert_eq!(truncate(a, 0).to_string(), "0.0.0.0");
        assert_eq!(truncate(a, 32), a);
        let b: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(truncate(b, 32).to_string(), "2001:db8::");
    }
}
