//! The fixed label values every bounded label may take, and the mappings onto them.
//!
//! Each table ends with no "other" entry; the lookups return `OTHER` (and its index, the
//! table length) for anything not listed, so a label never carries a value from the network.

/// The value a label takes when its input is not in the fixed list.
pub(crate) const OTHER: &str = "other";

/// The value of the `zone` label for queries outside every configured zone.
pub(crate) const NO_ZONE: &str = "none";

/// Query types counted by name; every other type is counted as `other`.
pub(crate) const QTYPES: [(u16, &str); 18] = [
    (1, "A"),
    (2, "NS"),
    (5, "CNAME"),
    (6, "SOA"),
    (12, "PTR"),
    (15, "MX"),
    (16, "TXT"),
    (28, "AAAA"),
    (33, "SRV"),
    (35, "NAPTR"),
    (43, "DS"),
    (48, "DNSKEY"),
    (64, "SVCB"),
    (65, "HTTPS"),
    (251, "IXFR"),
    (252, "AXFR"),
    (255, "ANY"),
    (257, "CAA"),
];

/// Response codes counted by name (BADVERS is the extended code 16).
pub(crate) const RCODES: [(u16, &str); 7] = [
    (0, "NOERROR"),
    (1, "FORMERR"),
    (2, "SERVFAIL"),
    (3, "NXDOMAIN"),
    (4, "NOTIMP"),
    (5, "REFUSED"),
    (16, "BADVERS"),
];

/// Transports a query can arrive on.
pub(crate) const TRANSPORTS: [&str; 2] = ["udp", "tcp"];

/// Why a probe failed; the probe code maps its failure onto one of these.
pub(crate) const PROBE_REASONS: [&str; 7] = [
    "timeout",
    "refused",
    "reset",
    "status",
    "body_mismatch",
    "tls",
    "other",
];

/// Index of `code` in `QTYPES`, or `QTYPES.len()` for `other`.
pub fn qtype_index(code: u16) -> usize {
    QTYPES
        .iter()
        .position(|(c, _)| *c == code)
        .unwrap_or(QTYPES.len())
}

/// The `qtype` label of a numeric query type: its mnemonic when listed, else `other`.
pub fn qtype_label(code: u16) -> &'static str {
    QTYPES.get(qtype_index(code)).map_or(OTHER, |(_, l)| l)
}

/// The `qtype` label of a mnemonic such as `aaaa` (any case), else `other`.
#[cfg(test)]
pub(crate) fn qtype_label_from_str(name: &str) -> &'static str {
    QTYPES
        .iter()
        .find(|(_, l)| l.eq_ignore_ascii_case(name))
        .map_or(OTHER, |(_, l)| l)
}

/// Index of `code` in `RCODES`, or `RCODES.len()` for `other`.
pub(crate) fn rcode_index(code: u16) -> usize {
    RCODES
        .iter()
        .position(|(c, _)| *c == code)
        .unwrap_or(RCODES.len())
}

/// The `rcode` label of a numeric response code, else `other`.
#[cfg(test)]
pub(crate) fn rcode_label(code: u16) -> &'static str {
    RCODES.get(rcode_index(code)).map_or(OTHER, |(_, l)| l)
}

/// Index of `value` in `list`, or `list.len()` when absent.
pub(crate) fn index_in(list: &[&str], value: &str) -> usize {
    list.iter().position(|l| *l == value).unwrap_or(list.len())
}

/// The label `value` takes in `list`: itself when listed (as the static copy), else `other`.
pub(crate) fn label_in(list: &[&'static str], value: &str) -> &'static str {
    list.get(index_in(list, value)).copied().unwrap_or(OTHER)
}

/// The label at `index` of `list`, `other` past its end.
pub(crate) fn label_at(list: &[&'static str], index: usize) -> &'static str {
    list.get(index).copied().unwrap_or(OTHER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qtypes_map_to_mnemonics_or_other() {
        assert_eq!(qtype_label(1), "A");
        assert_eq!(qtype_label(28), "AAAA");
        assert_eq!(qtype_label(257), "CAA");
        assert_eq!(qtype_label(0), OTHER);
        assert_eq!(qtype_label(65535), OTHER);
        assert_eq!(qtype_label_from_str("aaaa"), "AAAA");
        assert_eq!(qtype_label_from_str("TYPE999"), OTHER);
        assert_eq!(qtype_index(9999), QTYPES.len());
    }

    #[test]
    fn rcodes_and_lists_are_bounded() {
        assert_eq!(rcode_label(3), "NXDOMAIN");
        assert_eq!(rcode_label(16), "BADVERS");
        assert_eq!(rcode_label(23), OTHER);
        assert_eq!(label_in(&TRANSPORTS, "tcp"), "tcp");
        assert_eq!(label_in(&TRANSPORTS, "quic"), OTHER);
    }

    #[test]
    fn tables_have_unique_entries() {
        for (i, (c, l)) in QTYPES.iter().enumerate() {
            assert_eq!(qtype_index(*c), i, "{l}");
        }
        for (i, (c, l)) in RCODES.iter().enumerate() {
            assert_eq!(rcode_index(*c), i, "{l}");
        }
    }
}
