//! Wiring: load the configuration, bind sockets, serve, reload on request, stop gracefully.

mod control;
mod diff;
mod dnssec;
mod explain;
mod geoip;
mod latency;
mod load;
mod neighbours;
mod preview;
mod retire;
mod shared;
mod signatures;

pub use diff::{DiffArgs, diff};
pub use dnssec::{ds as dnssec_ds, keygen as dnssec_keygen};
pub use explain::{ExplainArgs, explain};
pub use neighbours::publish_rows as publish_latency_rows;
pub(crate) use shared::Shared;

use std::net::SocketAddr;
use std::sync::Arc;
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
use crate::health::{ClusterLink, Health, HealthConfig, HealthHandle, ProbeSource, VoteUpdate};
use crate::signals::{self, Event};
use crate::{admin, cluster, metrics};

/// How long in-flight work may take after a shutdown request.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How often the GeoIP files are checked for replacement.
pub const GEOIP_POLL: Duration = Duration::from_secs(5);

/// The reason `serve` could not start: the exit code depends on it.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid configuration:\n{0}")]
    /// The configuration is invalid (exit status 2).
    Config(ConfigErrors),
    #[error(transparent)]
    /// Anything else, such as a port that cannot be bound (exit status 1).
    Runtime(#[from] anyhow::Error),
}

/// A running server: its bound addresses and the handles to reload or stop it.
pub struct Running {
    /// The bound UDP addresses.
    pub udp_addrs: Vec<SocketAddr>,
    /// The bound TCP addresses.
    pub tcp_addrs: Vec<SocketAddr>,
    /// The bound admin API address.
    pub admin_addr: SocketAddr,
    /// The health subsystem's handle.
    pub health: HealthHandle,
    /// What the admin API and reloads share.
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
        config
            .admin_token
            .as_ref()
            .map(crate::config::secret::Secret::as_str),
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
    let cluster_settings = cluster_settings(&config, zones.digest())?;
    let (votes_tx, votes_rx) = tokio::sync::mpsc::unbounded_channel::<VoteUpdate>();
    let load_snapshot = Arc::new(ArcSwap::from_pointee(crate::load::LoadSnapshot::default()));
    let load = crate::load::LoadHandle::start(
        &load::settings(&config),
        &zones,
        load_snapshot.clone(),
        &cancel,
        &tracker,
    );
    let mut health_config = health_config(&config);
    health_config.load = Some(load.sender());
    health_config.cluster = cluster_settings.as_ref().map(|s| ClusterLink {
        instance: s.instance.clone(),
        votes: votes_tx,
    });
    let health = Health::start(health_config, zones.targets(), &cancel, &tracker)
        .context("starting health checks")?;
    let cluster = match cluster_settings {
        Some(s) => Some(
            cluster::start(
                s,
                health.handle(),
                votes_rx,
                load.clone(),
                &cancel,
                &tracker,
            )
            .map_err(|e| config_error("cluster", e.to_string()))?,
        ),
        None => None,
    };
    let latency = latency::Latency::start(&config, &cancel, &tracker);
    let snapshots = Arc::new(Snapshots {
        zones: ArcSwap::from_pointee(zones),
        health: health.handle().snapshots(),
        geo,
        latency: latency.live().clone(),
        load: load_snapshot,
    });
    neighbours::spawn(snapshots.clone(), latency.handle.clone(), &cancel, &tracker);
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
    let shared = Arc::new(Shared::new(
        config,
        snapshots.clone(),
        health,
        latency,
        cluster,
        load,
    ));
    let handler = Handler::new(snapshots.clone(), shared.config.max_udp_payload)
        .with_rrl(crate::dns::rrl::Rrl::new(
            crate::dns::rrl::RrlConfig::from_server(&shared.config),
        ))
        .with_query_log(shared.config.query_log_sample)
        .with_signatures(shared.signatures.clone());
    signatures::spawn_maintenance(shared.signatures.clone(), cancel.clone(), &tracker);
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
    let Some(db) = geoip::open(config)? else {
        info!("no GeoIP database configured; geo and nearest policies use their defaults");
        return Ok(Arc::new(Nowhere));
    };
    let db = Arc::new(db);
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
            () = cancel.cancelled() => return,
        }
    }
}

fn health_config(config: &ServerConfig) -> HealthConfig {
    let path = |p: &std::path::Path| (!p.as_os_str().is_empty()).then(|| p.to_path_buf());
    HealthConfig {
        state_file: path(&config.health_state_file),
        override_file: path(&config.health_override_file),
        probe_source: ProbeSource {
            v4: config.probe_source_v4,
            v6: config.probe_source_v6,
        },
        ..HealthConfig::default()
    }
}

/// The cluster task's settings, when `[cluster]` is set; a binary built without the
/// `cluster` feature refuses it as invalid configuration (exit 2).
fn cluster_settings(
    config: &ServerConfig,
    zone_digest: String,
) -> Result<Option<cluster::Settings>, StartError> {
    let Some(c) = &config.cluster else {
        return Ok(None);
    };
    if !cluster::AVAILABLE {
        return Err(config_error(
            "cluster",
            cluster::ClusterError::NotBuilt.to_string(),
        ));
    }
    let secrets = c.read_secrets().map_err(|e| config_error("cluster", e))?;
    let settings =
        cluster::Settings::new(c, secrets, zone_digest).map_err(|e| config_error("cluster", e))?;
    Ok(Some(settings))
}

fn config_error(what: &str, message: impl Into<String>) -> StartError {
    StartError::Config(ConfigErrors(vec![config::ConfigError::file(
        std::path::Path::new(what),
        message.into(),
    )]))
}

fn list(addrs: &[SocketAddr]) -> String {
    addrs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

impl Running {
    /// Reloads the zone files as `SIGHUP` does; the new generation, or every error.
    pub fn reload(&self) -> Result<u64, ConfigErrors> {
        self.shared.reload()
    }

    /// The generation of the configuration now serving.
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
