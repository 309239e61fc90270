//! One zone's signing: its keys and settings, the DNSKEY/CDS/CDNSKEY sets it publishes at
//! the apex, and the DS and DNSKEY lines for the parent.

use std::fmt::Write as _;
use std::sync::Arc;

use hickory_proto::rr::rdata::NULL;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::key::SigningKey;
use super::rrsig::name_wire;

/// The `[dnssec]` settings besides the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigningSettings {
    /// RRSIG expiration = now + this (seconds).
    pub validity: u32,
    /// Re-sign a cached signature when less than this remains (seconds).
    pub refresh: u32,
    /// Publish CDS and CDNSKEY for the KSK/CSK.
    pub cds: bool,
    /// Sign at all; false publishes the RFC 8078 delete CDS/CDNSKEY instead.
    pub enabled: bool,
}

/// A zone's keys and settings.
#[derive(Debug)]
pub struct Signing {
    /// CSK, or KSK then ZSK (empty when signing is off).
    pub keys: Vec<Arc<SigningKey>>,
    /// Keys published in the DNSKEY set (and CDS, for a KSK) without signing: the next key
    /// of a rollover.
    pub published: Vec<Arc<SigningKey>>,
    /// The settings.
    pub settings: SigningSettings,
    /// The apex in lowercase wire form (the RRSIG signer name).
    pub signer: Vec<u8>,
    /// The key files as the zone file names them (relative to its directory).
    pub files: Vec<String>,
}

impl Signing {
    /// Signing for the zone at `origin` with `keys` (the first signing keys, the others zone).
    pub fn new(origin: &Name, keys: Vec<Arc<SigningKey>>, settings: SigningSettings) -> Self {
        Self {
            keys,
            settings,
            signer: name_wire(origin),
            files: Vec::new(),
            published: Vec::new(),
        }
    }

    /// Whether answers are signed (DO=1).
    pub fn signs(&self) -> bool {
        self.settings.enabled && !self.keys.is_empty()
    }

    /// The key that signs sets of `rtype`: the KSK/CSK for DNSKEY, CDS and CDNSKEY, the
    /// ZSK/CSK for the rest.
    pub fn key_for(&self, rtype: RecordType) -> Option<&Arc<SigningKey>> {
        let keys = matches!(
            rtype,
            RecordType::DNSKEY | RecordType::CDS | RecordType::CDNSKEY
        );
        self.keys
            .iter()
            .find(|k| if keys { k.signs_keys() } else { k.signs_zone() })
    }

    /// The sets to publish at the apex, each with its TTL: DNSKEY (signing on), CDS and
    /// CDNSKEY (`cds = true`, or their delete form when signing is off).
    pub fn apex_sets(&self, origin: &Name, ttl: u32) -> Vec<(RecordType, Vec<Record>)> {
        let record = |rtype: RecordType, bytes: Vec<u8>| {
            let data = RData::Unknown {
                code: rtype,
                rdata: NULL::with(bytes),
            };
            Record::from_rdata(origin.clone(), ttl, data)
        };
        let mut out = Vec::new();
        if !self.settings.enabled {
            // RFC 8078 section 4: CDS 0 0 0 00, CDNSKEY 0 3 0 AA==.
            out.push((
                RecordType::CDS,
                vec![record(RecordType::CDS, vec![0, 0, 0, 0, 0])],
            ));
            out.push((
                RecordType::CDNSKEY,
                vec![record(RecordType::CDNSKEY, vec![0, 0, 3, 0, 0])],
            ));
            return out;
        }
        let dnskeys = self
            .all_keys()
            .map(|k| record(RecordType::DNSKEY, k.dnskey_rdata()))
            .collect();
        out.push((RecordType::DNSKEY, dnskeys));
        if self.settings.cds {
            let entry: Vec<&Arc<SigningKey>> = self.all_keys().filter(|k| k.signs_keys()).collect();
            let cds = entry
                .iter()
                .map(|k| record(RecordType::CDS, k.ds_rdata(&self.signer)))
                .collect();
            let cdnskey = entry
                .iter()
                .map(|k| record(RecordType::CDNSKEY, k.dnskey_rdata()))
                .collect();
            out.push((RecordType::CDS, cds));
            out.push((RecordType::CDNSKEY, cdnskey));
        }
        out
    }

    /// The signing keys, then the published ones.
    fn all_keys(&self) -> impl Iterator<Item = &Arc<SigningKey>> {
        self.keys.iter().chain(&self.published)
    }

    /// The DS lines of the KSK/CSK, then every DNSKEY line, in zone-file presentation
    /// format with absolute owner, `ttl` and class IN: what the parent zone holds.
    pub fn parent_lines(&self, origin: &Name, ttl: u32) -> Vec<String> {
        let owner = origin.to_ascii();
        let mut out = Vec::new();
        for k in self.all_keys().filter(|k| k.signs_keys()) {
            let ds = k.ds_rdata(&self.signer);
            let digest = ds[4..].iter().fold(String::new(), |mut hex, b| {
                let _ = write!(hex, "{b:02X}");
                hex
            });
            out.push(format!(
                "{owner} {ttl} IN DS {} {} 2 {digest}",
                k.tag,
                k.algorithm.number()
            ));
        }
        for k in self.all_keys() {
            out.push(format!(
                "{owner} {ttl} IN DNSKEY {} 3 {} {} ; {} key tag {}",
                k.role.flags(),
                k.algorithm.number(),
                k.public_base64(),
                k.role.as_str().to_uppercase(),
                k.tag
            ));
        }
        out
    }
}

/// A DNSKEY RDATA in presentation format (explain, tests).
pub fn dnskey_text(rdata: &[u8]) -> String {
    match rdata {
        [f0, f1, p, a, key @ ..] => format!(
            "{} {p} {a} {}",
            u16::from_be_bytes([*f0, *f1]),
            BASE64.encode(key)
        ),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dnssec::{Algorithm, KeyRole};

    #[test]
    fn dnskey_text_writes_flags_protocol_algorithm_and_the_key_in_base64() {
        let pem = SigningKey::generate_pem(Algorithm::EcdsaP256Sha256);
        let key = SigningKey::from_pem(&pem, Algorithm::EcdsaP256Sha256, KeyRole::Csk).unwrap();
        let text = dnskey_text(&key.dnskey_rdata());
        assert_eq!(text, format!("257 3 13 {}", key.public_base64()));
        let public = BASE64.decode(text.rsplit(' ').next().unwrap()).unwrap();
        assert_eq!(public.len(), 64, "P-256 point without its 0x04 prefix");
        assert_eq!(public, key.dnskey_rdata()[4..]);
        assert_eq!(dnskey_text(&[1, 0, 3]), "");
    }
}
