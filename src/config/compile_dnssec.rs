//! Compile `[dnssec]`: read and check the key files, the validity and refresh settings.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use hickory_proto::rr::Name;
use toml::Spanned;

use super::compile_service::ReadAux;
use super::error::{ConfigError, Errors};
use super::file::DnssecFile;
use crate::dnssec::{Algorithm, KeyRole, Signing, SigningKey, SigningSettings};

/// Signature validity when the zone file does not set it.
pub(crate) const DEFAULT_VALIDITY_DAYS: i64 = 14;
const DAY: u32 = 86_400;

/// The zone's signing, or `None` with the errors recorded.
pub(crate) fn compile_dnssec(
    d: &Spanned<DnssecFile>,
    origin: &Name,
    errors: &mut Errors,
    read: &mut ReadAux,
) -> Option<Signing> {
    let span = d.span();
    let d = d.get_ref();
    let algorithm = match &d.algorithm {
        None => Algorithm::EcdsaP256Sha256,
        Some(a) => match Algorithm::from_name(a.get_ref()) {
            Some(alg) => alg,
            None => {
                let names: Vec<&str> = Algorithm::ALL.iter().map(|a| a.as_str()).collect();
                errors.at(
                    a.span(),
                    format!(
                        "unknown algorithm `{}`: expected one of {}",
                        a.get_ref(),
                        names.join(", ")
                    ),
                );
                return None;
            }
        },
    };
    let validity_days = match &d.signature_validity_days {
        Some(v) => errors.ranged::<i64>(v, 2..=365, "signature_validity_days")?,
        None => DEFAULT_VALIDITY_DAYS,
    };
    let refresh_days = match &d.refresh_days {
        Some(r) => errors.ranged::<i64>(r, 1..=validity_days - 1, "refresh_days")?,
        None => validity_days / 2,
    };
    let enabled = d.enabled.unwrap_or(true);
    let roles: Vec<(KeyRole, &Spanned<String>)> = match (&d.csk, &d.ksk, &d.zsk) {
        (Some(csk), None, None) => vec![(KeyRole::Csk, csk)],
        (None, Some(ksk), Some(zsk)) => vec![(KeyRole::Ksk, ksk), (KeyRole::Zsk, zsk)],
        (None, None, None) if !enabled => Vec::new(),
        _ => {
            errors.at(span, "[dnssec] needs either `csk`, or both `ksk` and `zsk`");
            return None;
        }
    };
    let mut keys = Vec::new();
    let mut files = Vec::new();
    for (role, file) in roles {
        let text = match read(file.get_ref()) {
            Ok(t) => t,
            Err(e) => {
                errors.at(file.span(), e);
                continue;
            }
        };
        match SigningKey::from_pem(&text, algorithm, role) {
            Ok(k) => keys.push(Arc::new(k)),
            Err(e) => errors.at(file.span(), format!("{}: {e}", file.get_ref())),
        }
        files.push(file.get_ref().clone());
    }
    let settings = SigningSettings {
        validity: validity_days as u32 * DAY,
        refresh: refresh_days as u32 * DAY,
        cds: d.cds.unwrap_or(false),
        enabled,
    };
    let mut signing = Signing::new(origin, keys, settings);
    signing.files = files;
    Some(signing)
}

/// Refuse key files every user may read (mode o+r): `chmod 600` (or 640 for a group).
pub(crate) fn check_key_modes(
    zone_file: &Path,
    dir: &Path,
    files: &[String],
) -> Result<(), Vec<ConfigError>> {
    let errors: Vec<ConfigError> = files
        .iter()
        .filter_map(|name| {
            let path = dir.join(name);
            let mode = std::fs::metadata(&path).ok()?.permissions().mode();
            (mode & 0o004 != 0).then(|| {
                ConfigError::file(
                    zone_file,
                    format!(
                        "DNSSEC key {} is readable by every user (mode {:o}): chmod 600 it",
                        path.display(),
                        mode & 0o777
                    ),
                )
            })
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}
