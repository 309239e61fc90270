//! The `meridian dnssec keygen|ds` commands.

use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::StartError;
use crate::config::{self, ServerConfig};
use crate::dnssec::{Algorithm, KeyRole, SigningKey};

/// `meridian dnssec keygen`: new key files in `dir` (mode 0600, never overwriting), and the
/// `[dnssec]` table naming them.
pub fn keygen(zone: &str, dir: &Path, algorithm: &str, split: bool) -> Result<String, StartError> {
    let algorithm = Algorithm::from_name(algorithm).ok_or_else(|| {
        let names: Vec<&str> = Algorithm::ALL.iter().map(|a| a.as_str()).collect();
        StartError::Runtime(anyhow::anyhow!(
            "unknown algorithm `{algorithm}`: expected one of {}",
            names.join(", ")
        ))
    })?;
    let zone = zone.trim_end_matches('.').to_ascii_lowercase();
    let roles: &[KeyRole] = if split {
        &[KeyRole::Ksk, KeyRole::Zsk]
    } else {
        &[KeyRole::Csk]
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| StartError::Runtime(anyhow::anyhow!("creating {}: {e}", dir.display())))?;
    let mut snippet = format!("[dnssec]\nalgorithm = \"{}\"\n", algorithm.as_str());
    for role in roles {
        let path = dir.join(format!("{zone}.{}.pem", role.as_str()));
        let pem = SigningKey::generate_pem(algorithm);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| f.write_all(pem.as_bytes()))
            .map_err(|e| StartError::Runtime(anyhow::anyhow!("writing {}: {e}", path.display())))?;
        let key = SigningKey::from_pem(&pem, algorithm, *role)
            .map_err(|e| StartError::Runtime(anyhow::anyhow!("{}: {e}", path.display())))?;
        let _ = writeln!(
            snippet,
            "{} = \"{}\"   # key tag {}",
            role.as_str(),
            path.display(),
            key.tag
        );
    }
    Ok(snippet)
}

/// `meridian dnssec ds`: the DS and DNSKEY lines of `zone` for its parent.
pub fn ds(config: &ServerConfig, zone: &str, zones: Option<&Path>) -> Result<String, StartError> {
    let dir = zones.unwrap_or(&config.zones_dir);
    let set = config::load_zones(dir).map_err(StartError::Config)?;
    let want = zone.trim_end_matches('.').to_ascii_lowercase();
    let found = set
        .iter()
        .find(|z| z.name.trim_end_matches('.').eq_ignore_ascii_case(&want))
        .ok_or_else(|| {
            StartError::Runtime(anyhow::anyhow!("no zone `{zone}` in {}", dir.display()))
        })?;
    let signing = found
        .signing
        .as_ref()
        .filter(|s| s.signs())
        .ok_or_else(|| {
            StartError::Runtime(anyhow::anyhow!(
                "zone `{zone}` is not signed (no [dnssec] table, or enabled = false)"
            ))
        })?;
    let ttl = found.soa.ttl;
    let mut out = String::new();
    for line in signing.parent_lines(&found.origin, ttl) {
        out.push_str(&line);
        out.push('\n');
    }
    Ok(out)
}
