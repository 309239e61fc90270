//! Wiring: load the configuration, bind sockets, serve, reload on request, stop gracefully.

mod control;
mod explain;
mod latency;
mod retire;

pub use explain::{ExplainArgs, explain};

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use arc_swap::ArcSwap;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info};

use crate::admin::{self, ReloadView};
use crate::config::{self, ConfigErrors, LogFormat, ServerConfig};
use crate::dns::server::{self, Listen};
use crate::dns::{Handler, Snapshots};
use crate::geo::{GeoDb, Locate, Nowhere};
use crate::health::{Health, HealthConfig, HealthHandle};
use crate::metrics;
use crate::signals::{self, Event};

/// How long in-flight work may take after a shutdown request.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How often the GeoIP files are checked for replacement.
pub const GEOIP_POLL: Duration = Duration::from_secs(5);

/// The reason `serve` could not start: the exit code depends on it.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid configuration:\n{0}")]
    Config(ConfigErrors),
    #[error(transparent)]
    Runtime(#[from] anyhow::Error),
}

/// State shared by the signal loop and the admin API: one writer per snapshot.
pub struct Shared {
    pub config: ServerConfig,
    pub snapshots: Arc<Snapshots>,
    pub health: HealthHandle,
    /// The latency writer and the representative map agents are given.
    pub latency: latency::Latency,
    scheduler: Mutex<Health>,
    generation: AtomicU64,
    last_reload: Mutex<Option<ReloadView>>,
}

