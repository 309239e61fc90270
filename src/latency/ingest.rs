//! The latency writer: the one task that changes the table, publishing snapshots by swap.
//!
//! Batches come from the admin API (agents' samples, bulk imports) over a channel; the
//! import file is polled for changes; estimates are expired and the state file written
//! on timers; the busiest-network rings are folded and decayed. After applying every
//! batch waiting in the channel, the writer publishes once (coalescing) and then tells
//! each sender what was applied, so a reply means "visible to queries".

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use super::aggregate::Aggregates;
use super::import::{self, Applied, Row};
use super::table::{LatencyTable, TableConfig};
use super::{Live, unix_now};
use crate::metrics;

/// Where a batch of measurements came from (the `source` metric label).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// `meridian agent` samples (`POST /v1/latency/samples`).
    Agent,
    /// The `latency_import` file.
    Import,
    /// `POST /v1/latency/import`.
    Api,
    /// The state file read at start.
    State,
}

impl Source {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Source::Agent => "agent",
            Source::Import => "import",
            Source::Api => "api",
            Source::State => "state",
        }
    }
}

/// The writer's settings.
#[derive(Clone, Debug)]
pub(crate) struct IngestConfig {
    pub(crate) table: TableConfig,
    /// CSV or JSON measurements, re-read when its size or modification time changes.
    pub(crate) import_file: Option<PathBuf>,
    /// The table persisted as CSV (with an `updated` column) and read back at start.
    pub(crate) state_file: Option<PathBuf>,
    pub(crate) import_poll: Duration,
    pub(crate) persist_every: Duration,
    pub(crate) expire_every: Duration,
    pub(crate) fold_every: Duration,
    pub(crate) decay_every: Duration,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            table: TableConfig::default(),
            import_file: None,
            state_file: None,
            import_poll: Duration::from_secs(1),
            persist_every: Duration::from_mins(5),
            expire_every: Duration::from_mins(1),
            fold_every: Duration::from_millis(250),
            decay_every: Duration::from_mins(1),
        }
    }
}

#[derive(Debug, thiserror::Error)]
/// Why the latency writer cannot start or apply rows.
pub enum IngestError {
    #[error("reading {path}")]
    /// A file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// The read error.
        source: io::Error,
    },
    #[error("the latency writer has stopped")]
    /// The writer task has stopped.
    Stopped,
}

struct Msg {
    source: Source,
    rows: Vec<Row>,
    reply: oneshot::Sender<Applied>,
}

/// Sends batches to the writer and reads what it publishes. Cheap to clone.
#[derive(Clone)]
pub struct LatencyHandle {
    tx: mpsc::Sender<Msg>,
    aggregates: mpsc::Sender<Arc<Aggregates>>,
    live: Arc<Live>,
}

impl LatencyHandle {
    /// Hands freshly built neighbour aggregates to the writer, which publishes them with
    /// the table; false when the writer has stopped.
    pub(crate) async fn publish_aggregates(&self, aggregates: Arc<Aggregates>) -> bool {
        self.aggregates.send(aggregates).await.is_ok()
    }

    pub(crate) fn live(&self) -> &Arc<Live> {
        &self.live
    }

    /// [`submit`](Self::submit) from a blocking thread (the admin control calls).
    pub(crate) fn blocking_submit(
        &self,
        source: Source,
        rows: Vec<Row>,
    ) -> Result<Applied, IngestError> {
        let (reply, rx) = oneshot::channel();
        let msg = Msg {
            source,
            rows,
            reply,
        };
        self.tx
            .blocking_send(msg)
            .map_err(|_| IngestError::Stopped)?;
        rx.blocking_recv().map_err(|_| IngestError::Stopped)
    }
}

/// Reads the state and import files into a table (errors are logged, not fatal: a
/// missing or broken file must not keep the server down), publishes it, and spawns the
/// writer. `live` must have been built with `config.table`.
pub(crate) fn start(
    config: IngestConfig,
    live: Arc<Live>,
    cancel: &CancellationToken,
    tracker: &TaskTracker,
) -> LatencyHandle {
    let mut writer = Writer {
        table: LatencyTable::new(config.table),
        live: live.clone(),
        import_stamp: None,
        dirty: false,
        config,
    };
    if let Some(path) = writer.config.state_file.clone() {
        writer.load(&path, Source::State);
    }
    writer.poll_import();
    writer.publish();
    let (tx, rx) = mpsc::channel(64);
    let (aggregates, aggregates_rx) = mpsc::channel(1);
    tracker.spawn(writer.run(rx, aggregates_rx, cancel.child_token()));
    LatencyHandle {
        tx,
        aggregates,
        live,
    }
}

/// Reads measurements from `path` (CSV or JSON) into rows; parse errors are returned
/// beside the good rows.
pub(crate) fn read_rows(path: &Path) -> Result<(Vec<Row>, Vec<import::RowError>), IngestError> {
    let text = std::fs::read_to_string(path).map_err(|source| IngestError::Read {
        path: path.to_owned(),
        source,
    })?;
    Ok(import::parse(&text))
}

