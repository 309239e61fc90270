//! Lookup keys: a name's lowercase wire form, whose label suffixes are the keys of its ancestors.

use hickory_proto::rr::Name;

/// The lowercase wire form of a name without the root byte (`\x03www\x07example\x00` is
/// stored as `\x03www\x07example`), and where each label starts, so that every ancestor's
/// key is a slice of the same buffer: no allocation per lookup.
pub struct WireKey {
    buf: [u8; 256],
    len: usize,
    starts: [u8; 128],
    labels: usize,
}

impl WireKey {
    pub fn new(name: &Name) -> Self {
        let mut key = Self {
            buf: [0; 256],
            len: 0,
            starts: [0; 128],
            labels: 0,
        };
        for label in name.iter() {
            let end = key.len + 1 + label.len();
            if end > key.buf.len() || key.labels == key.starts.len() {
                break;
            }
            key.starts[key.labels] = key.len as u8;
            key.buf[key.len] = label.len() as u8;
            for (dst, src) in key.buf[key.len + 1..end].iter_mut().zip(label) {
                *dst = src.to_ascii_lowercase();
            }
            key.len = end;
            key.labels += 1;
        }
        key
    }

    /// The key of the whole name.
    pub fn full(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Labels in the name (a leading `*` counts).
    pub fn labels(&self) -> usize {
        self.labels
    }

    /// The key of the ancestor made of the last `n` labels (`n` ≤ `labels()`).
    pub fn suffix(&self, n: usize) -> &[u8] {
        match n {
            0 => &[],
            n if n >= self.labels => self.full(),
            n => &self.buf[usize::from(self.starts[self.labels - n])..self.len],
        }
    }
}

/// The owned key of a name, for building maps.
pub fn key_of(name: &Name) -> Box<[u8]> {
    WireKey::new(name).full().into()
}

/// The key of `*.<ancestor>` for a wildcard lookup, in `out`.
pub fn wildcard_key<'a>(ancestor: &[u8], out: &'a mut [u8; 258]) -> &'a [u8] {
    out[0] = 1;
    out[1] = b'*';
    let n = ancestor.len().min(out.len() - 2);
    out[2..2 + n].copy_from_slice(&ancestor[..n]);
    &out[..2 + n]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_are_ancestor_keys() {
        let name = Name::from_ascii("WwW.Example.TEST.").unwrap();
        let key = WireKey::new(&name);
        assert_eq!(key.labels(), 3);
        assert_eq!(key.full(), b"\x03www\x07example\x04test");
        assert_eq!(key.suffix(2), b"\x07example\x04test");
        assert_eq!(
            key.suffix(2),
            &*key_of(&Name::from_ascii("example.test.").unwrap())
        );
        assert_eq!(key.suffix(0), b"");
        let mut buf = [0; 258];
        assert_eq!(wildcard_key(key.suffix(1), &mut buf), b"\x01*\x04test");
    }
}
