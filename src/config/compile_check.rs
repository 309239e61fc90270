//! Compile a zone file's `[checks.NAME]` tables into health `CheckSpec`s, every error located.

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;

use toml::Spanned;

use super::error::Errors;
use super::service_file::{CheckFile, Named, Seconds, StatusValue};
use crate::health::check::{
    CheckKind, CheckSpec, CheckType, FALL_RANGE, HttpCheck, HttpMethod, MAX_BODY_RANGE, RISE_RANGE,
    StatusRange, TcpCheck,
};

/// Every check of a zone file by name; invalid ones are reported and left out.
pub(crate) fn compile_checks(
    checks: &Named<CheckFile>,
    errors: &mut Errors,
) -> HashMap<String, Arc<CheckSpec>> {
    let mut out = HashMap::new();
    for (name, file) in checks {
        if let Some(spec) = compile_check(name, file, errors) {
            out.insert(name.get_ref().clone(), Arc::new(spec));
        }
    }
    out
}

fn compile_check(
    name: &Spanned<String>,
    file: &Spanned<CheckFile>,
    errors: &mut Errors,
) -> Option<CheckSpec> {
    let f = file.get_ref();
    let before = errors.list.len();
    let Some(check_type) = CheckType::from_name(f.kind.get_ref()) else {
        let names: Vec<String> = CheckType::ALL
            .iter()
            .map(|t| format!("`{}`", t.as_str()))
            .collect();
        let (last, rest) = names.split_last().expect("at least one check type");
        errors.at(
            f.kind.span(),
            format!(
                "unknown check type `{}`; expected {} or {last}",
                f.kind.get_ref(),
                rest.join(", ")
            ),
        );
        return None;
    };
    let kind = match check_type {
        CheckType::Http => CheckKind::Http(http(f, errors)),
        CheckType::Https => CheckKind::Https(http(f, errors)),
        CheckType::Tcp => CheckKind::Tcp(tcp(f, errors)),
    };
    if !matches!(kind, CheckKind::Tcp(_)) {
        for (key, v) in [("send", &f.send), ("expect", &f.expect)] {
            if let Some(v) = v {
                errors.at(v.span(), format!("`{key}` applies to tcp checks only"));
            }
        }
    }
    let mut spec = CheckSpec::new(name.get_ref().as_str(), kind);
    if let Some(p) = &f.port {
        spec.port = errors.ranged(p, 1..=65535, "port");
    }
    set_duration(&mut spec.interval, &f.interval, "interval", errors);
    set_duration(&mut spec.timeout, &f.timeout, "timeout", errors);
    set_duration(&mut spec.jitter, &f.jitter, "jitter", errors);
    if let Some(v) = &f.rise {
        spec.rise = errors
            .ranged(v, wide(&RISE_RANGE), "rise")
            .unwrap_or(spec.rise);
    }
    if let Some(v) = &f.fall {
        spec.fall = errors
            .ranged(v, wide(&FALL_RANGE), "fall")
            .unwrap_or(spec.fall);
    }
    if let Some(q) = &f.quorum {
        match q.get_ref().parse() {
            Ok(rule) => spec.quorum = Some(rule),
            Err(e) => errors.at(q.span(), e),
        }
    }
    super::compile_load::check(f, &mut spec, name.span(), errors);
    if errors.list.len() > before {
        return None;
    }
    // A tcp check may leave `port` to its members (`probe = "IP:PORT"`); the pool
    // compiler reports a member that gives none.
    let portless_tcp = matches!(spec.kind, CheckKind::Tcp(_)) && spec.port.is_none();
    for e in spec.validate() {
        if portless_tcp && e.field == "port" {
            continue;
        }
        let span = field_span(f, e.field).unwrap_or_else(|| name.span());
        errors.at(span, format!("check `{}`: {e}", name.get_ref()));
    }
    (errors.list.len() == before).then_some(spec)
}

/// The span of the key a validation error names, to point at it.
fn field_span(f: &CheckFile, field: &str) -> Option<std::ops::Range<usize>> {
    let seconds = |v: &Option<Spanned<Seconds>>| v.as_ref().map(Spanned::span);
    let int = |v: &Option<Spanned<i64>>| v.as_ref().map(Spanned::span);
    let text = |v: &Option<Spanned<String>>| v.as_ref().map(Spanned::span);
    match field {
        "interval" => seconds(&f.interval),
        "timeout" => seconds(&f.timeout),
        "jitter" => seconds(&f.jitter),
        "rise" => int(&f.rise),
        "fall" => int(&f.fall),
        "port" => int(&f.port).or(Some(f.kind.span())),
        "max_body" => int(&f.max_body),
        "max_reply" => int(&f.max_reply),
        "path" => text(&f.path),
        "host" => text(&f.host),
        "sni" => text(&f.sni),
        "body_contains" => text(&f.body_contains),
        "expect_status" => f.expect_status.as_ref().map(Spanned::span),
        _ => None,
    }
}

