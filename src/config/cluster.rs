//! The `[cluster]` settings: etcd endpoints, names, credentials, lease and quorum (file, `MERIDIAN_CLUSTER_*`, defaults).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::secret::Secret;
use crate::health::QuorumRule;

/// Lease TTL bounds (seconds): an instance's votes vanish this long after it dies.
pub(crate) const LEASE_TTL_DEFAULT: u64 = 10;
pub(crate) const LEASE_TTL_RANGE: std::ops::RangeInclusive<u64> = 2..=300;
/// How long the last merged view is used while etcd is out of reach (seconds).
pub(crate) const STALE_AFTER_DEFAULT: u64 = 30;
pub(crate) const STALE_AFTER_RANGE: std::ops::RangeInclusive<u64> = 1..=3600;
/// Fewer known votes than this on a target and the local view decides.
pub(crate) const MIN_VOTERS_DEFAULT: usize = 2;
/// Accepted values of `min_voters`.
pub const MIN_VOTERS_RANGE: std::ops::RangeInclusive<usize> = 1..=1000;

/// Credentials and TLS material read from the files `[cluster]` names.
#[derive(Clone, Default)]
pub struct Secrets {
    pub(crate) user: Option<(String, String)>,
    pub(crate) tls_ca: Option<Vec<u8>>,
    pub(crate) tls_identity: Option<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("user", &self.user.as_ref().map(|(u, _)| u))
            .field("tls_ca", &self.tls_ca.is_some())
            .field("tls_identity", &self.tls_identity.is_some())
            .finish()
    }
}

/// `[cluster]`: run as one of several instances sharing health votes and overrides over etcd.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// etcd client URLs, e.g. `["http://10.0.0.1:2379", "https://10.0.0.2:2379"]`.
    pub(crate) endpoints: Vec<String>,
    /// The cluster's name: keys live under `/meridian/<name>/`.
    pub(crate) name: String,
    /// This instance's name (default: the host name); unique within the cluster.
    pub(crate) instance: String,
    /// A free-form region label shown in `/v1/cluster`.
    pub(crate) region: String,
    /// TLS to etcd: the CA that signed the servers' certificates, and a client certificate.
    pub(crate) tls_ca: Option<PathBuf>,
    pub(crate) tls_cert: Option<PathBuf>,
    pub(crate) tls_key: Option<PathBuf>,
    /// etcd authentication: a user and password, or a file holding `USER:PASSWORD`.
    pub(crate) user: Option<String>,
    pub(crate) password: Option<Secret>,
    pub(crate) token_file: Option<PathBuf>,
    /// TTL of this instance's lease (seconds, 2..=300): its votes vanish this long after it dies.
    pub(crate) lease_ttl_secs: u64,
    /// After this long without etcd (seconds, 1..=3600), decide on the local view alone.
    pub(crate) stale_after_secs: u64,
    /// `majority` (default), `all`, `any` or `up_fraction>F`; a check may name its own.
    pub(crate) quorum: String,
    /// Fewer known votes than this and the local view decides (1..=1000).
    pub(crate) min_voters: usize,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            endpoints: Vec::new(),
            name: "default".into(),
            instance: host_name(),
            region: String::new(),
            tls_ca: None,
            tls_cert: None,
            tls_key: None,
            user: None,
            password: None,
            token_file: None,
            lease_ttl_secs: LEASE_TTL_DEFAULT,
            stale_after_secs: STALE_AFTER_DEFAULT,
            quorum: "majority".into(),
            min_voters: MIN_VOTERS_DEFAULT,
        }
    }
}

