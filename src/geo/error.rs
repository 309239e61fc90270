//! Typed errors for opening and reloading GeoIP databases; each names the file.

use std::path::PathBuf;

/// Why a GeoIP database could not be opened or swapped in.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    /// The file could not be opened or mapped.
    #[error("GeoIP database {}: cannot open", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not a readable MaxMind DB (truncated, corrupt, unsupported version).
    #[error("GeoIP database {}: not a valid MaxMind DB file", path.display())]
    Invalid {
        path: PathBuf,
        #[source]
        source: maxminddb::MaxMindDbError,
    },
    /// The file opened, but its records could not be decoded or carry nothing we read.
    #[error("GeoIP database {}: sanity lookup failed: {reason}", path.display())]
    Sanity { path: PathBuf, reason: String },
}

impl GeoError {
    /// The database file the error is about.
    pub(crate) fn path(&self) -> &std::path::Path {
        match self {
            Self::Open { path, .. } | Self::Invalid { path, .. } | Self::Sanity { path, .. } => {
                path
            }
        }
    }
}