/// A count range of a check as the range a zone file's integer is checked against.
fn wide(range: &RangeInclusive<u32>) -> RangeInclusive<i64> {
    i64::from(*range.start())..=i64::from(*range.end())
}

fn set_duration(slot: &mut Duration, v: &Option<Spanned<Seconds>>, what: &str, e: &mut Errors) {
    let Some(v) = v else { return };
    match v.get_ref().0 {
        Ok(s) if s.is_finite() && s >= 0.0 => *slot = Duration::from_secs_f64(s.min(1e9)),
        _ => e.at(
            v.span(),
            format!("{what} must be a duration such as 5, \"500ms\", \"10s\" or \"2m\""),
        ),
    }
}

fn http(f: &CheckFile, errors: &mut Errors) -> HttpCheck {
    let mut h = HttpCheck::new(f.path.as_ref().map_or("/", |p| p.get_ref().as_str()));
    if let Some(m) = &f.method {
        match HttpMethod::parse(m.get_ref()) {
            Some(method) => h.method = method,
            None => errors.at(
                m.span(),
                "unknown method; expected GET, HEAD, POST or OPTIONS",
            ),
        }
    }
    h.host = f.host.as_ref().map(|s| s.get_ref().clone());
    h.sni = f.sni.as_ref().map(|s| s.get_ref().clone());
    h.verify_tls = f.verify_tls.as_ref().is_none_or(|v| *v.get_ref());
    h.body_contains = f.body_contains.as_ref().map(|s| s.get_ref().clone());
    if let Some(v) = &f.max_body {
        let (lo, hi) = (*MAX_BODY_RANGE.start() as i64, *MAX_BODY_RANGE.end() as i64);
        h.max_body = errors.ranged(v, lo..=hi, "max_body").unwrap_or(h.max_body);
    }
    if let Some(headers) = &f.headers {
        h.headers = headers.get_ref().clone().into_iter().collect();
    }
    if let Some(list) = &f.expect_status {
        h.expect_status = list
            .get_ref()
            .iter()
            .filter_map(|s| status_range(s, errors))
            .collect();
    }
    if let Some(v) = &f.max_reply {
        errors.at(v.span(), "`max_reply` applies to tcp checks only");
    }
    h
}

fn status_range(v: &Spanned<StatusValue>, errors: &mut Errors) -> Option<StatusRange> {
    let parse = |s: &str| s.trim().parse::<u16>().ok();
    let range = match v.get_ref() {
        StatusValue::Code(c) => u16::try_from(*c).ok().map(StatusRange::single),
        StatusValue::Text(t) => match t.split_once('-') {
            Some((lo, hi)) => parse(lo)
                .zip(parse(hi))
                .map(|(lo, hi)| StatusRange { lo, hi }),
            None => parse(t).map(StatusRange::single),
        },
    };
    if range.is_none() {
        errors.at(
            v.span(),
            "expected a status code or a range such as \"200-399\"",
        );
    }
    range
}

fn tcp(f: &CheckFile, errors: &mut Errors) -> TcpCheck {
    let mut t = TcpCheck {
        send: f.send.as_ref().map(|s| s.get_ref().as_bytes().to_vec()),
        expect: f.expect.as_ref().map(|s| s.get_ref().as_bytes().to_vec()),
        ..TcpCheck::default()
    };
    if let Some(v) = &f.max_reply {
        let (lo, hi) = (*MAX_BODY_RANGE.start() as i64, *MAX_BODY_RANGE.end() as i64);
        t.max_reply = errors
            .ranged(v, lo..=hi, "max_reply")
            .unwrap_or(t.max_reply);
    }
    let http_only = [
        ("method", f.method.as_ref().map(Spanned::span)),
        ("path", f.path.as_ref().map(Spanned::span)),
        ("body_contains", f.body_contains.as_ref().map(Spanned::span)),
        ("expect_status", f.expect_status.as_ref().map(Spanned::span)),
    ];
    for (key, span) in http_only {
        if let Some(span) = span {
            errors.at(
                span,
                format!("`{key}` applies to http and https checks only"),
            );
        }
    }
    t
}
