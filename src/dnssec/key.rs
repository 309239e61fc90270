//! Signing keys: PKCS#8 PEM in and out (ring), the DNSKEY RDATA, its key tag and DS digest.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};

const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_END: &str = "-----END PRIVATE KEY-----";

/// A DNSSEC signing algorithm Meridian signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// ECDSA P-256 with SHA-256 (13), the default.
    EcdsaP256Sha256,
    /// Ed25519 (15).
    Ed25519,
}

impl Algorithm {
    /// Every algorithm, in the order messages list them.
    pub const ALL: [Algorithm; 2] = [Algorithm::EcdsaP256Sha256, Algorithm::Ed25519];

    /// The name in zone files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::EcdsaP256Sha256 => "ecdsap256sha256",
            Algorithm::Ed25519 => "ed25519",
        }
    }

    /// The algorithm named `name` (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(name))
    }

    /// The IANA algorithm number.
    pub fn number(self) -> u8 {
        match self {
            Algorithm::EcdsaP256Sha256 => 13,
            Algorithm::Ed25519 => 15,
        }
    }
}

/// What a key signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRole {
    /// A combined key: the DNSKEY set and every other RRset.
    Csk,
    /// Key-signing key: the DNSKEY (and CDS/CDNSKEY) sets.
    Ksk,
    /// Zone-signing key: every other RRset.
    Zsk,
}

impl KeyRole {
    /// The DNSKEY flags: 257 (zone key, secure entry point) or 256 (zone key).
    pub fn flags(self) -> u16 {
        match self {
            KeyRole::Csk | KeyRole::Ksk => 257,
            KeyRole::Zsk => 256,
        }
    }

    /// `csk`, `ksk` or `zsk` (file names, messages).
    pub fn as_str(self) -> &'static str {
        match self {
            KeyRole::Csk => "csk",
            KeyRole::Ksk => "ksk",
            KeyRole::Zsk => "zsk",
        }
    }
}

enum Pair {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A loaded private key with its role.
pub struct SigningKey {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The role (it decides the DNSKEY flags).
    pub role: KeyRole,
    /// The public key as DNSKEY carries it.
    public: Vec<u8>,
    /// The RFC 4034 appendix B key tag.
    pub tag: u16,
    /// The first bytes of SHA-256 of the DNSKEY RDATA: tells keys apart in the cache.
    pub id: [u8; 8],
    pair: Pair,
    rng: SystemRandom,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm)
            .field("role", &self.role)
            .field("tag", &self.tag)
            .finish()
    }
}

/// Why a key file does not load.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// Not a PEM `PRIVATE KEY` block.
    #[error("not a PKCS#8 PEM file (`{PEM_BEGIN}` ... `{PEM_END}`)")]
    NotPem,
    /// The PKCS#8 document is not a key of the configured algorithm.
    #[error("not a {0} private key (PKCS#8): {1}")]
    WrongKey(&'static str, String),
}

impl SigningKey {
    /// Load a PKCS#8 PEM `text` as a key of `algorithm` in `role`.
    pub fn from_pem(text: &str, algorithm: Algorithm, role: KeyRole) -> Result<Self, KeyError> {
        let der = pem_body(text).ok_or(KeyError::NotPem)?;
        Self::from_pkcs8(&der, algorithm, role)
    }

