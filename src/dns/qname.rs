//! The question name as it arrived: its wire bytes in the client's case and its lookup key.

use std::borrow::Cow;
use std::fmt;

use hickory_proto::rr::Name;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

use crate::zone::key::WireKey;
use crate::zone::wire::push_labels;

/// A question name, read straight from the packet (borrowed from it): no `Name` is built
/// on the query path.
#[derive(Clone)]
pub struct QName<'p> {
    /// Wire form including the root byte, in the client's case.
    wire: Cow<'p, [u8]>,
    key: Key<'p>,
}

/// The lookup key: the caller's buffer on the query path, boxed otherwise (keeps `QName`
/// small, so moving a request does not copy a 400-byte key).
#[derive(Clone)]
enum Key<'p> {
    Borrowed(&'p WireKey),
    Owned(Box<WireKey>),
}

impl<'p> QName<'p> {
    /// Read an uncompressed name at the start of `packet`, its key into `key`; returns the
    /// name and its wire length.
    pub(crate) fn parse(packet: &'p [u8], key: &'p mut WireKey) -> Option<(Self, usize)> {
        let len = key.read_wire(packet)?;
        let wire = Cow::Borrowed(&packet[..len]);
        let key = Key::Borrowed(&*key);
        Some((Self { wire, key }, len))
    }

    /// The wire form including the root byte, in the client's case.
    pub(crate) fn wire(&self) -> &[u8] {
        &self.wire
    }

    /// The lowercase lookup key.
    pub(crate) fn key(&self) -> &WireKey {
        match &self.key {
            Key::Borrowed(key) => key,
            Key::Owned(key) => key,
        }
    }

    /// The name as a hickory `Name` (for logs, traces and synthesized records).
    pub(crate) fn to_name(&self) -> Name {
        Name::read(&mut BinDecoder::new(self.wire())).unwrap_or_else(|_| Name::root())
    }
}

impl QName<'static> {
    /// The question name for a `Name` (explain, tests).
    pub fn from_name(name: &Name) -> Self {
        let mut wire = Vec::with_capacity(255);
        push_labels(&mut wire, name.iter());
        wire.push(0);
        // A `Name` is at most 255 bytes of valid labels, so it always reads back.
        let key = WireKey::from_wire(&wire).map_or_else(|| WireKey::new(&Name::root()), |k| k.0);
        Self {
            wire: Cow::Owned(wire),
            key: Key::Owned(Box::new(key)),
        }
    }
}

impl fmt::Display for QName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_name())
    }
}

impl fmt::Debug for QName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "QName({})", self.to_name())
    }
}

impl PartialEq for QName<'_> {
    /// Equal when the client wrote the same bytes (case included).
    fn eq(&self, other: &Self) -> bool {
        self.wire() == other.wire()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_names_keeping_case() {
        let name = Name::from_ascii("WwW.Example.TEST.").unwrap();
        let q = QName::from_name(&name);
        assert_eq!(q.wire(), b"\x03WwW\x07Example\x04TEST\x00");
        assert_eq!(q.key().full(), b"\x03www\x07example\x04test");
        assert_eq!(q.to_name().to_ascii(), "WwW.Example.TEST.");
        assert_eq!(QName::from_name(&Name::root()).wire(), b"\x00");
        assert_eq!(q.to_string(), "WwW.Example.TEST.");
    }
}
