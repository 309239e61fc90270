//! Admin authentication: where the bearer token comes from, and checking it in constant time.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::error::ApiError;

/// Environment variable that carries the token; it wins over both config keys.
pub const TOKEN_ENV: &str = crate::config::env::ADMIN_TOKEN_VAR;

/// Shortest token accepted, so a configured token is never trivially guessable.
pub const MIN_TOKEN_LEN: usize = 16;

/// Why no usable token could be resolved; `serve` should not start with one of these.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("set only one of `admin_token` and `admin_token_file`")]
    /// Both `admin_token` and `admin_token_file` are set.
    Ambiguous,
    #[error("{}: cannot read the admin token file: {source}", path.display())]
    /// The token file could not be read.
    Read {
        /// The token file.
        path: PathBuf,
        /// The read error.
        source: std::io::Error,
    },
    #[error("{origin}: the admin token must be at least {MIN_TOKEN_LEN} characters")]
    /// The token is shorter than [`MIN_TOKEN_LEN`].
    TooShort {
        /// Where the token came from.
        origin: String,
    },
    #[error("{origin}: the admin token may hold only visible ASCII characters")]
    /// The token holds characters other than visible ASCII.
    Invalid {
        /// Where the token came from.
        origin: String,
    },
}

/// The admin token from, in order: `env` (the value of `MERIDIAN_ADMIN_TOKEN`), the
/// `admin_token_file` key (the file's text, trailing whitespace removed), the `admin_token`
/// key. None when none is set: state-changing endpoints then always answer 403.
pub fn resolve_token(
    token: Option<&str>,
    token_file: Option<&Path>,
    env: Option<&str>,
) -> Result<Option<String>, TokenError> {
    if let Some(value) = env {
        return validate(TOKEN_ENV, value).map(Some);
    }
    match (token, token_file) {
        (Some(_), Some(_)) => Err(TokenError::Ambiguous),
        (Some(value), None) => validate("admin_token", value).map(Some),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|source| TokenError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            validate(&path.display().to_string(), text.trim_end()).map(Some)
        }
        (None, None) => Ok(None),
    }
}

fn validate(origin: &str, value: &str) -> Result<String, TokenError> {
    let origin = origin.to_string();
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(TokenError::Invalid { origin });
    }
    if value.len() < MIN_TOKEN_LEN {
        return Err(TokenError::TooShort { origin });
    }
    Ok(value.to_string())
}

/// The configured token and whether read-only endpoints need it too.
pub struct Auth {
    token: Option<String>,
    protect_reads: bool,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("protect_reads", &self.protect_reads)
            .finish()
    }
}

impl Auth {
    /// The guard for `token` (`None`: no token configured); `protect_reads` also guards the read-only routes.
    pub fn new(token: Option<String>, protect_reads: bool) -> Self {
        Self {
            token,
            protect_reads,
        }
    }

    /// Ok when `header` carries the configured bearer token; the refusal otherwise.
    pub(crate) fn check(&self, header: Option<&HeaderValue>) -> Result<(), ApiError> {
        let Some(expected) = &self.token else {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "the admin API is read-only until a token is configured \
                 (admin_token, admin_token_file or MERIDIAN_ADMIN_TOKEN)",
            ));
        };
        let Some(presented) = header.and_then(|h| bearer(h.as_bytes())) else {
            return Err(ApiError::unauthorized());
        };
        if bool::from(presented.ct_eq(expected.as_bytes())) {
            Ok(())
        } else {
            Err(ApiError::new(StatusCode::FORBIDDEN, "invalid admin token"))
        }
    }
}

/// The credentials of an `Authorization: Bearer <token>` value (scheme in any case).
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = rest.trim_ascii();
    (!token.is_empty()).then_some(token)
}

/// Middleware for state-changing routes: the token is always required.
pub(crate) async fn require_token(
    State(auth): State<Arc<Auth>>,
    req: Request,
    next: Next,
) -> Response {
    match auth.check(req.headers().get(AUTHORIZATION)) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

/// Middleware for read-only routes: the token is required only when reads are protected.
pub(crate) async fn guard_reads(
    State(auth): State<Arc<Auth>>,
    req: Request,
    next: Next,
) -> Response {
    if !auth.protect_reads {
        return next.run(req).await;
    }
    require_token(State(auth), req, next).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "0123456789abcdef-token";

    #[test]
    fn env_wins_then_exactly_one_config_key() {
        let got = resolve_token(Some("ignored-but-long-enough"), None, Some(GOOD)).unwrap();
        assert_eq!(got.as_deref(), Some(GOOD));
        assert_eq!(resolve_token(None, None, None).unwrap(), None);
        assert_eq!(
            resolve_token(Some(GOOD), None, None).unwrap().as_deref(),
            Some(GOOD)
        );
        let both = resolve_token(Some(GOOD), Some(Path::new("/nonexistent")), None);
        assert!(matches!(both, Err(TokenError::Ambiguous)));
    }

    #[test]
    fn file_is_read_and_trimmed_and_errors_name_the_path() {
        let dir = std::env::temp_dir().join(format!("meridian-ops-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token");
        std::fs::write(&path, format!("{GOOD}\n")).unwrap();
        assert_eq!(
            resolve_token(None, Some(&path), None).unwrap().as_deref(),
            Some(GOOD)
        );
        let missing = dir.join("missing");
        let e = resolve_token(None, Some(&missing), None).unwrap_err();
        assert!(
            e.to_string().starts_with(&missing.display().to_string()),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn short_or_spaced_tokens_are_refused() {
        let e = resolve_token(Some("short"), None, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "admin_token: the admin token must be at least 16 characters"
        );
        let e = resolve_token(None, None, Some("has a space in it!!")).unwrap_err();
        assert!(e.to_string().starts_with("MERIDIAN_ADMIN_TOKEN:"));
    }

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"bearer  abc "), Some(&b"abc"[..]));
        assert_eq!(bearer(b"Basic abc"), None);
        assert_eq!(bearer(b"Bearer "), None);
        assert_eq!(bearer(b"Bear"), None);
    }

    #[test]
    fn check_distinguishes_missing_wrong_and_unconfigured() {
        let auth = Auth::new(Some(GOOD.into()), false);
        let ok = HeaderValue::from_str(&format!("Bearer {GOOD}")).unwrap();
        assert!(auth.check(Some(&ok)).is_ok());
        let status = |r: Result<(), ApiError>| r.unwrap_err().status();
        assert_eq!(status(auth.check(None)), StatusCode::UNAUTHORIZED);
        let wrong = HeaderValue::from_static("Bearer 0123456789abcdef-tokem");
        assert_eq!(status(auth.check(Some(&wrong))), StatusCode::FORBIDDEN);
        let none = Auth::new(None, false);
        assert_eq!(status(none.check(Some(&ok))), StatusCode::FORBIDDEN);
        assert!(!format!("{auth:?}").contains(GOOD));
    }
}
