//! Record data in presentation format (as in master files) turned into wire-ready `RData`.

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, PTR, SRV, TXT};
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_proto::serialize::binary::{BinDecoder, Restrict};

use super::file::Rdata;

/// A name as written in a zone file: `@` is the origin, a trailing dot makes it absolute,
/// anything else is relative to the origin.
pub(crate) fn parse_name(text: &str, origin: &Name) -> Result<Name, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty name".to_string());
    }
    if text == "@" {
        return Ok(origin.clone());
    }
    let name = Name::from_ascii(text).map_err(|e| format!("invalid name {text:?}: {e}"))?;
    let name = if name.is_fqdn() {
        name
    } else {
        name.append_domain(origin)
            .map_err(|e| format!("invalid name {text:?}: {e}"))?
    };
    if name.iter().skip(1).any(|l| l == b"*") {
        return Err(format!(
            "invalid name {text:?}: a wildcard `*` must be the leftmost label"
        ));
    }
    Ok(name)
}

/// Parse one item of record data of type `rtype`.
pub(crate) fn parse(rtype: RecordType, item: &Rdata, origin: &Name) -> Result<RData, String> {
    let text = match (item, rtype) {
        (Rdata::Strings(parts), RecordType::TXT) => return txt(parts.clone()),
        (Rdata::Strings(_), _) => return Err(format!("{rtype} data must be a string")),
        (Rdata::Text(t), RecordType::TXT) => return txt(split_txt(t)),
        (Rdata::Text(t), _) => t.as_str(),
    };
    let fields: Vec<&str> = text.split_whitespace().collect();
    match rtype {
        RecordType::A => text
            .trim()
            .parse::<Ipv4Addr>()
            .map(|a| RData::A(A(a)))
            .map_err(|_| format!("invalid IPv4 address {text:?}")),
        RecordType::AAAA => text
            .trim()
            .parse::<Ipv6Addr>()
            .map(|a| RData::AAAA(AAAA(a)))
            .map_err(|_| format!("invalid IPv6 address {text:?}")),
        RecordType::CNAME => Ok(RData::CNAME(CNAME(one_name(&fields, origin)?))),
        RecordType::NS => Ok(RData::NS(NS(one_name(&fields, origin)?))),
        RecordType::PTR => Ok(RData::PTR(PTR(one_name(&fields, origin)?))),
        RecordType::MX => mx(&fields, origin),
        RecordType::SRV => srv(&fields, origin),
        RecordType::CAA => caa(text),
        _ => Err(format!("record type {rtype} is not supported")),
    }
}

fn one_name(fields: &[&str], origin: &Name) -> Result<Name, String> {
    match fields {
        [name] => parse_name(name, origin),
        _ => Err(format!("expected one name, found {:?}", fields.join(" "))),
    }
}

fn number<T: std::str::FromStr>(field: &str, what: &str) -> Result<T, String> {
    field
        .parse()
        .map_err(|_| format!("invalid {what} {field:?}"))
}

fn mx(fields: &[&str], origin: &Name) -> Result<RData, String> {
    match fields {
        [pref, exchange] => Ok(RData::MX(MX::new(
            number(pref, "MX preference (0..=65535)")?,
            parse_name(exchange, origin)?,
        ))),
        _ => Err("MX data must be \"<preference> <exchange>\"".to_string()),
    }
}

fn srv(fields: &[&str], origin: &Name) -> Result<RData, String> {
    match fields {
        [prio, weight, port, target] => Ok(RData::SRV(SRV::new(
            number(prio, "SRV priority (0..=65535)")?,
            number(weight, "SRV weight (0..=65535)")?,
            number(port, "SRV port (0..=65535)")?,
            parse_name(target, origin)?,
        ))),
        _ => Err("SRV data must be \"<priority> <weight> <port> <target>\"".to_string()),
    }
}

