//! The override file: read at start, then polled at runtime; valid new content goes to the tracker.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::overrides::{LineError, Override, parse_override_file};
use super::tracker::TrackerMsg;

#[derive(Debug, thiserror::Error)]
pub enum OverrideFileError {
    #[error("reading override file {path}")]
    Read { path: PathBuf, source: io::Error },
    #[error("override file {path}: {}", join(.errors))]
    Invalid {
        path: PathBuf,
        errors: Vec<LineError>,
    },
}

fn join(errors: &[LineError]) -> String {
    let parts: Vec<String> = errors.iter().map(ToString::to_string).collect();
    parts.join("; ")
}

/// Reads and parses the override file; a missing file means no overrides. Returns the raw text
/// too, so the watcher can tell when it changes.
pub(crate) fn read_override_file(
    path: &Path,
) -> Result<(String, Vec<Override>), OverrideFileError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            let path = path.to_owned();
            return Err(OverrideFileError::Read { path, source });
        }
    };
    let overrides = parse_override_file(&text).map_err(|errors| OverrideFileError::Invalid {
        path: path.to_owned(),
        errors,
    })?;
    Ok((text, overrides))
}

/// Polls the file every `poll`; new valid content replaces every file override, invalid content
/// is logged and the previous overrides stay. Deleting the file clears them.
pub(crate) async fn watch_override_file(
    path: PathBuf,
    poll: Duration,
    mut last_text: String,
    tx: mpsc::UnboundedSender<TrackerMsg>,
    cancel: CancellationToken,
) {
    let mut ticker = tokio::time::interval(poll);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_error: Option<String> = None;
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let text = match tokio::fs::read_to_string(&path).await {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                report_once(
                    &mut last_error,
                    format!("reading override file {}: {e}", path.display()),
                );
                continue;
            }
        };
        if text == last_text {
            continue;
        }
        match parse_override_file(&text) {
            Ok(overrides) => {
                tracing::info!(
                    "health: override file {} loaded, {} overrides",
                    path.display(),
                    overrides.len()
                );
                last_text = text;
                last_error = None;
                if tx.send(TrackerMsg::FileOverrides(overrides)).is_err() {
                    return;
                }
            }
            Err(errors) => {
                let err = OverrideFileError::Invalid {
                    path: path.clone(),
                    errors,
                };
                report_once(
                    &mut last_error,
                    format!("{err}; keeping the previous overrides"),
                );
            }
        }
    }
}

/// Logs a warning unless it repeats the previous one.
fn report_once(last: &mut Option<String>, message: String) {
    if last.as_deref() != Some(message.as_str()) {
        tracing::warn!("health: {message}");
        *last = Some(message);
    }
}
