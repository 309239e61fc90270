//! The signed forms (RFC 4034 section 3.1.8.1 and 6): canonical names, RDATA and RRsets,
//! RRSIG and NSEC RDATA, and the neighbour names compact denial (RFC 9824) puts in an NSEC.

use hickory_proto::rr::{Name, RData};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};

use super::key::SigningKey;

/// Type NXNAME (RFC 9824): only ever in an NSEC type bitmap; a query for it is FORMERR.
pub const NXNAME: u16 = 128;
/// Type RRSIG.
pub const RRSIG: u16 = 46;
/// Type NSEC.
pub const NSEC: u16 = 47;
/// Class IN.
const IN: u16 = 1;

/// `name` in lowercase uncompressed wire form.
pub fn name_wire(name: &Name) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    for label in name {
        out.push(label.len() as u8);
        out.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    out.push(0);
    out
}

/// The labels of a wire-form name (without the root).
pub fn wire_labels(wire: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(&len) = wire.get(at) {
        if len == 0 {
            break;
        }
        let end = (at + 1 + usize::from(len)).min(wire.len());
        out.push(&wire[at + 1..end]);
        at = end;
    }
    out
}

/// The RRSIG labels field for an owner: its labels, a leading `*` not counted.
pub fn label_count(wire: &[u8]) -> u8 {
    let labels = wire_labels(wire);
    let star = labels.first().is_some_and(|l| *l == b"*");
    (labels.len() - usize::from(star)) as u8
}

/// RDATA in canonical form (names uncompressed, lowercase where RFC 4034 section 6.2 says).
pub fn canonical_rdata(data: &RData) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(32);
    let mut enc = BinEncoder::new(&mut out);
    enc.set_canonical_form(true);
    data.emit(&mut enc).ok()?;
    Some(out)
}

/// The RRset as signed: each record `owner type class ttl rdlength rdata`, in canonical
/// order (RDATA sorted as octet strings, duplicates dropped).
pub fn rrset_bytes(owner: &[u8], rtype: u16, ttl: u32, rdatas: &mut Vec<Vec<u8>>) -> Vec<u8> {
    rdatas.sort_unstable();
    rdatas.dedup();
    let len: usize = rdatas.iter().map(|r| owner.len() + 10 + r.len()).sum();
    let mut out = Vec::with_capacity(len);
    for r in rdatas.iter() {
        out.extend_from_slice(owner);
        out.extend_from_slice(&rtype.to_be_bytes());
        out.extend_from_slice(&IN.to_be_bytes());
        out.extend_from_slice(&ttl.to_be_bytes());
        out.extend_from_slice(&(r.len() as u16).to_be_bytes());
        out.extend_from_slice(r);
    }
    out
}

/// What an RRSIG says besides its signature.
#[derive(Debug, Clone, Copy)]
pub struct SigFields<'a> {
    /// The type covered.
    pub rtype: u16,
    /// The labels field (fewer than the owner's for a wildcard expansion).
    pub labels: u8,
    /// The original TTL.
    pub ttl: u32,
    /// Validity, Unix seconds.
    pub inception: u32,
    /// Validity end, Unix seconds.
    pub expiration: u32,
    /// The zone apex in lowercase wire form.
    pub signer: &'a [u8],
}

/// The RRSIG RDATA over `rrset` (as `rrset_bytes` wrote it) by `key`.
pub fn sign(key: &SigningKey, f: &SigFields<'_>, rrset: &[u8]) -> Vec<u8> {
    let mut data = Vec::with_capacity(18 + f.signer.len() + rrset.len());
    data.extend_from_slice(&f.rtype.to_be_bytes());
    data.push(key.algorithm.number());
    data.push(f.labels);
    data.extend_from_slice(&f.ttl.to_be_bytes());
    data.extend_from_slice(&f.expiration.to_be_bytes());
    data.extend_from_slice(&f.inception.to_be_bytes());
    data.extend_from_slice(&key.tag.to_be_bytes());
    data.extend_from_slice(f.signer);
    let fixed = data.len();
    data.extend_from_slice(rrset);
    let signature = key.sign(&data);
    data.truncate(fixed);
    data.extend_from_slice(&signature);
    data
}

/// NSEC RDATA: the next name (uncompressed) and the type bitmap of `types`.
pub fn nsec_rdata(next: &[u8], types: &[u16]) -> Vec<u8> {
    let mut out = next.to_vec();
    out.extend(type_bitmap(types));
    out
}