/// A table with the state and import files applied, for offline `explain`.
pub(crate) fn load_offline(config: &IngestConfig) -> LatencyTable {
    let mut table = LatencyTable::new(config.table);
    let now = unix_now();
    for path in [&config.state_file, &config.import_file]
        .into_iter()
        .flatten()
    {
        if let Ok((rows, _)) = read_rows(path) {
            import::apply(&mut table, &rows, now, &|_| Ok(()));
        }
    }
    table
}

struct Writer {
    config: IngestConfig,
    table: LatencyTable,
    live: Arc<Live>,
    import_stamp: Option<(u64, SystemTime)>,
    dirty: bool,
}

impl Writer {
    async fn run(
        mut self,
        mut rx: mpsc::Receiver<Msg>,
        mut aggregates: mpsc::Receiver<Arc<Aggregates>>,
        cancel: CancellationToken,
    ) {
        let tick = |d: Duration| {
            let mut t = tokio::time::interval_at(tokio::time::Instant::now() + d, d);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            t
        };
        let c = &self.config;
        let (mut poll, mut persist, mut expire) = (
            tick(c.import_poll),
            tick(c.persist_every),
            tick(c.expire_every),
        );
        let (mut fold, mut decay) = (tick(c.fold_every), tick(c.decay_every));
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                msg = rx.recv() => match msg {
                    Some(msg) => self.batches(msg, &mut rx),
                    None => break,
                },
                Some(a) = aggregates.recv() => {
                    self.table.set_aggregates(a);
                    self.publish();
                },
                _ = poll.tick() => if self.poll_import() { self.publish() },
                _ = expire.tick() => self.expire(),
                _ = persist.tick() => self.persist().await,
                _ = fold.tick() => {
                    self.live.tick();
                    self.live.busiest.fold();
                    metrics::latency_tracked(self.live.busiest.tracked());
                },
                _ = decay.tick() => self.live.busiest.decay(),
            }
        }
        self.persist().await;
    }

    /// Applies `first` and every batch already waiting, publishes once, then replies.
    fn batches(&mut self, first: Msg, rx: &mut mpsc::Receiver<Msg>) {
        let mut replies = Vec::new();
        let mut next = Some(first);
        while let Some(msg) = next {
            let applied = self.apply(msg.source, &msg.rows);
            replies.push((msg.reply, applied));
            next = rx.try_recv().ok();
        }
        self.publish();
        for (reply, applied) in replies {
            let _ = reply.send(applied);
        }
    }

    fn apply(&mut self, source: Source, rows: &[Row]) -> Applied {
        let applied = import::apply(&mut self.table, rows, unix_now(), &|_| Ok(()));
        metrics::latency_samples(source.as_str(), applied.accepted, applied.rejected);
        metrics::latency_evicted(applied.evicted);
        if applied.evicted > 0 {
            warn!(
                evicted = applied.evicted,
                cap = self.table.config().max_networks,
                "latency table full: least useful networks evicted"
            );
        }
        self.dirty |= applied.accepted > 0;
        applied
    }

    fn publish(&mut self) {
        self.live.table.store(Arc::new(self.table.clone()));
        metrics::latency_table(self.table.networks(), self.table.cells());
    }

    fn expire(&mut self) {
        let removed = self.table.expire(unix_now());
        if removed > 0 {
            self.dirty = true;
            self.publish();
        }
    }

    fn load(&mut self, path: &Path, source: Source) {
        match read_rows(path) {
            Ok((rows, errors)) => {
                let mut applied = self.apply(source, &rows);
                for e in errors {
                    applied.error(e);
                }
                info!(file = %path.display(), source = source.as_str(), accepted = applied.accepted,
                      rejected = applied.rejected, "latency measurements loaded");
                for e in &applied.errors {
                    warn!(file = %path.display(), "latency: {e}");
                }
            }
            Err(IngestError::Read { source: e, .. }) if e.kind() == io::ErrorKind::NotFound => {
                info!(file = %path.display(), "latency file not found; starting without it");
            }
            Err(e) => warn!("latency: {e:#}"),
        }
    }

    /// Re-reads the import file when it changed; true when it was applied.
    fn poll_import(&mut self) -> bool {
        let Some(path) = self.config.import_file.clone() else {
            return false;
        };
        let stamp = std::fs::metadata(&path)
            .ok()
            .map(|m| (m.len(), m.modified().unwrap_or(SystemTime::UNIX_EPOCH)));
        if stamp.is_none() || stamp == self.import_stamp {
            return false;
        }
        self.import_stamp = stamp;
        self.load(&path, Source::Import);
        true
    }

    async fn persist(&mut self) {
        let Some(path) = self.config.state_file.clone() else {
            return;
        };
        if !self.dirty {
            return;
        }
        self.dirty = false;
        let table = self.table.clone();
        let written = tokio::task::spawn_blocking(move || write_state(&path, &table)).await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn!("latency: writing the state file: {e}"),
            Err(e) => warn!("latency: state writer failed: {e}"),
        }
    }
}

/// Writes the table to `path` atomically (a temporary file renamed over it).
pub(crate) fn write_state(path: &Path, table: &LatencyTable) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, import::to_csv(table))
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}
