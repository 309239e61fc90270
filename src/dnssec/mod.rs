//! DNSSEC: signing keys (PKCS#8 PEM), RRSIG and compact-denial NSEC records, the signature cache.
//!
//! Pure and below `zone`: a compiled zone holds its `Signing` (keys and settings); the query
//! path (`dns/sign.rs`) asks the shared `SigCache` for each RRset's signature.

pub mod cache;
pub mod key;
pub mod rrsig;
pub mod signing;

pub use cache::SigCache;
pub use key::{Algorithm, KeyRole, SigningKey};
pub use signing::{Signing, SigningSettings};
