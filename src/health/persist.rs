//! The last-known-state file: JSON, written atomically (temp file + rename), read at start.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::overrides::Forced;
use super::state::Observed;

pub(crate) const FORMAT_VERSION: u32 = 1;

/// What survives a restart: each target's observed state and the API overrides.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct PersistedState {
    pub(crate) version: u32,
    pub(crate) saved_at_unix_ms: u64,
    pub(crate) targets: BTreeMap<String, PersistedTarget>,
    #[serde(default)]
    pub(crate) overrides: Vec<PersistedOverride>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PersistedTarget {
    pub(crate) observed: Observed,
    pub(crate) since_unix_ms: u64,
}

/// An API override; `selector` uses the override-file syntax.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PersistedOverride {
    pub(crate) selector: String,
    pub(crate) state: Forced,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum PersistError {
    #[error("reading health state file {path}")]
    Read { path: PathBuf, source: io::Error },
    #[error("health state file {path} is not valid")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("health state file {path} has version {found}, expected {FORMAT_VERSION}")]
    Version { path: PathBuf, found: u32 },
    #[error("writing health state file {path}")]
    Write { path: PathBuf, source: io::Error },
}

pub(crate) fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The time `ms` after the epoch; the epoch itself if that is not representable.
pub(crate) fn from_unix_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH
        .checked_add(Duration::from_millis(ms))
        .unwrap_or(UNIX_EPOCH)
}

/// Reads the state file; `Ok(None)` when it does not exist.
pub(crate) fn load(path: &Path) -> Result<Option<PersistedState>, PersistError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            let path = path.to_owned();
            return Err(PersistError::Read { path, source });
        }
    };
    let state: PersistedState =
        serde_json::from_str(&text).map_err(|source| PersistError::Parse {
            path: path.to_owned(),
            source,
        })?;
    if state.version != FORMAT_VERSION {
        let (path, found) = (path.to_owned(), state.version);
        return Err(PersistError::Version { path, found });
    }
    Ok(Some(state))
}

/// Writes the state file atomically: a temporary file beside it, synced, then renamed over it.
pub(crate) async fn save(path: &Path, state: &PersistedState) -> Result<(), PersistError> {
    let wrap = |source| PersistError::Write {
        path: path.to_owned(),
        source,
    };
    let json = serde_json::to_vec_pretty(state).map_err(|e| wrap(io::Error::other(e)))?;
    let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
    tmp_name.push(format!(".tmp.{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let write = async {
        let mut file = tokio::fs::File::create(&tmp).await?;
        tokio::io::AsyncWriteExt::write_all(&mut file, &json).await?;
        file.sync_all().await?;
        tokio::fs::rename(&tmp, path).await
    };
    if let Err(e) = write.await {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(wrap(e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trip_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("health.json");
        assert!(load(&path).unwrap().is_none());
        let mut state = PersistedState {
            version: FORMAT_VERSION,
            saved_at_unix_ms: 1,
            ..Default::default()
        };
        state.targets.insert(
            "192.0.2.10/web".into(),
            PersistedTarget {
                observed: Observed::Down,
                since_unix_ms: 1_700_000_000_000,
            },
        );
        state.overrides.push(PersistedOverride {
            selector: "datacenter:eu-west".into(),
            state: Forced::Drain,
        });
        save(&path, &state).await.unwrap();
        assert_eq!(load(&path).unwrap(), Some(state));
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file remains");

        std::fs::write(&path, "{not json").unwrap();
        assert!(matches!(load(&path), Err(PersistError::Parse { .. })));
        std::fs::write(&path, r#"{"version":9,"saved_at_unix_ms":0,"targets":{}}"#).unwrap();
        assert!(matches!(
            load(&path),
            Err(PersistError::Version { found: 9, .. })
        ));
    }
}
