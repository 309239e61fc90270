//! Reading a load value out of a probe reply: an HTTP header, a JSON body field (path
//! syntax `a.b.0.c`) or an agent-style TCP reply (HAProxy agent-check's forms). Pure.

use std::fmt;

/// Where a check finds the load in its reply (zone file `load_header`, `load_json`,
/// `load_agent`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LoadRead {
    /// The value of this response header: a number, optionally followed by `%`.
    Header(String),
    /// The number (or numeric string) at this dotted path in a JSON body: object keys and
    /// array indexes separated by `.`, e.g. `stats.0.load`.
    Json(String),
    /// The TCP reply's first line, read like an HAProxy agent-check answer.
    Agent,
}

/// A load value as a probe read it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sample {
    /// A value in the reporter's unit, compared with the `capacity`.
    Value(f64),
    /// Utilisation already in percent of capacity (agent `N%` replies say 100 − N).
    Percent(f64),
    /// `drain`, `maint`, `down`, `fail`, `stopped`: shed every client.
    Saturated,
}

impl Eq for Sample {}

/// What a probe read: a sample, or why its reply held none.
pub type LoadReading = Result<Sample, ReadError>;

/// Why a reply held no load value; counted and logged, the last value stays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadError {
    /// The header is absent.
    MissingHeader(String),
    /// The body is not JSON, or the path names nothing.
    MissingField(String),
    /// A value that is not a finite, non-negative number.
    NotANumber(String),
    /// An agent reply with no word Meridian understands.
    BadAgentReply(String),
}

impl ReadError {
    /// A fixed label for metrics.
    pub(crate) fn label(&self) -> &'static str {
        match self {
            ReadError::MissingHeader(_) => "missing_header",
            ReadError::MissingField(_) => "missing_field",
            ReadError::NotANumber(_) => "not_a_number",
            ReadError::BadAgentReply(_) => "bad_agent_reply",
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::MissingHeader(h) => write!(f, "no `{h}` header in the reply"),
            ReadError::MissingField(p) => write!(f, "no number at JSON path `{p}`"),
            ReadError::NotANumber(v) => write!(f, "load `{v}` is not a non-negative number"),
            ReadError::BadAgentReply(r) => write!(f, "agent reply `{r}` has no load or state"),
        }
    }
}

fn shown(text: &str) -> String {
    text.chars().take(64).collect()
}

/// A number, optionally followed by `%`, with surrounding whitespace.
pub(crate) fn number(text: &str) -> Result<f64, ReadError> {
    let t = text.trim();
    let t = t.strip_suffix('%').unwrap_or(t).trim_end();
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(ReadError::NotANumber(shown(text))),
    }
}

/// The number at `path` in a JSON document.
pub(crate) fn json_field(body: &[u8], path: &str) -> Result<f64, ReadError> {
    let missing = || ReadError::MissingField(path.to_owned());
    let doc: serde_json::Value = serde_json::from_slice(body).map_err(|_| missing())?;
    let mut at = &doc;
    for seg in path.split('.').filter(|s| !s.is_empty()) {
        at = match at {
            serde_json::Value::Object(map) => map.get(seg),
            serde_json::Value::Array(items) => seg.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        }
        .ok_or_else(missing)?;
    }
    match at {
        serde_json::Value::Number(n) => n
            .as_f64()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| ReadError::NotANumber(n.to_string())),
        serde_json::Value::String(s) => number(s),
        other => Err(ReadError::NotANumber(shown(&other.to_string()))),
    }
}

/// Whether a JSON path is well formed: dot-separated non-empty segments.
pub(crate) fn valid_json_path(path: &str) -> bool {
    !path.is_empty()
        && path
            .split('.')
            .all(|s| !s.is_empty() && !s.contains(char::is_whitespace))
}

