//! The diff report as text for people (`meridian diff` without `--json`).

use std::fmt;

use super::model::{Listed, Report};

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let spaces: Vec<String> = self
            .spaces
            .iter()
            .map(|s| format!("{} ({} networks)", s.basis, s.networks))
            .collect();
        writeln!(
            f,
            "evaluated over {}; health: {}; {} service(s) changed; {} ms",
            if spaces.is_empty() {
                "no client space".to_string()
            } else {
                spaces.join(", ")
            },
            self.health,
            self.services_changed,
            self.elapsed_ms
        )?;
        for m in &self.moves {
            writeln!(
                f,
                "{} {}: {} % of {} ({}) move from {} to {}",
                m.service,
                m.qtype,
                percent(m.percent),
                m.basis,
                m.continents.join(", "),
                m.from,
                m.to
            )?;
        }
        for name in &self.unevaluated {
            writeln!(
                f,
                "{name}: changed, not evaluated (no client space: no GeoIP database)"
            )?;
        }
        for w in &self.weights {
            writeln!(
                f,
                "{} {}: {} gets {:.1} % of answers, was {:.1} %",
                w.service, w.qtype, w.datacenter, w.after, w.before
            )?;
        }
        listed(f, "zone", &self.zones)?;
        listed(f, "service", &self.services)?;
        for r in &self.records {
            writeln!(f, "record {} {} {}", r.name, r.rtype, r.change)?;
            for text in &r.before {
                writeln!(f, "  - {text}")?;
            }
            for text in &r.after {
                writeln!(f, "  + {text}")?;
            }
        }
        listed(f, "target", &self.targets)?;
        listed(f, "check", &self.checks)?;
        listed(f, "datacenter", &self.datacenters)?;
        if !self.changed() {
            writeln!(f, "no change: every client gets the same answers")?;
        }
        Ok(())
    }
}

/// A share as text: one decimal, or two significant digits below 0.1 % so a small move
/// never reads as 0.0 %.
fn percent(p: f64) -> String {
    if p >= 0.1 || p <= 0.0 {
        format!("{p:.1}")
    } else {
        let digits = (1.0 - p.log10().floor()) as usize;
        format!("{p:.digits$}")
    }
}

fn listed(f: &mut fmt::Formatter<'_>, what: &str, l: &Listed) -> fmt::Result {
    for name in &l.added {
        writeln!(f, "{what} added: {name}")?;
    }
    for name in &l.removed {
        writeln!(f, "{what} removed: {name}")?;
    }
    Ok(())
}
