//! `meridian explain` from the command line: load zones and GeoIP offline, explain one answer.

use std::sync::Arc;

use super::{StartError, geoip};
use crate::config::{self, ServerConfig};
use crate::dns::explain::Question;
use crate::geo::{Locate, Nowhere};

/// What `meridian explain` was asked on the command line.
#[derive(Debug, Clone)]
pub struct ExplainArgs {
    /// The queried name.
    pub name: String,
    /// The query type (`A`, `AAAA`, ...).
    pub qtype: String,
    /// The resolver's address (the query's source).
    pub client: std::net::IpAddr,
    /// An EDNS Client Subnet the resolver sent.
    pub ecs: Option<ipnet::IpNet>,
    /// Targets (`192.0.2.10/web`) to treat as down.
    pub down: Vec<String>,
    /// A zones directory instead of the configured one.
    pub zones: Option<std::path::PathBuf>,
}

/// `meridian explain`: load the zones and GeoIP offline and explain one answer.
pub fn explain(config: &ServerConfig, args: ExplainArgs) -> Result<String, StartError> {
    let dir = args.zones.as_ref().unwrap_or(&config.zones_dir);
    let zones = config::load_zones(dir).map_err(StartError::Config)?;
    let geo: Arc<dyn Locate> = match geoip::open(config)? {
        Some(db) => Arc::new(db),
        None => Arc::new(Nowhere),
    };
    let question = Question::parse(&args.name, &args.qtype, args.client, args.ecs)
        .map_err(anyhow::Error::msg)?;
    let health =
        crate::dns::explain::with_down(&crate::health::HealthSnapshot::empty(), &args.down);
    let table = crate::latency::ingest::load_offline(&super::latency::ingest_config(config));
    let table = super::neighbours::build(&table, geo.as_ref(), &zones);
    let latency = crate::policy::LatencyView {
        table: &table,
        now: crate::latency::unix_now(),
    };
    let cache = crate::dnssec::SigCache::new(0, 0);
    let explanation = crate::dns::explain::explain(
        &zones,
        geo.as_ref(),
        &health,
        latency,
        crate::load::LoadSnapshot::none(),
        question,
        &cache,
    );
    Ok(explanation.to_string())
}