/// A running server: its bound addresses and the handles to reload or stop it.
pub struct Running {
    pub udp_addrs: Vec<SocketAddr>,
    pub tcp_addrs: Vec<SocketAddr>,
    pub admin_addr: SocketAddr,
    pub snapshots: Arc<Snapshots>,
    pub health: HealthHandle,
    pub shared: Arc<Shared>,
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

/// Load zones, bind every socket and start serving DNS and the admin API.
pub async fn start(config: ServerConfig) -> Result<Running, StartError> {
    let prometheus = metrics::install().context("installing metrics")?;
    let token = admin::resolve_token(
        config.admin_token.as_ref().map(|s| s.as_str()),
        config.admin_token_file.as_deref(),
        std::env::var(admin::TOKEN_ENV).ok().as_deref(),
    )
    .map_err(|e| {
        StartError::Config(ConfigErrors(vec![config::ConfigError::file(
            std::path::Path::new("admin_token"),
            e.to_string(),
        )]))
    })?;
    let zones = config::load_zones(&config.zones_dir).map_err(StartError::Config)?;
    info!(zones = zones.len(), dir = %config.zones_dir.display(), "zones loaded");
    metrics::reload(true, 1);
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    let geo = open_geo(&config, &cancel, &tracker)?;
    let health = Health::start(health_config(&config), zones.targets(), &cancel, &tracker)
        .context("starting health checks")?;
    let latency = latency::Latency::start(&config, &cancel, &tracker);
    let snapshots = Arc::new(Snapshots {
        zones: ArcSwap::from_pointee(zones),
        health: health.handle().snapshots(),
        geo,
        latency: latency.live().clone(),
    });
    let listen = Listen {
        udp: config.udp_addresses(),
        tcp: config.tcp_addresses(),
        udp_sockets_per_address: config.udp_sockets_per_address,
        tcp_idle_timeout: Duration::from_secs(config.tcp_idle_timeout_secs),
        tcp_max_connections: config.tcp_max_connections,
        tcp_max_connections_per_client: config.tcp_max_connections_per_client,
        tcp_max_queries_per_connection: config.tcp_max_queries_per_connection,
        tcp_max_connection: Duration::from_secs(config.tcp_max_connection_secs),
    };
    let bound = server::bind(&listen).context("binding DNS sockets")?;
    let admin_listener = tokio::net::TcpListener::bind(config.admin_listen)
        .await
        .with_context(|| format!("binding the admin listener {}", config.admin_listen))?;
    let admin_addr = admin_listener.local_addr().context("admin address")?;
    let (udp_addrs, tcp_addrs) = (bound.udp_addrs.clone(), bound.tcp_addrs.clone());
    let shared = Arc::new(Shared {
        health: health.handle(),
        latency,
        snapshots: snapshots.clone(),
        scheduler: Mutex::new(health),
        generation: AtomicU64::new(1),
        last_reload: Mutex::new(None),
        config,
    });
    let handler = Handler::new(snapshots.clone(), shared.config.max_udp_payload)
        .with_rrl(crate::dns::rrl::Rrl::new(
            crate::dns::rrl::RrlConfig::from_server(&shared.config),
        ))
        .with_query_log(shared.config.query_log_sample);
    server::spawn(bound, handler, &listen, cancel.clone(), &tracker);
    let control = Arc::new(control::AppControl::new(shared.clone()));
    let protect = shared.config.admin_protect_reads;
    let admin_cancel = cancel.child_token();
    tracker.spawn(async move {
        if let Err(e) = admin::serve(
            admin_listener,
            control,
            prometheus,
            token,
            protect,
            admin_cancel,
        )
        .await
        {
            error!("admin API stopped: {e}");
        }
    });
    info!(udp = %list(&udp_addrs), tcp = %list(&tcp_addrs), admin = %admin_addr, "dns listening");
    Ok(Running {
        udp_addrs,
        tcp_addrs,
        admin_addr,
        health: shared.health.clone(),
        snapshots,
        shared,
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
    metrics::geoip_build_epoch(info.build_epoch);
    info!(path = %config.geoip.display(), kind = %info.database_type, build_epoch = info.build_epoch, "geoip loaded");
    tracker.spawn(db.clone().watch(GEOIP_POLL, cancel.clone()));
    tracker.spawn(follow_geoip_reloads(db.clone(), cancel.clone()));
    Ok(db)
}

/// Keep the GeoIP build-time metric in step with the database actually serving.
async fn follow_geoip_reloads(db: Arc<GeoDb>, cancel: CancellationToken) {
    let mut reloads = db.subscribe();
    loop {
        tokio::select! {
            changed = reloads.changed() => {
                if changed.is_err() {
                    return;
                }
                metrics::geoip_build_epoch(db.build_epoch());
            }
            _ = cancel.cancelled() => return,
        }
    }
}

fn health_config(config: &ServerConfig) -> HealthConfig {
    let path = |p: &std::path::Path| (!p.as_os_str().is_empty()).then(|| p.to_path_buf());
    HealthConfig {
        state_file: path(&config.health_state_file),
        override_file: path(&config.health_override_file),
        ..HealthConfig::default()
    }
}

fn list(addrs: &[SocketAddr]) -> String {
    addrs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Shared {
    /// Validate the zones directory again and swap it in; on error keep serving the old one.
    pub fn reload(&self) -> Result<u64, ConfigErrors> {
        let result = match config::load_zones(&self.config.zones_dir) {
            Ok(zones) => {
                let targets = zones.targets();
                retire::retire(self.snapshots.zones.swap(Arc::new(zones)));
                let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
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
                info!(generation, "reload ok");
                metrics::reload(true, generation);
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
                metrics::reload(false, self.generation());
                Err(errors)
            }
        };
        let view = ReloadView {
            ok: result.is_ok(),
            at: unix_now(),
            generation: self.generation(),
            errors: result
                .as_ref()
                .err()
                .map_or_else(Vec::new, |e| e.0.iter().map(ToString::to_string).collect()),
        };
        if let Ok(mut last) = self.last_reload.lock() {
            *last = Some(view);
        }
        result
    }

    /// The configuration generation now serving (1 at start, +1 per good reload).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    pub fn last_reload(&self) -> Option<ReloadView> {
        self.last_reload.lock().ok().and_then(|l| l.clone())
    }
}

impl Running {
    pub fn reload(&self) -> Result<u64, ConfigErrors> {
        self.shared.reload()
    }

    pub fn generation(&self) -> u64 {
        self.shared.generation()
    }

    /// Stop accepting, let in-flight queries finish, return within `SHUTDOWN_GRACE`.
    pub async fn shutdown(&self) {
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

/// Dropping a running server stops it: the UDP threads end within `udp::POLL`.
impl Drop for Running {
    fn drop(&mut self) {
        self.cancel.cancel();
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
                let shared = running.shared.clone();
                let _ = tokio::task::spawn_blocking(move || shared.reload()).await;
            }
            Event::Shutdown => break,
        }
    }
    info!("shutting down");
    running.shutdown().await;
    Ok(())
}
