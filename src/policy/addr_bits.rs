//! Addresses as integers: family width, prefix masks and common-prefix lengths.

use std::net::IpAddr;

/// An address as its bits (right-aligned) and its family width (32 or 128).
pub(crate) fn to_bits(addr: IpAddr) -> (u128, u8) {
    match addr {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
        IpAddr::V6(a) => (u128::from(a), 128),
    }
}

/// The address of family `width` with these bits.
pub(crate) fn from_bits(bits: u128, width: u8) -> IpAddr {
    if width == 32 {
        IpAddr::from((bits as u32).to_be_bytes())
    } else {
        IpAddr::from(bits.to_be_bytes())
    }
}

/// `bits` with everything after the first `prefix` bits (of `width`) cleared.
pub(crate) fn mask(bits: u128, width: u8, prefix: u8) -> u128 {
    let prefix = prefix.min(width);
    if prefix == 0 {
        return 0;
    }
    let keep = u128::MAX << (128 - u32::from(prefix));
    let shifted = bits << (128 - u32::from(width));
    (shifted & keep) >> (128 - u32::from(width))
}

/// Length of the common prefix of `a` and `b` within `width` bits.
pub(crate) fn common_prefix(a: u128, b: u128, width: u8) -> u8 {
    let diff = (a ^ b) << (128 - u32::from(width));
    (diff.leading_zeros() as u8).min(width)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_prefixes() {
        let (b, w) = to_bits("198.51.100.77".parse().unwrap());
        assert_eq!(
            from_bits(mask(b, w, 24), w),
            "198.51.100.0".parse::<IpAddr>().unwrap()
        );
        assert_eq!(mask(b, w, 0), 0);
        assert_eq!(mask(b, w, 32), b);
        let (b6, w6) = to_bits("2001:db8:ffff::1".parse().unwrap());
        assert_eq!(
            from_bits(mask(b6, w6, 32), w6),
            "2001:db8::".parse::<IpAddr>().unwrap()
        );
        assert_eq!(mask(b6, w6, 128), b6);
        assert_eq!(common_prefix(b, b, 32), 32);
        assert_eq!(common_prefix(0x8000_0000, 0, 32), 0);
        assert_eq!(common_prefix(1, 0, 32), 31);
        assert_eq!(common_prefix(1, 0, 128), 127);
    }
}
