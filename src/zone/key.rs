//! Lookup keys: a name's lowercase wire form, whose label suffixes are the keys of its ancestors.

use hickory_proto::rr::Name;
use hickory_proto::serialize::binary::BinDecodable;

/// The lowercase wire form of a name without the root byte (`\x03www\x07example\x00` is
/// stored as `\x03www\x07example`), and where each label starts, so that every ancestor's
/// key is a slice of the same buffer: no allocation per lookup.
#[derive(Clone)]
pub struct WireKey {
    buf: [u8; 256],
    len: usize,
    starts: [u8; 128],
    labels: usize,
}

impl WireKey {
    /// The key of `name`.
    pub fn new(name: &Name) -> Self {
        let mut key = Self {
            buf: [0; 256],
            len: 0,
            starts: [0; 128],
            labels: 0,
        };
        for label in name {
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

    /// The key of the root name, to be filled by [`Self::read_wire`].
    pub fn empty() -> Self {
        Self {
            buf: [0; 256],
            len: 0,
            starts: [0; 128],
            labels: 0,
        }
    }

    /// Read an uncompressed name from the start of `wire` (a question name), lowercased.
    /// Returns the key and the name's length on the wire including the root byte; `None`
    /// for a compression pointer, a label over 63 bytes, a name over 255 bytes or a name
    /// cut short.
    pub(crate) fn from_wire(wire: &[u8]) -> Option<(Self, usize)> {
        let mut key = Self::empty();
        let used = key.read_wire(wire)?;
        Some((key, used))
    }

    /// `from_wire` into `self` (which callers reuse to avoid copying keys around).
    pub(crate) fn read_wire(&mut self, wire: &[u8]) -> Option<usize> {
        let (mut pos, mut labels) = (0, 0);
        loop {
            let n = usize::from(*wire.get(pos)?);
            if n == 0 {
                break;
            }
            // 63-byte labels; 255 bytes in all counting the root byte.
            if n > 63 || pos + 1 + n + 1 > 255 {
                return None;
            }
            self.starts[labels] = pos as u8;
            labels += 1;
            pos += 1 + n;
        }
        // Length bytes are at most 63, below 'A', so lowercasing leaves them alone.
        self.buf[..pos].copy_from_slice(&wire[..pos]);
        self.buf[..pos].make_ascii_lowercase();
        self.len = pos;
        self.labels = labels;
        Some(pos + 1)
    }

    /// Where the ancestor made of the last `n` labels starts in the wire form (`n` = 0: the
    /// root byte).
    pub(crate) fn suffix_start(&self, n: usize) -> usize {
        match n {
            0 => self.len,
            n if n >= self.labels => 0,
            n => usize::from(self.starts[self.labels - n]),
        }
    }

    /// True for the root name.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The key of the whole name.
    pub(crate) fn full(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Labels in the name (a leading `*` counts).
    pub(crate) fn labels(&self) -> usize {
        self.labels
    }

    /// The key of the ancestor made of the last `n` labels (`n` ≤ `labels()`).
    pub(crate) fn suffix(&self, n: usize) -> &[u8] {
        match n {
            0 => &[],
            n if n >= self.labels => self.full(),
            n => &self.buf[usize::from(self.starts[self.labels - n])..self.len],
        }
    }
}

/// The owned key of a name, for building maps.
pub(crate) fn key_of(name: &Name) -> Box<[u8]> {
    WireKey::new(name).full().into()
}

/// The key of `*.<ancestor>` for a wildcard lookup, in `out`.
pub(crate) fn wildcard_key<'a>(ancestor: &[u8], out: &'a mut [u8; 258]) -> &'a [u8] {
    out[0] = 1;
    out[1] = b'*';
    let n = ancestor.len().min(out.len() - 2);
    out[2..2 + n].copy_from_slice(&ancestor[..n]);
    &out[..2 + n]
}

/// The wire form (with its root byte) of an absolute host name written as plain dotted
/// labels, in `out`; its length, or `None` for escapes, empty or long labels, or a name
/// over 255 bytes.
pub(crate) fn text_wire(text: &str, out: &mut [u8; 256]) -> Option<usize> {
    let labels = text.strip_suffix('.').unwrap_or(text);
    if labels.contains('\\') {
        return None;
    }
    let mut len = 0;
    for label in labels.split('.').filter(|_| !labels.is_empty()) {
        let n = label.len();
        if n == 0 || n > 63 || len + 1 + n + 1 > 255 {
            return None;
        }
        out[len] = n as u8;
        out[len + 1..len + 1 + n].copy_from_slice(label.as_bytes());
        len += 1 + n;
    }
    out[len] = 0;
    Some(len + 1)
}

/// A host name written as plain labels: its wire form in `out` and its lookup key.
pub(crate) fn text_key(text: &str, out: &mut [u8; 256]) -> Option<WireKey> {
    let len = text_wire(text, out)?;
    WireKey::from_wire(&out[..len]).map(|(key, _)| key)
}

/// A host name written as text, as a `Name`: decoded from its wire form when it is plain
/// labels (no allocation for names of up to 32 bytes), else parsed with its escapes.
pub(crate) fn text_name(text: &str) -> Option<Name> {
    let mut wire = [0u8; 256];
    match text_wire(text, &mut wire) {
        Some(len) => Name::from_bytes(&wire[..len]).ok(),
        None => Name::from_ascii(text).ok(),
    }
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

    #[test]
    fn wire_names_read_like_names() {
        let (key, used) = WireKey::from_wire(b"\x03WwW\x07Example\x04TEST\x00\x00\x01").unwrap();
        assert_eq!(used, 18);
        assert_eq!(
            key.full(),
            WireKey::new(&Name::from_ascii("www.example.test.").unwrap()).full()
        );
        assert_eq!(key.labels(), 3);
        assert_eq!(
            (
                key.suffix_start(0),
                key.suffix_start(1),
                key.suffix_start(3)
            ),
            (17, 12, 0)
        );
        let (root, used) = WireKey::from_wire(b"\x00").unwrap();
        assert_eq!((root.labels(), used, root.is_empty()), (0, 1, true));
        for bad in [&b"\xc0\x0c"[..], b"\x03ww", b"\x40aaaa", b""] {
            assert!(WireKey::from_wire(bad).is_none(), "{bad:?}");
        }
        let long: Vec<u8> = (0..4)
            .flat_map(|_| std::iter::once(63).chain([b'a'; 63]))
            .chain([0])
            .collect();
        assert!(WireKey::from_wire(&long).is_none(), "256 bytes");
        assert!(WireKey::from_wire(&long[64..]).is_some(), "192 bytes");
    }

    #[test]
    fn host_names_as_text_become_wire_labels_or_are_refused() {
        let mut out = [0u8; 256];
        let len = text_wire("Edge.cdn-a.example.NET.", &mut out).unwrap();
        assert_eq!(&out[..len], b"\x04Edge\x05cdn-a\x07example\x03NET\x00");
        assert_eq!(
            text_wire("example.net", &mut out),
            Some(13),
            "relative spelling"
        );
        assert_eq!(text_wire(".", &mut out), Some(1));
        assert_eq!(out[0], 0, "the root");
        assert_eq!(text_wire("a\\.b.example.", &mut out), None, "escapes");
        assert_eq!(text_wire("a..example.", &mut out), None, "empty label");
        let long = format!("{}.example.", "x".repeat(64));
        assert_eq!(text_wire(&long, &mut out), None, "64-byte label");
        let many = "abcdefghi.".repeat(26);
        assert_eq!(text_wire(&many, &mut out), None, "261 bytes");
    }
}
