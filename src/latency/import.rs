//! Measurement rows from CSV and JSON (imports, the state file, the API) and their application to a table.
//!
//! CSV: one `network,datacenter,rtt_ms[,samples[,updated]]` per line; `#` comments,
//! blank lines and a header line starting with `network` are skipped. `samples` (default
//! one) is how many measurements the row summarises; `updated` (Unix seconds, default
//! now) is when it was measured. JSON: an array of rows, or `{"datacenter": "...", "samples":
//! [...]}` where rows may omit `datacenter`; a row is `{"network", "datacenter",
//! "rtt_ms", "samples", "at"}`. A network shorter than the table prefix stands for every
//! table network inside it (at most 256). Bad rows are reported and skipped; good rows
//! still apply.

use std::fmt;
use std::fmt::Write as _;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::net::parse_network;
use super::table::LatencyTable;

/// Most errors kept in an [`Applied`] report.
pub(crate) const MAX_ERRORS: usize = 20;

/// One measurement row.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub(crate) network: IpNet,
    pub(crate) datacenter: String,
    pub(crate) rtt_ms: f64,
    pub(crate) samples: u32,
    /// Unix seconds of the measurement; `None`: now.
    pub(crate) at: Option<u64>,
}

/// A row that could not be used, with its 1-based line (CSV) or index (JSON).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RowError {
    pub(crate) line: usize,
    pub(crate) message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// What applying rows did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Applied {
    /// Table estimates updated (a wide network counts once per table network).
    pub(crate) accepted: usize,
    pub(crate) rejected: usize,
    pub(crate) evicted: usize,
    /// The first [`MAX_ERRORS`] errors, as `line N: message`.
    pub(crate) errors: Vec<String>,
}

impl Applied {
    pub(crate) fn error(&mut self, e: impl fmt::Display) {
        self.rejected += 1;
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(e.to_string());
        }
    }

    pub(crate) fn merge(&mut self, other: Applied) {
        self.accepted += other.accepted;
        self.evicted += other.evicted;
        self.rejected += other.rejected;
        for e in other.errors {
            if self.errors.len() < MAX_ERRORS {
                self.errors.push(e);
            }
        }
    }
}

/// Parses CSV or JSON (JSON when the text starts with `[` or `{`).
pub(crate) fn parse(text: &str) -> (Vec<Row>, Vec<RowError>) {
    match text.trim_start().as_bytes().first() {
        Some(b'[' | b'{') => parse_json(text, None),
        _ => parse_csv(text),
    }
}

/// Parses CSV rows.
pub(crate) fn parse_csv(text: &str) -> (Vec<Row>, Vec<RowError>) {
    let (mut rows, mut errors) = (Vec::new(), Vec::new());
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("network") {
            continue;
        }
        match csv_row(line) {
            Ok(row) => rows.push(row),
            Err(message) => errors.push(RowError {
                line: i + 1,
                message,
            }),
        }
    }
    (rows, errors)
}

fn csv_row(line: &str) -> Result<Row, String> {
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    if !(3..=5).contains(&fields.len()) {
        return Err(format!(
            "expected network,datacenter,rtt_ms[,samples[,updated]], found {} fields",
            fields.len()
        ));
    }
    let number = |name: &str, text: &str| -> Result<f64, String> {
        text.parse::<f64>()
            .map_err(|_| format!("{name}: invalid number {text:?}"))
    };
    let integer = |name: &str, text: &str| -> Result<u64, String> {
        text.parse::<u64>()
            .map_err(|_| format!("{name}: invalid integer {text:?}"))
    };
    let samples = match fields.get(3) {
        Some(s) if !s.is_empty() => {
            u32::try_from(integer("samples", s)?).map_err(|_| "samples: too large".to_string())?
        }
        _ => 1,
    };
    let at = match fields.get(4) {
        Some(s) if !s.is_empty() => Some(integer("updated", s)?),
        _ => None,
    };
    Ok(Row {
        network: parse_network(fields[0]).map_err(|e| e.to_string())?,
        datacenter: fields[1].to_string(),
        rtt_ms: number("rtt_ms", fields[2])?,
        samples,
        at,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRow {
    network: String,
    datacenter: Option<String>,
    rtt_ms: f64,
    samples: Option<u32>,
    at: Option<u64>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum JsonDoc {
    Rows(Vec<JsonRow>),
    Batch {
        datacenter: Option<String>,
        samples: Vec<JsonRow>,
    },
}

/// Parses JSON rows; `datacenter` is the default for rows without one.
pub(crate) fn parse_json(text: &str, datacenter: Option<&str>) -> (Vec<Row>, Vec<RowError>) {
    let doc: JsonDoc = match serde_json::from_str(text) {
        Ok(d) => d,
        Err(e) => {
            let message =
                format!("invalid JSON (expected an array of rows or {{\"samples\": [...]}}): {e}");
            let line = e.line();
            return (Vec::new(), vec![RowError { line, message }]);
        }
    };
    let (default, list) = match doc {
        JsonDoc::Rows(list) => (datacenter.map(str::to_string), list),
        JsonDoc::Batch {
            datacenter: d,
            samples,
        } => (d.or(datacenter.map(str::to_string)), samples),
    };
    let (mut rows, mut errors) = (Vec::new(), Vec::new());
    for (i, r) in list.into_iter().enumerate() {
        let row = parse_network(&r.network)
            .map_err(|e| e.to_string())
            .and_then(|network| {
                let datacenter = r
                    .datacenter
                    .or_else(|| default.clone())
                    .ok_or("datacenter: required")?;
                Ok(Row {
                    network,
                    datacenter,
                    rtt_ms: r.rtt_ms,
                    samples: r.samples.unwrap_or(1),
                    at: r.at,
                })
            });
        match row {
            Ok(row) => rows.push(row),
            Err(message) => errors.push(RowError {
                line: i + 1,
                message,
            }),
        }
    }
    (rows, errors)
}

/// Folds `rows` into `table` at time `now`; `check` may refuse a datacenter name.
pub(crate) fn apply(
    table: &mut LatencyTable,
    rows: &[Row],
    now: u64,
    check: &dyn Fn(&str) -> Result<(), String>,
) -> Applied {
    let mut out = Applied::default();
    let prefixes = table.prefixes();
    for (i, row) in rows.iter().enumerate() {
        if let Err(e) = check(&row.datacenter) {
            out.error(format!("row {}: {e}", i + 1));
            continue;
        }
        let keys = match prefixes.keys(row.network) {
            Ok(keys) => keys,
            Err(e) => {
                out.error(format!("row {}: {e}", i + 1));
                continue;
            }
        };
        let at = row.at.unwrap_or(now);
        for key in keys {
            match table.record(key, &row.datacenter, row.rtt_ms, row.samples, at, now) {
                Ok(evicted) => {
                    out.accepted += 1;
                    out.evicted += evicted;
                }
                Err(e) => {
                    out.error(format!("row {}: {e}", i + 1));
                    break;
                }
            }
        }
    }
    out
}

/// The table as CSV with an `updated` column (the state file format).
pub(crate) fn to_csv(table: &LatencyTable) -> String {
    let prefixes = table.prefixes();
    let mut out = String::from("network,datacenter,rtt_ms,samples,updated\n");
    for (key, dc, rtt) in table.iter() {
        let net = prefixes.network(key);
        let _ = writeln!(
            out,
            "{net},{dc},{:.3},{},{}",
            rtt.rtt_ms, rtt.samples, rtt.updated
        );
    }
    out
}

#[cfg(test)]
#[path = "import_tests.rs"]
mod tests;