impl ClusterConfig {
    /// Every problem with these settings, each naming its key.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.endpoints.is_empty() {
            return Err("`cluster.endpoints` must list at least one etcd endpoint".into());
        }
        for (key, value) in [("name", &self.name), ("instance", &self.instance)] {
            if !is_label(value) {
                return Err(format!(
                    "`cluster.{key}` {value:?} must be 1-63 letters, digits, `.`, `_` or `-`"
                ));
            }
        }
        ranged("lease_ttl_secs", self.lease_ttl_secs, LEASE_TTL_RANGE)?;
        ranged("stale_after_secs", self.stale_after_secs, STALE_AFTER_RANGE)?;
        ranged("min_voters", self.min_voters, MIN_VOTERS_RANGE)?;
        self.rule()?;
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err("`cluster.tls_cert` and `cluster.tls_key` go together".into());
        }
        if self.password.is_some() && self.user.is_none() {
            return Err("`cluster.password` needs `cluster.user`".into());
        }
        if self.token_file.is_some() && self.user.is_some() {
            return Err("set either `cluster.user`/`password` or `cluster.token_file`".into());
        }
        Ok(())
    }

    /// The cluster-wide quorum rule.
    pub fn rule(&self) -> Result<QuorumRule, String> {
        self.quorum
            .parse()
            .map_err(|e| format!("`cluster.quorum`: {e}"))
    }

    /// Reads the credential and TLS files; each error names its file.
    pub fn read_secrets(&self) -> Result<Secrets, String> {
        let read = |p: &PathBuf| {
            std::fs::read(p).map_err(|e| format!("{}: cannot read: {e}", p.display()))
        };
        let mut secrets = Secrets {
            tls_ca: self.tls_ca.as_ref().map(read).transpose()?,
            ..Secrets::default()
        };
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            secrets.tls_identity = Some((read(cert)?, read(key)?));
        }
        if let Some(user) = &self.user {
            let password = self.password.as_ref().map_or("", |p| p.as_str());
            secrets.user = Some((user.clone(), password.to_string()));
        }
        if let Some(path) = &self.token_file {
            let text = String::from_utf8(read(path)?)
                .map_err(|_| format!("{}: not UTF-8", path.display()))?;
            let Some((user, password)) = text.trim_end().split_once(':') else {
                return Err(format!("{}: expected USER:PASSWORD", path.display()));
            };
            secrets.user = Some((user.to_string(), password.to_string()));
        }
        Ok(secrets)
    }

    /// The key prefix every value of this cluster lives under.
    pub(crate) fn prefix(&self) -> String {
        format!("/meridian/{}/", self.name)
    }
}

fn ranged<T: PartialOrd + std::fmt::Display>(
    key: &str,
    v: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<(), String> {
    if range.contains(&v) {
        return Ok(());
    }
    let (lo, hi) = range.into_inner();
    Err(format!("`cluster.{key}` must be within {lo}..={hi}"))
}

/// A name usable as one etcd key segment (cluster and instance names).
pub(crate) fn is_label(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// This machine's host name, or `meridian` when it has none usable as an instance name.
pub(crate) fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its whole length; gethostname NUL-terminates within it
    // or truncates, and we stop at the first NUL either way.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).into_owned();
    if rc == 0 && is_label(&name) {
        name
    } else {
        "meridian".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> ClusterConfig {
        ClusterConfig {
            endpoints: vec!["http://127.0.0.1:2379".into()],
            instance: "ns1".into(),
            ..ClusterConfig::default()
        }
    }

    #[test]
    fn defaults_are_valid_once_endpoints_are_given() {
        assert!(ClusterConfig::default().validate().is_err());
        good().validate().unwrap();
        assert_eq!(good().prefix(), "/meridian/default/");
        assert!(is_label(&host_name()));
    }

    #[test]
    fn bad_values_are_named() {
        let mut c = good();
        c.lease_ttl_secs = 1;
        assert!(c.validate().unwrap_err().contains("lease_ttl_secs"));
        let mut c = good();
        c.quorum = "most".into();
        assert!(c.validate().unwrap_err().contains("cluster.quorum"));
        let mut c = good();
        c.instance = "a/b".into();
        assert!(c.validate().unwrap_err().contains("cluster.instance"));
    }
}
