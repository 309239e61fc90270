//! `meridian diff` and the reload dry run: load both configurations and the client space, compare.

use std::path::PathBuf;
use std::sync::Arc;

use super::{StartError, geoip};
use crate::config::{self, ServerConfig};
use crate::diff::{self, ClientSpace, Report};
use crate::geo::{Locate, Nowhere};
use crate::health::HealthSnapshot;

/// What `meridian diff` compares.
#[derive(Debug, Clone)]
pub struct DiffArgs {
    /// The old zones directory; `None`: the configured one.
    pub old: Option<PathBuf>,
    /// The new zones directory.
    pub new: PathBuf,
}

/// `meridian diff`: compile both directories (every error of either is reported, exit 2),
/// then evaluate every changed service over the GeoIP database's networks, all targets up.
pub fn diff(config: &ServerConfig, args: &DiffArgs) -> Result<Report, StartError> {
    let old_dir = args.old.as_ref().unwrap_or(&config.zones_dir);
    let old = config::load_zones(old_dir);
    let new = config::load_zones(&args.new);
    let (old, new) = match (old, new) {
        (Ok(o), Ok(n)) => (o, n),
        (o, n) => {
            let mut errors = Vec::new();
            for e in [o.err(), n.err()].into_iter().flatten() {
                errors.extend(e.0);
            }
            return Err(StartError::Config(config::ConfigErrors(errors)));
        }
    };
    let db = geoip::open(config)?;
    let (geo, spaces): (Arc<dyn Locate>, Vec<ClientSpace>) = match db {
        Some(db) => {
            let networks = db.networks().map_err(anyhow::Error::from)?;
            let db: Arc<dyn Locate> = Arc::new(db);
            let spaces = ClientSpace::from_networks(&networks, db.as_ref());
            (db, spaces)
        }
        None => (Arc::new(Nowhere), Vec::new()),
    };
    let table = crate::latency::ingest::load_offline(&super::latency::ingest_config(config));
    let health = HealthSnapshot::empty();
    let inputs = diff::Inputs {
        geo: geo.as_ref(),
        health: &health,
        health_label: "all up",
        latency: crate::policy::LatencyView {
            table: &table,
            now: crate::latency::unix_now(),
        },
        spaces: &spaces,
    };
    Ok(diff::compare(&old, &new, &inputs))
}
