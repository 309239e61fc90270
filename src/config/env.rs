//! `MERIDIAN_*` environment variables: the few that are not settings, and how the rest overlay the server settings.
//!
//! `MERIDIAN_<KEY>` sets the setting `<key>` (lower case). Which keys exist, and the type
//! of each, come from the settings struct itself through serde: the settings are
//! serialized to a TOML table, a variable's value is read as the type the table holds
//! for its key (integers, floats and booleans parsed, lists comma-separated, maps as
//! `KEY=VALUE` pairs, anything else a string), and the table is deserialized again, so
//! `deny_unknown_fields` rejects a misspelled variable as it rejects a misspelled key in
//! the file. A section (a struct field, such as a future `[cluster]`) is a nested table:
//! `MERIDIAN_CLUSTER_PEERS` sets `peers` in `[cluster]` when there is no top-level key
//! `cluster_peers`. Its struct must deny unknown fields too.

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;
use toml::{Table, Value};

use super::error::ConfigError;

/// Every setting's variable starts with this.
pub(crate) const PREFIX: &str = "MERIDIAN_";
/// The server config file (`--config`).
pub(crate) const CONFIG_VAR: &str = "MERIDIAN_CONFIG";
/// The admin token itself; it wins over `admin_token` and `admin_token_file`.
pub(crate) const ADMIN_TOKEN_VAR: &str = "MERIDIAN_ADMIN_TOKEN";
/// The token `meridian agent` sends.
pub(crate) const AGENT_TOKEN_VAR: &str = "MERIDIAN_AGENT_TOKEN";
/// The binary the scripts in `bench/` run.
pub(crate) const BENCH_BIN_VAR: &str = "MERIDIAN_BIN";

/// The `MERIDIAN_*` variables that are not settings. Any other one must name a setting.
pub(crate) const NOT_SETTINGS: [&str; 4] =
    [CONFIG_VAR, ADMIN_TOKEN_VAR, AGENT_TOKEN_VAR, BENCH_BIN_VAR];

/// `settings` with every `MERIDIAN_*` variable of `vars` applied, in order. An error names
/// the variable: one that names no setting, or whose value does not fit the setting.
pub(crate) fn overlay<'a, T: Serialize + DeserializeOwned>(
    settings: T,
    vars: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<T, ConfigError> {
    let mut table = Table::try_from(&settings)
        .map_err(|e| ConfigError::file(Path::new("environment"), format!("settings: {e}")))?;
    let mut changed = false;
    for (var, value) in vars {
        let Some(name) = var.strip_prefix(PREFIX) else {
            continue;
        };
        if NOT_SETTINGS.contains(&var) {
            continue;
        }
        let fail = |m: String| ConfigError::file(Path::new(var), m);
        let path = key_path(&table, &name.to_ascii_lowercase());
        let (key, sections) = path.split_last().expect("a path has a key");
        let section = sections.iter().fold(&mut table, |t, s| {
            t.get_mut(s)
                .and_then(Value::as_table_mut)
                .expect("key_path only walks into tables")
        });
        let known = section.contains_key(key);
        let typed = typed(section.get(key), value).map_err(&fail)?;
        section.insert(key.clone(), typed);
        // Deserialized after each variable, so an error is this variable's.
        if let Err(e) = Value::Table(table.clone()).try_into::<T>() {
            let e = e.to_string().trim_end().replace('\n', " ");
            let e = e.as_str();
            return Err(fail(if known {
                format!("invalid value {value:?}: {e}")
            } else {
                not_a_setting(&path, e)
            }));
        }
        changed = true;
    }
    if !changed {
        return Ok(settings);
    }
    Value::Table(table)
        .try_into()
        .map_err(|e| ConfigError::file(Path::new("environment"), e.to_string()))
}

fn not_a_setting(path: &[String], serde: &str) -> String {
    let name = path.join(".");
    format!(
        "`{name}` is not a server setting ({serde}); the settings are the keys of the server \
         config file, and the only other MERIDIAN_* variables are {}",
        NOT_SETTINGS.join(", ")
    )
}

/// Where `name` (a variable without its prefix, lower case) goes: a top-level key, or a
/// key inside the section whose name and `_` start it.
fn key_path(table: &Table, name: &str) -> Vec<String> {
    if !table.contains_key(name) {
        let section = table
            .iter()
            .filter(|(k, v)| {
                v.is_table()
                    && name.len() > k.len() + 1
                    && name.starts_with(k.as_str())
                    && name.as_bytes()[k.len()] == b'_'
            })
            .max_by_key(|(k, _)| k.len());
        if let Some((k, Value::Table(inner))) = section {
            let mut path = vec![k.clone()];
            path.extend(key_path(inner, &name[k.len() + 1..]));
            return path;
        }
    }
    vec![name.to_string()]
}

/// `raw` read as the type of the value it replaces (a string when there is none).
fn typed(current: Option<&Value>, raw: &str) -> Result<Value, String> {
    let invalid = |e: &dyn std::fmt::Display| format!("invalid value {raw:?}: {e}");
    let items = || raw.split(',').map(str::trim).filter(|s| !s.is_empty());
    Ok(match current {
        Some(Value::Integer(_)) => Value::Integer(raw.trim().parse().map_err(|e| invalid(&e))?),
        Some(Value::Float(_)) => Value::Float(raw.trim().parse().map_err(|e| invalid(&e))?),
        Some(Value::Boolean(_)) => Value::Boolean(raw.trim().parse().map_err(|e| invalid(&e))?),
        Some(Value::Array(list)) => Value::Array(
            items()
                .map(|item| typed(list.first(), item))
                .collect::<Result<_, _>>()?,
        ),
        Some(Value::Table(_)) => Value::Table(
            items()
                .map(|pair| match pair.split_once('=') {
                    Some((k, v)) => Ok((k.trim().to_string(), Value::String(v.trim().into()))),
                    None => Err(format!("expected KEY=VALUE pairs, found {pair:?}")),
                })
                .collect::<Result<_, _>>()?,
        ),
        Some(Value::String(_) | Value::Datetime(_)) | None => Value::String(raw.to_string()),
    })
}

#[cfg(test)]
#[path = "env_tests.rs"]
mod tests;
