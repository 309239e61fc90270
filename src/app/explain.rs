//! `meridian explain` from the command line: load zones and GeoIP offline, explain one answer.

use std::sync::Arc;

use anyhow::Context as _;

use super::StartError;
use crate::config::{self, ServerConfig};
use crate::geo::{GeoDb, Locate, Nowhere};

/// What `meridian explain` was asked on the command line.
#[derive(Debug, Clone)]
pub struct ExplainArgs {
    pub name: String,
    pub qtype: String,
    pub client: std::net::IpAddr,
    pub ecs: Option<ipnet::IpNet>,
    pub down: Vec<String>,
    pub zones: Option<std::path::PathBuf>,
}

/// `meridian explain`: load the zones and GeoIP offline and explain one answer.
pub fn explain(config: &ServerConfig, args: ExplainArgs) -> Result<String, StartError> {
    let dir = args.zones.as_ref().unwrap_or(&config.zones_dir);
    let zones = config::load_zones(dir).map_err(StartError::Config)?;
    let geo: Arc<dyn Locate> = if config.geoip.as_os_str().is_empty() {
        Arc::new(Nowhere)
    } else {
        let asn = (!config.geoip_asn.as_os_str().is_empty()).then(|| config.geoip_asn.clone());
        Arc::new(GeoDb::open(&config.geoip, asn).context("opening the GeoIP database")?)
    };
    let question = question(&args)?;
    let health =
        crate::dns::explain::with_down(&crate::health::HealthSnapshot::empty(), &args.down);
    let table = crate::latency::ingest::load_offline(&super::latency::ingest_config(config));
    let latency = crate::policy::LatencyView {
        table: &table,
        now: crate::latency::unix_now(),
    };
    let explanation =
        crate::dns::explain::explain(&zones, geo.as_ref(), &health, latency, question);
    Ok(explanation.to_string())
}

fn question(args: &ExplainArgs) -> anyhow::Result<crate::dns::explain::Question> {
    use std::str::FromStr;
    let name = hickory_proto::rr::Name::from_ascii(&args.name)
        .with_context(|| format!("invalid name {:?}", args.name))?;
    let mut name = name;
    name.set_fqdn(true);
    let qtype = hickory_proto::rr::RecordType::from_str(&args.qtype.to_ascii_uppercase())
        .map_err(|_| anyhow::anyhow!("unknown record type {:?}", args.qtype))?;
    Ok(crate::dns::explain::Question {
        name,
        qtype,
        client: args.client,
        ecs: args.ecs,
    })
}