/// The RFC 4034 section 4.1.2 type bitmap.
pub fn type_bitmap(types: &[u16]) -> Vec<u8> {
    let mut types = types.to_vec();
    types.sort_unstable();
    types.dedup();
    let mut out = Vec::new();
    let mut i = 0;
    while i < types.len() {
        let window = (types[i] >> 8) as u8;
        let mut bits = [0u8; 32];
        let mut len = 0;
        while i < types.len() && (types[i] >> 8) as u8 == window {
            let low = (types[i] & 0xff) as usize;
            bits[low / 8] |= 0x80 >> (low % 8);
            len = low / 8 + 1;
            i += 1;
        }
        out.push(window);
        out.push(len as u8);
        out.extend_from_slice(&bits[..len]);
    }
    out
}

/// The next name after `wire` in canonical order: `\000.<name>` (RFC 9824); the name
/// itself when that would be longer than 255 octets.
pub fn successor(wire: &[u8]) -> Vec<u8> {
    if wire.len() + 2 > 255 {
        return wire.to_vec();
    }
    let mut out = vec![1, 0];
    out.extend_from_slice(wire);
    out
}

/// The first name after `wire` and its whole subtree: its first label with `\000`
/// appended (its last octet increased when the label is 63 octets long). An NSEC from
/// `predecessor` to this denies the name and everything below it, without its next name
/// being below the name (which a validator reads as an empty non-terminal).
pub fn sibling_successor(wire: &[u8]) -> Vec<u8> {
    let labels = wire_labels(wire);
    let Some(first) = labels.first() else {
        return wire.to_vec();
    };
    let rest = &wire[1 + first.len()..];
    let mut label = first.to_vec();
    if label.len() < 63 && wire.len() < 255 {
        label.push(0);
    } else if let Some(last) = label.last_mut() {
        *last = last.saturating_add(1);
    }
    let mut out = vec![label.len() as u8];
    out.extend_from_slice(&label);
    out.extend_from_slice(rest);
    out
}

/// A name just before `wire` in canonical order, with no name between them that a zone
/// would plausibly hold (RFC 4471 in spirit): the first label's last octet decreased,
/// then `\255` appended; a label ending in `\000` loses that octet. Used for the NSEC
/// that proves a wildcard's next closer name does not exist (RFC 4035 section 5.3.4).
pub fn predecessor(wire: &[u8]) -> Vec<u8> {
    let labels = wire_labels(wire);
    let Some(first) = labels.first() else {
        return wire.to_vec();
    };
    let rest = &wire[1 + first.len()..];
    let mut label = first.to_vec();
    let last = label.len() - 1;
    if label[last] == 0 {
        label.pop();
    } else {
        label[last] -= 1;
        // An uppercase octet would sort as its lowercase form: step below `A` instead.
        if label[last].is_ascii_uppercase() {
            label[last] = b'@';
        }
        if label.len() < 63 && wire.len() < 255 {
            label.push(0xff);
        }
    }
    if label.is_empty() {
        return rest.to_vec();
    }
    let mut out = vec![label.len() as u8];
    out.extend_from_slice(&label);
    out.extend_from_slice(rest);
    out
}

/// RFC 4034 section 6.1: whether `a` sorts before `b` (both lowercase wire form).
pub fn canonical_lt(a: &[u8], b: &[u8]) -> bool {
    let (mut x, mut y) = (wire_labels(a), wire_labels(b));
    x.reverse();
    y.reverse();
    x < y
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(s: &str) -> Vec<u8> {
        let labels = s.trim_end_matches('.').split('.').map(str::as_bytes);
        name_wire(&Name::from_labels(labels).unwrap())
    }

    #[test]
    fn bitmap_matches_rfc_4034_example() {
        // A MX RRSIG NSEC TYPE1234 (RFC 4034 section 4.3).
        let map = type_bitmap(&[1, 15, 46, 47, 1234]);
        let want = [
            0x00, 0x06, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03, 0x04, 0x1b, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20,
        ];
        assert_eq!(map, want);
    }

    #[test]
    fn neighbours_sort_around_the_name() {
        for name in [
            "a.b.test.",
            "Www.b.test.",
            "x-.b.test.",
            "[.b.test.",
            "0.b.test.",
        ] {
            let n = wire(name);
            let (p, s) = (predecessor(&n), successor(&n));
            assert!(canonical_lt(&p, &n), "{name}");
            assert!(canonical_lt(&n, &s), "{name}");
            let after = sibling_successor(&n);
            assert!(canonical_lt(&s, &after), "{name}");
            // The wildcard of the parent is not between them.
            let star = wire(&format!("*.{}", name.split_once('.').unwrap().1));
            assert!(
                !(canonical_lt(&p, &star) && canonical_lt(&star, &s)),
                "{name}"
            );
        }
        assert_eq!(label_count(&wire("*.b.test.")), 2);
        assert_eq!(label_count(&wire("a.b.test.")), 3);
    }
}
