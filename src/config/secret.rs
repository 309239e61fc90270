//! A setting whose value is kept out of `Debug` output (tokens, passwords).

use serde::{Deserialize, Serialize};

/// A string kept out of `Debug` output (tokens).
#[derive(Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}
