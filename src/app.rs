//! Wiring: load the configuration, bind sockets, serve, reload on request, stop gracefully.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use arc_swap::ArcSwap;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info};

use crate::config::{self, ConfigErrors, LogFormat, ServerConfig};
use crate::dns::server::{self, Listen};
use crate::dns::{Handler, Snapshots};
use crate::geo::{GeoDb, Locate, Nowhere};
use crate::health::{Health, HealthConfig, HealthHandle};
use crate::signals::{self, Event};

/// How long in-flight work may take after a shutdown request.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The reason `serve` could not start: the exit code depends on it.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid configuration:\n{0}")]
    Config(ConfigErrors),
    #[error(transparent)]
    Runtime(#[from] anyhow::Error),
}

/// A running server: its bound addresses and the handles to reload or stop it.
pub struct Running {
    pub udp_addrs: Vec<SocketAddr>,
    pub tcp_addrs: Vec<SocketAddr>,
    pub snapshots: Arc<Snapshots>,
    pub health: HealthHandle,
    scheduler: std::sync::Mutex<Health>,
    config: ServerConfig,
    generation: AtomicU64,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

/// Install the tracing subscriber as the config asks (text or JSON).
pub fn init_logging(config: &ServerConfig) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Load zones, bind every socket and start serving.
pub async fn start(config: ServerConfig) -> Result<Running, StartError> {
    let zones = config::load_zones(&config.zones_dir).map_err(StartError::Config)?;
    info!(zones = zones.len(), dir = %config.zones_dir.display(), "zones loaded");
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    let geo = open_geo(&config, &cancel, &tracker)?;
    let health = Health::start(health_config(&config), zones.targets(), &cancel, &tracker)
        .context("starting health checks")?;
    let snapshots = Arc::new(Snapshots {
        zones: ArcSwap::from_pointee(zones),
        health: health.handle().snapshots(),
        geo,
    });
    let listen = Listen {
        udp: config.udp_addresses(),
        tcp: config.tcp_addresses(),
        udp_sockets_per_address: config.udp_sockets_per_address,
        tcp_idle_timeout: Duration::from_secs(config.tcp_idle_timeout_secs),
        tcp_max_connections: config.tcp_max_connections,
    };
    let bound = server::bind(&listen).context("binding DNS sockets")?;
    let (udp_addrs, tcp_addrs) = (bound.udp_addrs.clone(), bound.tcp_addrs.clone());
    info!(udp = %list(&udp_addrs), tcp = %list(&tcp_addrs), "dns listening");
    let handler = Handler::new(snapshots.clone(), config.max_udp_payload);
    server::spawn(bound, handler, &listen, cancel.clone(), &tracker);
    Ok(Running {
        udp_addrs,
        tcp_addrs,
        snapshots,
        health: health.handle(),
        scheduler: std::sync::Mutex::new(health),
        config,
        generation: AtomicU64::new(1),
        cancel,
        tracker,
    })
}

/// Open the GeoIP database (if configured) and watch it for replacement.
fn open_geo(
    config: &ServerConfig,
    cancel: &CancellationToken,
    tracker: &TaskTracker,
) -> anyhow::Result<Arc<dyn Locate>> {
    if config.geoip.as_os_str().is_empty() {
        info!("no GeoIP database configured; geo and nearest policies use their defaults");
        return Ok(Arc::new(Nowhere));
    }
    let asn = (!config.geoip_asn.as_os_str().is_empty()).then(|| config.geoip_asn.clone());
    let db = Arc::new(GeoDb::open(&config.geoip, asn).context("opening the GeoIP database")?);
    let info = db.info();
    info!(path = %config.geoip.display(), kind = %info.database_type, build_epoch = info.build_epoch, "geoip loaded");
    tracker.spawn(db.clone().watch(GEOIP_POLL, cancel.clone()));
    Ok(db)
}

fn health_config(config: &ServerConfig) -> HealthConfig {
    let path = |p: &std::path::Path| (!p.as_os_str().is_empty()).then(|| p.to_path_buf());
    HealthConfig {
        state_file: path(&config.health_state_file),
        override_file: path(&config.health_override_file),
        ..HealthConfig::default()
    }
}

/// How often the GeoIP files are checked for replacement.
pub const GEOIP_POLL: Duration = Duration::from_secs(5);

fn list(addrs: &[SocketAddr]) -> String {
    addrs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

impl Running {
    /// Validate the zones directory again and swap it in; on error keep serving the old one.
    pub fn reload(&self) -> Result<u64, ConfigErrors> {
        match config::load_zones(&self.config.zones_dir) {
            Ok(zones) => {
                let targets = zones.targets();
                self.snapshots.zones.store(Arc::new(zones));
                if let Ok(mut health) = self.scheduler.lock() {
                    let r = health.reconcile(targets);
                    info!(
                        targets = r.targets,
                        kept = r.probes_kept,
                        started = r.probes_started,
                        stopped = r.probes_stopped,
                        "health targets reconciled"
                    );
                }
                let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
                info!(generation, "reload ok");
                Ok(generation)
            }
            Err(errors) => {
                error!(
                    errors = errors.0.len(),
                    "reload failed; still serving the previous zones"
                );
                for e in &errors.0 {
                    error!("{e}");
                }
                Err(errors)
            }
        }
    }

    /// The configuration generation now serving (1 at start, +1 per good reload).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Stop accepting, let in-flight queries finish, return within `SHUTDOWN_GRACE`.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        self.tracker.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, self.tracker.wait())
            .await
            .is_err()
        {
            error!("shutdown grace period over; exiting with tasks still running");
        }
    }
}

/// `meridian serve`: run until SIGTERM/SIGINT, reloading on SIGHUP.
pub async fn serve(config: ServerConfig) -> Result<(), StartError> {
    let (tx, mut rx) = mpsc::channel(8);
    signals::listen(tx).context("installing signal handlers")?;
    let running = start(config).await?;
    while let Some(event) = rx.recv().await {
        match event {
            Event::Reload => {
                let _ = running.reload();
            }
            Event::Shutdown => break,
        }
    }
    info!("shutting down");
    running.shutdown().await;
    Ok(())
}

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
    let explanation = crate::dns::explain::explain(&zones, geo.as_ref(), &health, question);
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
