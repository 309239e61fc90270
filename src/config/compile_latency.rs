//! Compile a `latency` service's `[services.NAME.latency]` table into a `LatencyPolicy`.

use super::error::Errors;
use super::service_file::{Number, ServiceFile};
use crate::policy::{LatencyPolicy, Policy, PoolId, Ties};
use toml::Spanned;

/// The `latency` policy over `pools`, with the options of `[services.NAME.latency]`:
/// `tolerance_ms` (0..=1000, default 5), `tolerance_percent` (0..=100, default 10),
/// `ties` (`hash` or `order`, default `hash`), `min_samples` (1..=1000000, default 1).
pub(crate) fn latency(f: &ServiceFile, pools: Vec<PoolId>, errors: &mut Errors) -> Policy {
    let mut p = LatencyPolicy::new(pools);
    let Some(table) = &f.latency else {
        return Policy::Latency(p);
    };
    let t = table.get_ref();
    if let Some(v) = number(&t.tolerance_ms, 0.0..=1000.0, "tolerance_ms", errors) {
        p.tolerance_ms = v;
    }
    if let Some(v) = number(
        &t.tolerance_percent,
        0.0..=100.0,
        "tolerance_percent",
        errors,
    ) {
        p.tolerance_percent = v;
    }
    match t.ties.as_ref().map(|s| (s, s.get_ref().as_str())) {
        None | Some((_, "hash")) => {}
        Some((_, "order")) => p.ties = Ties::Order,
        Some((s, _)) => errors.at(s.span(), "ties must be `hash` or `order`"),
    }
    if let Some(m) = &t.min_samples
        && let Some(n) = errors.ranged::<u32>(m, 1..=1_000_000, "min_samples")
    {
        p.min_samples = n;
    }
    Policy::Latency(p)
}

/// A `[services.NAME.latency]` table is an error on services of other policies.
pub(crate) fn only_for_latency(f: &ServiceFile, policy: &Policy, errors: &mut Errors) {
    if let Some(t) = &f.latency
        && !matches!(policy, Policy::Latency(_))
    {
        errors.at(
            t.span(),
            "a [services.NAME.latency] table needs policy = \"latency\"",
        );
    }
}

fn number(
    value: &Option<Spanned<Number>>,
    range: std::ops::RangeInclusive<f64>,
    what: &str,
    errors: &mut Errors,
) -> Option<f64> {
    let v = value.as_ref()?;
    let n = v.get_ref().0;
    if n.is_finite() && range.contains(&n) {
        Some(n)
    } else {
        let (lo, hi) = (range.start(), range.end());
        errors.at(v.span(), format!("{what} must be within {lo}..={hi}"));
        None
    }
}
