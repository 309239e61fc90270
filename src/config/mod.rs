//! Configuration: the only reader of configuration files (server settings, zone policy files and the files they name); runtime data files are read by their owners (README, Layout).

pub mod cluster;
pub mod compile;
pub(crate) mod compile_check;
pub(crate) mod compile_dnssec;
pub(crate) mod compile_latency;
pub(crate) mod compile_pool;
pub(crate) mod compile_service;
pub(crate) mod env;
pub(crate) mod error;
pub(crate) mod file;
pub(crate) mod rdata;
pub mod secret;
pub mod server;
pub(crate) mod service_file;

use std::path::{Path, PathBuf};

pub use cluster::ClusterConfig;
pub(crate) use error::ConfigError;
pub use error::ConfigErrors;
pub(crate) use server::LogFormat;
pub use server::ServerConfig;

use crate::zone::{Zone, ZoneSet};

/// Read the server config file (when given) and apply `MERIDIAN_*` environment overrides.
pub fn load_server(path: Option<&Path>) -> Result<ServerConfig, ConfigError> {
    let mut config = match path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| ConfigError::file(path, format!("cannot read: {e}")))?;
            ServerConfig::parse(path, &text)?
        }
        None => ServerConfig::default(),
    };
    let vars: Vec<(String, String)> = std::env::vars().collect();
    config.apply_env(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    Ok(config)
}

/// The zone files of a directory (`*.toml`, sorted by name).
pub(crate) fn zone_files(dir: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| ConfigError::file(dir, format!("cannot read: {e}")))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        // Hidden entries are editors' lock and swap files. Anything else named *.toml is
        // a zone file: if it is a directory or a dangling link, reading it fails loudly
        // instead of the zone silently disappearing.
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Load and compile every zone file in `dir`, collecting every error of every file.
pub fn load_zones(dir: &Path) -> Result<ZoneSet, ConfigErrors> {
    let files = zone_files(dir).map_err(|e| ConfigErrors(vec![e]))?;
    if files.is_empty() {
        return Err(ConfigErrors(vec![ConfigError::file(
            dir,
            "no zone files (*.toml) found",
        )]));
    }
    let mut errors = Vec::new();
    let mut zones: Vec<(PathBuf, Zone)> = Vec::new();
    for path in files {
        match load_zone(&path) {
            Ok(zone) => match zones.iter().find(|(_, z)| z.origin == zone.origin) {
                Some((first, _)) => errors.push(ConfigError::file(
                    &path,
                    format!(
                        "zone `{}` is already defined in {}",
                        zone.origin,
                        first.display()
                    ),
                )),
                None => zones.push((path, zone)),
            },
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(ZoneSet::new(zones.into_iter().map(|(_, z)| z)))
    } else {
        Err(ConfigErrors(errors))
    }
}

/// Read and compile one zone file.
pub fn load_zone(path: &Path) -> Result<Zone, Vec<ConfigError>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| vec![ConfigError::file(path, format!("cannot read: {e}"))])?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    digest.update(text.as_bytes());
    let mut read = |name: &str| {
        let aux = dir.join(name);
        let text = std::fs::read_to_string(&aux)
            .map_err(|e| format!("cannot read {}: {e}", aux.display()))?;
        digest.update(name.as_bytes());
        digest.update(text.as_bytes());
        Ok(text)
    };
    let mut zone = compile::compile_zone(path, &text, &mut read)?;
    if let Some(signing) = &zone.signing {
        compile_dnssec::check_key_modes(path, dir, &signing.files)?;
    }
    zone.source = path.display().to_string();
    zone.digest.copy_from_slice(digest.finish().as_ref());
    Ok(zone)
}