    /// Load PKCS#8 DER.
    pub fn from_pkcs8(der: &[u8], algorithm: Algorithm, role: KeyRole) -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        let wrong =
            |e: ring::error::KeyRejected| KeyError::WrongKey(algorithm.as_str(), e.to_string());
        let (pair, public) = match algorithm {
            Algorithm::EcdsaP256Sha256 => {
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
                    .map_err(wrong)?;
                // Uncompressed point 0x04 || x || y; DNSKEY carries x || y (RFC 6605).
                let public = pair.public_key().as_ref()[1..].to_vec();
                (Pair::Ecdsa(pair), public)
            }
            Algorithm::Ed25519 => {
                let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(wrong)?;
                let public = pair.public_key().as_ref().to_vec();
                (Pair::Ed25519(pair), public)
            }
        };
        let mut key = Self {
            algorithm,
            role,
            public,
            tag: 0,
            id: [0; 8],
            pair,
            rng,
        };
        let rdata = key.dnskey_rdata();
        key.tag = key_tag(&rdata);
        let digest = ring::digest::digest(&ring::digest::SHA256, &rdata);
        key.id.copy_from_slice(&digest.as_ref()[..8]);
        Ok(key)
    }

    /// A new key of `algorithm` as PKCS#8 PEM text.
    pub fn generate_pem(algorithm: Algorithm) -> String {
        let rng = SystemRandom::new();
        let doc = match algorithm {
            Algorithm::EcdsaP256Sha256 => {
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            }
            Algorithm::Ed25519 => Ed25519KeyPair::generate_pkcs8(&rng),
        }
        .expect("the system random source works");
        pem(doc.as_ref())
    }

    /// The DNSKEY RDATA: flags, protocol 3, algorithm, public key.
    pub fn dnskey_rdata(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.public.len());
        out.extend_from_slice(&self.role.flags().to_be_bytes());
        out.push(3);
        out.push(self.algorithm.number());
        out.extend_from_slice(&self.public);
        out
    }

    /// The public key in base64, as the DNSKEY presentation format writes it.
    pub fn public_base64(&self) -> String {
        BASE64.encode(&self.public)
    }

    /// The DS RDATA (digest type 2, SHA-256) for this key at `owner_wire` (lowercase wire form).
    pub fn ds_rdata(&self, owner_wire: &[u8]) -> Vec<u8> {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(owner_wire);
        ctx.update(&self.dnskey_rdata());
        let mut out = Vec::with_capacity(36);
        out.extend_from_slice(&self.tag.to_be_bytes());
        out.push(self.algorithm.number());
        out.push(2);
        out.extend_from_slice(ctx.finish().as_ref());
        out
    }

    /// Sign `message`: 64 bytes (r || s for ECDSA, RFC 6605; the Ed25519 signature).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match &self.pair {
            Pair::Ecdsa(p) => p
                .sign(&self.rng, message)
                .map(|s| s.as_ref().to_vec())
                .unwrap_or_default(),
            Pair::Ed25519(p) => p.sign(message).as_ref().to_vec(),
        }
    }

    /// Whether this key signs the DNSKEY, CDS and CDNSKEY sets.
    pub fn signs_keys(&self) -> bool {
        matches!(self.role, KeyRole::Csk | KeyRole::Ksk)
    }

    /// Whether this key signs the other sets.
    pub fn signs_zone(&self) -> bool {
        matches!(self.role, KeyRole::Csk | KeyRole::Zsk)
    }
}

/// RFC 4034 appendix B.
pub fn key_tag(rdata: &[u8]) -> u16 {
    let mut acc: u32 = 0;
    for (i, b) in rdata.iter().enumerate() {
        acc += if i & 1 == 0 {
            u32::from(*b) << 8
        } else {
            u32::from(*b)
        };
    }
    acc += (acc >> 16) & 0xffff;
    (acc & 0xffff) as u16
}

/// The DER inside a PEM `PRIVATE KEY` block.
fn pem_body(text: &str) -> Option<Vec<u8>> {
    let start = text.find(PEM_BEGIN)? + PEM_BEGIN.len();
    let end = start + text[start..].find(PEM_END)?;
    let body: String = text[start..end].split_ascii_whitespace().collect();
    BASE64.decode(body).ok().filter(|d| !d.is_empty())
}

/// DER as a PEM `PRIVATE KEY` block with 64-character lines.
fn pem(der: &[u8]) -> String {
    let b64 = BASE64.encode(der);
    let mut out = format!("{PEM_BEGIN}\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(PEM_END);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_load_and_sign() {
        for alg in Algorithm::ALL {
            let pem = SigningKey::generate_pem(alg);
            let key = SigningKey::from_pem(&pem, alg, KeyRole::Csk).unwrap();
            assert_eq!(key.sign(b"x").len(), 64);
            assert_eq!(key.dnskey_rdata()[..4], [1, 1, 3, alg.number()]);
            let other = Algorithm::ALL.into_iter().find(|a| *a != alg).unwrap();
            assert!(matches!(
                SigningKey::from_pem(&pem, other, KeyRole::Csk),
                Err(KeyError::WrongKey(..))
            ));
        }
        assert_eq!(
            SigningKey::from_pem("hello", Algorithm::Ed25519, KeyRole::Zsk).unwrap_err(),
            KeyError::NotPem
        );
    }

    #[test]
    fn pem_bodies_round_trip_every_length_and_refuse_what_is_not_base64() {
        for n in 1..70u8 {
            let der: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37)).collect();
            assert_eq!(pem_body(&pem(&der)).unwrap(), der, "{n} bytes");
        }
        let lines = format!("{PEM_BEGIN}\r\n  Zm9v\r\n YmFy \n{PEM_END}\n");
        assert_eq!(pem_body(&lines).unwrap(), b"foobar");
        assert_eq!(BASE64.encode(b"fo"), "Zm8=");
        for bad in ["Zm9v!", "Zm8=Zm8=", "Zm8==="] {
            assert!(
                pem_body(&format!("{PEM_BEGIN}\n{bad}\n{PEM_END}")).is_none(),
                "{bad}"
            );
        }
        assert!(
            pem_body(&format!("{PEM_BEGIN}\n{PEM_END}")).is_none(),
            "empty"
        );
    }

    #[test]
    fn key_tag_matches_rfc_4034_example() {
        // The DNSKEY of RFC 4034 section 5.4's DS example has key tag 60485.
        let b64 = "AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw==";
        let mut rdata = vec![1, 0, 3, 5];
        rdata.extend(BASE64.decode(b64).unwrap());
        assert_eq!(key_tag(&rdata), 60485);
    }
}