/// `<flags> <tag> "<value>"`, stored as the RFC 8659 wire form.
fn caa(text: &str) -> Result<RData, String> {
    let usage = || "CAA data must be `<flags> <tag> \"<value>\"`".to_string();
    let mut parts = text.trim().splitn(3, char::is_whitespace);
    let flags: u8 = number(parts.next().ok_or_else(usage)?, "CAA flags (0..=255)")?;
    let tag = parts.next().ok_or_else(usage)?;
    let value = parts.next().ok_or_else(usage)?.trim();
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .ok_or_else(usage)?;
    if tag.is_empty() || tag.len() > 15 || !tag.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!(
            "invalid CAA tag {tag:?}: 1 to 15 letters or digits"
        ));
    }
    let mut wire = vec![flags, tag.len() as u8];
    wire.extend_from_slice(tag.as_bytes());
    wire.extend_from_slice(value.as_bytes());
    let len = u16::try_from(wire.len()).map_err(|_| "CAA value too long".to_string())?;
    let mut decoder = BinDecoder::new(&wire);
    RData::read(&mut decoder, RecordType::CAA, Restrict::new(len))
        .map_err(|e| format!("invalid CAA data: {e}"))
}

fn split_txt(text: &str) -> Vec<String> {
    if text.is_empty() {
        return vec![String::new()];
    }
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut cut = rest.len().min(255);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push(rest[..cut].to_string());
        rest = &rest[cut..];
    }
    out
}

fn txt(parts: Vec<String>) -> Result<RData, String> {
    if parts.is_empty() {
        return Err("TXT data needs at least one string".to_string());
    }
    if let Some(long) = parts.iter().find(|p| p.len() > 255) {
        return Err(format!(
            "TXT string of {} bytes is longer than 255; give it as a single string to split it",
            long.len()
        ));
    }
    Ok(RData::TXT(TXT::new(parts)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Name {
        Name::from_ascii("example.test.").unwrap()
    }

    fn text(rtype: RecordType, s: &str) -> Result<RData, String> {
        parse(rtype, &Rdata::Text(s.to_string()), &origin())
    }

    #[test]
    fn names_are_relative_to_origin() {
        let o = origin();
        assert_eq!(parse_name("@", &o).unwrap(), o);
        assert_eq!(
            parse_name("www", &o).unwrap().to_ascii(),
            "www.example.test."
        );
        assert_eq!(parse_name("a.b.", &o).unwrap().to_ascii(), "a.b.");
        assert!(parse_name("a.*.b", &o).is_err());
        assert!(parse_name("*.b", &o).is_ok());
    }

    #[test]
    fn parses_each_type() {
        assert!(matches!(text(RecordType::A, "192.0.2.1"), Ok(RData::A(_))));
        assert!(text(RecordType::A, "192.0.2.300").is_err());
        assert!(matches!(
            text(RecordType::AAAA, "2001:db8::1"),
            Ok(RData::AAAA(_))
        ));
        assert!(matches!(text(RecordType::MX, "10 mail"), Ok(RData::MX(_))));
        assert!(text(RecordType::MX, "mail").is_err());
        assert!(matches!(
            text(RecordType::SRV, "1 2 443 sip"),
            Ok(RData::SRV(_))
        ));
        assert!(matches!(
            text(RecordType::CAA, "0 issue \"ca.example.net\""),
            Ok(RData::CAA(_))
        ));
        assert!(text(RecordType::CAA, "0 issue ca").is_err());
        assert!(matches!(text(RecordType::PTR, "host."), Ok(RData::PTR(_))));
    }

    #[test]
    fn long_txt_is_split_into_character_strings() {
        let long = "x".repeat(600);
        let Ok(RData::TXT(t)) = text(RecordType::TXT, &long) else {
            panic!("not TXT");
        };
        assert_eq!(t.txt_data.len(), 3);
        let multi = Rdata::Strings(vec!["a".into(), "b".into()]);
        assert!(parse(RecordType::TXT, &multi, &origin()).is_ok());
        assert!(parse(RecordType::A, &multi, &origin()).is_err());
    }
}