/// An agent reply: its first line (ended by CR or LF), words separated by spaces, tabs or
/// commas, anything after `#` a description. `N%` is the available weight, so the load is
/// `100 − N` percent of capacity; `drain`, `maint`, `down`, `fail` and `stopped` shed every
/// client; `up` and `ready` alone mean fully available (0 %); `maxconn:N` is ignored.
/// Several words combine (`up 75%`, `ready,60%`); the last percentage wins.
pub(crate) fn agent_reply(reply: &[u8]) -> Result<Sample, ReadError> {
    let line = reply
        .split(|&b| b == b'\n' || b == b'\r')
        .next()
        .unwrap_or_default();
    let text = String::from_utf8_lossy(line);
    let words = text.split('#').next().unwrap_or_default();
    let (mut weight, mut state, mut saturated, mut bad) = (None, false, false, false);
    for word in words.split([' ', '\t', ',']).filter(|w| !w.is_empty()) {
        let w = word.to_ascii_lowercase();
        match w.as_str() {
            "drain" | "maint" | "down" | "fail" | "stopped" => saturated = true,
            "up" | "ready" => state = true,
            _ if w.starts_with("maxconn:") => {}
            _ if w.ends_with('%') => match number(&w) {
                Ok(v) if v <= 100.0 => weight = Some(v),
                _ => bad = true,
            },
            _ => bad = true,
        }
    }
    if bad || !(saturated || state || weight.is_some()) {
        return Err(ReadError::BadAgentReply(shown(&text)));
    }
    Ok(if saturated {
        Sample::Saturated
    } else {
        Sample::Percent(100.0 - weight.unwrap_or(100.0))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_replies_in_haproxy_forms() {
        let p = |r: &str| agent_reply(r.as_bytes());
        assert_eq!(p("75%\n"), Ok(Sample::Percent(25.0)));
        assert_eq!(p("75%\r\n"), Ok(Sample::Percent(25.0)));
        assert_eq!(p("up 75%"), Ok(Sample::Percent(25.0)));
        assert_eq!(p("ready,60%\n"), Ok(Sample::Percent(40.0)));
        assert_eq!(p("UP\tmaxconn:30 100%"), Ok(Sample::Percent(0.0)));
        assert_eq!(p("0%"), Ok(Sample::Percent(100.0)));
        assert_eq!(p("up"), Ok(Sample::Percent(0.0)));
        assert_eq!(p("ready #all good"), Ok(Sample::Percent(0.0)));
        for s in [
            "drain",
            "maint\n",
            "down #disk full",
            "fail",
            "stopped",
            "up drain",
        ] {
            assert_eq!(p(s), Ok(Sample::Saturated), "{s}");
        }
        for s in [
            "",
            "\n",
            "hello",
            "75",
            "150%",
            "-5%",
            "up banana",
            "#only a note",
        ] {
            assert!(
                matches!(p(s), Err(ReadError::BadAgentReply(_))),
                "{s:?}: {:?}",
                p(s)
            );
        }
        assert_eq!(p("50%\nsecond line ignored"), Ok(Sample::Percent(50.0)));
    }

    #[test]
    fn json_paths_reach_objects_and_arrays() {
        let body = br#"{"load": 42, "a": {"b": [{"c": 7.5}, {"c": "12%"}]}, "s": "x", "n": -1}"#;
        assert_eq!(json_field(body, "load"), Ok(42.0));
        assert_eq!(json_field(body, "a.b.0.c"), Ok(7.5));
        assert_eq!(json_field(body, "a.b.1.c"), Ok(12.0));
        assert!(matches!(
            json_field(body, "a.b.2.c"),
            Err(ReadError::MissingField(_))
        ));
        assert!(matches!(
            json_field(body, "a.x"),
            Err(ReadError::MissingField(_))
        ));
        assert!(matches!(
            json_field(body, "s"),
            Err(ReadError::NotANumber(_))
        ));
        assert!(matches!(
            json_field(body, "n"),
            Err(ReadError::NotANumber(_))
        ));
        assert!(matches!(
            json_field(body, "a"),
            Err(ReadError::NotANumber(_))
        ));
        assert!(matches!(
            json_field(b"not json", "load"),
            Err(ReadError::MissingField(_))
        ));
        assert!(valid_json_path("a.b.0.c"));
        assert!(!valid_json_path("a..b"));
        assert!(!valid_json_path(""));
    }

    #[test]
    fn header_values_are_numbers_with_an_optional_percent() {
        assert_eq!(number(" 87.5 "), Ok(87.5));
        assert_eq!(number("90%"), Ok(90.0));
        for bad in ["", "high", "NaN", "inf", "-3", "1e999"] {
            assert!(number(bad).is_err(), "{bad}");
        }
    }
}
