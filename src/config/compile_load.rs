//! Compile the load-aware steering keys of datacenters and checks: capacity, watermarks,
//! where a check reads the load, and a datacenter's PromQL query.

use std::ops::Range;
use std::sync::Arc;

use toml::Spanned;

use super::error::Errors;
use super::service_file::{CheckFile, DatacenterFile, Named};
use crate::health::check::{CheckKind, CheckSpec};
use crate::load::read::valid_json_path;
use crate::load::share::DatacenterLoad;
use crate::load::{LoadRead, Watermarks};

/// Capacity and watermarks from the three keys, each defaulted; `None` when none is set.
fn watermarks(
    capacity: Option<&Spanned<f64>>,
    shed_start: Option<&Spanned<f64>>,
    shed_full: Option<&Spanned<f64>>,
    at: Range<usize>,
    errors: &mut Errors,
) -> Option<Watermarks> {
    if capacity.is_none() && shed_start.is_none() && shed_full.is_none() {
        return None;
    }
    let mut wm = Watermarks::default();
    let mut ok = true;
    for (v, slot, what, lo, hi) in [
        (
            capacity,
            &mut wm.capacity,
            "capacity",
            f64::MIN_POSITIVE,
            1e15,
        ),
        (shed_start, &mut wm.shed_start, "shed_start", 0.0, 1000.0),
        (shed_full, &mut wm.shed_full, "shed_full", 0.0, 1000.0),
    ] {
        let Some(v) = v else { continue };
        let x = *v.get_ref();
        if x.is_finite() && x >= lo && x <= hi {
            *slot = x;
        } else if what == "capacity" {
            errors.at(v.span(), "capacity must be a positive number");
            ok = false;
        } else {
            errors.at(
                v.span(),
                format!("{what} must be a percentage of capacity in 0..=1000"),
            );
            ok = false;
        }
    }
    if ok && wm.shed_start >= wm.shed_full {
        let span = shed_full.or(shed_start).map_or(at, Spanned::span);
        errors.at(
            span,
            format!(
                "shed_start ({}) must be below shed_full ({})",
                wm.shed_start, wm.shed_full
            ),
        );
        ok = false;
    }
    ok.then_some(wm)
}

/// Every datacenter of a zone file with its load settings.
pub(crate) fn datacenters(
    file: &Named<DatacenterFile>,
    errors: &mut Errors,
) -> Vec<DatacenterLoad> {
    let mut out = Vec::new();
    for (name, dc) in file {
        let f = dc.get_ref();
        let wm = watermarks(
            f.capacity.as_ref(),
            f.shed_start.as_ref(),
            f.shed_full.as_ref(),
            name.span(),
            errors,
        );
        let query = match &f.load_query {
            Some(q) if q.get_ref().trim().is_empty() => {
                errors.at(q.span(), "load_query must be a PromQL expression");
                None
            }
            Some(q) => Some(Arc::from(q.get_ref().as_str())),
            None => None,
        };
        out.push(DatacenterLoad {
            name: name.get_ref().as_str().into(),
            watermarks: wm,
            query,
        });
    }
    out
}

/// A check's load keys into its spec: where the reply carries the load, and watermarks.
pub(crate) fn check(f: &CheckFile, spec: &mut CheckSpec, name: Range<usize>, errors: &mut Errors) {
    spec.watermarks = watermarks(
        f.capacity.as_ref(),
        f.shed_start.as_ref(),
        f.shed_full.as_ref(),
        name,
        errors,
    );
    let mut reads = Vec::new();
    if let Some(h) = &f.load_header {
        if h.get_ref().is_empty()
            || !h
                .get_ref()
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b':')
        {
            errors.at(h.span(), "load_header must be a header name");
        }
        reads.push((h.span(), LoadRead::Header(h.get_ref().to_ascii_lowercase())));
    }
    if let Some(p) = &f.load_json {
        if !valid_json_path(p.get_ref()) {
            errors.at(
                p.span(),
                "load_json must be a dotted path such as `stats.0.load`",
            );
        }
        reads.push((p.span(), LoadRead::Json(p.get_ref().clone())));
    }
    if let Some(a) = &f.load_agent
        && *a.get_ref()
    {
        reads.push((a.span(), LoadRead::Agent));
    }
    if reads.len() > 1 {
        errors.at(
            reads[1].0.clone(),
            "a check reads its load from one place only",
        );
        return;
    }
    let Some((span, read)) = reads.pop() else {
        return;
    };
    match (&mut spec.kind, read) {
        (
            CheckKind::Http(c) | CheckKind::Https(c),
            r @ (LoadRead::Header(_) | LoadRead::Json(_)),
        ) => {
            c.load = Some(r);
        }
        (CheckKind::Tcp(c), LoadRead::Agent) => c.load = Some(LoadRead::Agent),
        (CheckKind::Tcp(_), _) => {
            errors.at(
                span,
                "load_header and load_json apply to http and https checks",
            );
        }
        (_, _) => errors.at(span, "load_agent applies to tcp checks"),
    }
}
