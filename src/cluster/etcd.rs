//! The link to etcd: the lease, this instance's registration and votes, the watch on the prefix, reconnects.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use etcd_client::{
    Certificate, Client, ConnectOptions, EventType, GetOptions, Identity, LeaseKeepAliveStream,
    LeaseKeeper, PutOptions, TlsOptions, WatchOptions, WatchStream,
};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep, sleep_until, timeout};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::protocol::{ClusterStatus, Request, Settings};
use super::record::{self, FORMAT, Ignored, Key, MemberRecord, VoteRecord, encode, key_path};
use super::store::Store;

mod load;
use crate::health::persist::unix_ms;
use crate::health::{HealthHandle, Vote, VoteUpdate};
use crate::load::{LoadHandle, Observation};

/// Bound on one etcd call; a slower store counts as out of reach.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// How long an operator's write waits for a lost link to come back before it is refused.
const PENDING_WAIT: Duration = Duration::from_secs(5);
/// Bound on connecting to one member.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Watch events are handed to the tracker at most this often (a warm start of thousands
/// of targets writes thousands of votes; each view is rebuilt whole).
const COALESCE: Duration = Duration::from_millis(50);
/// Reconnect backoff: doubles from the first to the last.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(200), Duration::from_secs(5));

/// The one task that talks to etcd for this instance.
pub(super) struct Link {
    s: Settings,
    health: HealthHandle,
    load: LoadHandle,
    status: Arc<ArcSwap<ClusterStatus>>,
    store: Store,
    /// This instance's own verdicts, kept to publish again after a reconnect.
    mine: HashMap<Arc<str>, Vote>,
    /// This instance's last shared load value per selector, to publish again after a reconnect.
    load_mine: HashMap<String, Observation>,
    revision: i64,
    started_ms: u64,
    connected: bool,
    stale: bool,
    /// When the link was last known good (or the task started).
    lost_at: Instant,
    /// The endpoint the next session tries: one member per session, the next one after a
    /// failure, so a dead member is never waited on twice in a row.
    next_endpoint: usize,
    /// Operator requests that arrived while reconnecting; refused after [`PENDING_WAIT`].
    pending: Vec<(Instant, Request)>,
    /// Watched changes not yet handed to the tracker: publish at this time.
    publish_at: Option<Instant>,
}

/// What one watch response did.
enum Watched {
    /// Its events are in the store.
    Applied,
    /// The history it needed was compacted away: list the prefix again.
    Compacted,
}

/// A live session: the client, the lease and the streams that keep it.
struct Session {
    client: Client,
    lease: i64,
    keeper: LeaseKeeper,
    alive: LeaseKeepAliveStream,
    watch: WatchStream,
}

type Fallible<T> = Result<T, String>;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

async fn bounded<T, E: std::fmt::Display>(work: impl Future<Output = Result<T, E>>) -> Fallible<T> {
    match timeout(CALL_TIMEOUT, work).await {
        Ok(r) => r.map_err(err),
        Err(_) => Err(format!("no answer within {} s", CALL_TIMEOUT.as_secs())),
    }
}

impl Link {
    pub(super) fn new(
        s: Settings,
        health: HealthHandle,
        load: LoadHandle,
        status: Arc<ArcSwap<ClusterStatus>>,
    ) -> Self {
        let store = Store::new(s.prefix.clone());
        Self {
            s,
            health,
            load,
            status,
            store,
            mine: HashMap::new(),
            load_mine: HashMap::new(),
            revision: 0,
            started_ms: unix_ms(SystemTime::now()),
            connected: false,
            stale: false,
            lost_at: Instant::now(),
            next_endpoint: 0,
            pending: Vec::new(),
            publish_at: None,
        }
    }

    pub(super) async fn run(
        mut self,
        mut votes: mpsc::UnboundedReceiver<VoteUpdate>,
        mut requests: mpsc::UnboundedReceiver<Request>,
        mut loads: mpsc::UnboundedReceiver<Observation>,
        cancel: CancellationToken,
    ) {
        let mut backoff = BACKOFF.0;
        let mut logged_down = false;
        self.publish();
        loop {
            let attempt = tokio::select! {
                () = cancel.cancelled() => return,
                s = self.connect() => s,
            };
            match attempt {
                Ok(mut session) => {
                    backoff = BACKOFF.0;
                    logged_down = false;
                    let pending = std::mem::take(&mut self.pending);
                    for (_, request) in pending {
                        // A failure here shows again in the session's first call.
                        let _ = self.answer(&mut session, request).await;
                    }
                    let why = self
                        .serve(session, &mut votes, &mut requests, &mut loads, &cancel)
                        .await;
                    let Some(why) = why else { return };
                    self.next_endpoint += 1; // try the next member first
                    warn!("cluster: lost etcd: {why}; reconnecting");
                    crate::metrics::cluster_watch_restart();
                    self.went_down();
                }
                Err(e) => {
                    if !logged_down {
                        warn!(
                            "cluster: cannot reach etcd ({e}); serving on, retrying with backoff"
                        );
                        logged_down = true;
                    }
                }
            }
            // Every member gets a quick try before the backoff grows.
            let retry_at = Instant::now() + backoff;
            if self.next_endpoint.is_multiple_of(self.s.endpoints.len()) {
                backoff = (backoff * 2).min(BACKOFF.1);
            }
            if !self
                .wait(retry_at, &mut votes, &mut requests, &mut loads, &cancel)
                .await
            {
                return;
            }
        }
    }

    /// While out of reach: keep own votes current, refuse writes, go stale on time.
    async fn wait(
        &mut self,
        until: Instant,
        votes: &mut mpsc::UnboundedReceiver<VoteUpdate>,
        requests: &mut mpsc::UnboundedReceiver<Request>,
        loads: &mut mpsc::UnboundedReceiver<Observation>,
        cancel: &CancellationToken,
    ) -> bool {
        loop {
            let stale_at = self.lost_at + self.s.stale_after;
            let oldest = self.pending.first().map(|(at, _)| *at + PENDING_WAIT);
            tokio::select! {
                () = cancel.cancelled() => return false,
                () = sleep_until(until) => return true,
                () = sleep_until(oldest.unwrap_or(until)), if oldest.is_some() => self.refuse_old(),
                () = sleep_until(stale_at), if !self.stale => self.go_stale(),
                Some(update) = votes.recv() => drop(self.remember(update)),
                Some(request) = requests.recv() => self.offline(request),
                Some(obs) = loads.recv() => self.remember_load(obs),
            }
        }
    }

    /// A request while etcd is out of reach: writes wait for the next session (at most
    /// [`PENDING_WAIT`]); the digest is kept for the next registration.
    fn offline(&mut self, request: Request) {
        match request {
            Request::ZoneDigest(digest) => self.s.zone_digest = digest,
            other if self.stale => refuse(other),
            other => self.pending.push((Instant::now(), other)),
        }
    }

    fn refuse_old(&mut self) {
        let now = Instant::now();
        let (old, young) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|(at, _)| *at + PENDING_WAIT <= now);
        self.pending = young;
        for (_, r) in old {
            refuse(r);
        }
    }

    fn went_down(&mut self) {
        self.connected = false;
        self.lost_at = Instant::now();
        crate::metrics::cluster_connected(false);
        self.publish();
    }

    fn go_stale(&mut self) {
        self.stale = true;
        warn!(
            "cluster: etcd out of reach for {} s; deciding every target on this instance's own probes",
            self.s.stale_after.as_secs()
        );
        self.publish();
    }

    async fn connect(&mut self) -> Fallible<Session> {
        let endpoint = self.s.endpoints[self.next_endpoint % self.s.endpoints.len()].clone();
        self.next_endpoint += 1;
        let mut client = bounded(Client::connect([&endpoint], Some(self.options()))).await?;
        let lease = bounded(client.lease_grant(ttl_secs(self.s.lease_ttl), None))
            .await?
            .id();
        let (keeper, alive) = bounded(client.lease_keep_alive(lease)).await?;
        let mut session = Session {
            watch: self.start_watch(&mut client).await?,
            client,
            lease,
            keeper,
            alive,
        };
        self.register(&mut session).await?;
        self.connected = true;
        self.stale = false;
        crate::metrics::cluster_connected(true);
        self.next_endpoint -= 1; // stay with a member that works
        info!(
            "cluster: joined {} as {} through {endpoint} (lease {lease:x}, revision {})",
            self.s.cluster, self.s.instance, self.revision
        );
        self.publish();
        Ok(session)
    }

    fn options(&self) -> ConnectOptions {
        let mut o = ConnectOptions::new()
            .with_connect_timeout(CONNECT_TIMEOUT)
            .with_timeout(CALL_TIMEOUT)
            .with_keep_alive(Duration::from_secs(2), Duration::from_secs(2));
        if let Some((user, password)) = &self.s.secrets.user {
            o = o.with_user(user.clone(), password.clone());
        }
        let (ca, identity) = (&self.s.secrets.tls_ca, &self.s.secrets.tls_identity);
        if ca.is_some() || identity.is_some() {
            let mut tls = TlsOptions::new();
            if let Some(ca) = ca {
                tls = tls.ca_certificate(Certificate::from_pem(ca));
            }
            if let Some((cert, key)) = identity {
                tls = tls.identity(Identity::from_pem(cert, key));
            }
            o = o.with_tls(tls);
        }
        o
    }

    /// Resumes from the last revision seen; lists the prefix again when that was compacted
    /// (or on the first connect).
    async fn start_watch(&mut self, client: &mut Client) -> Fallible<WatchStream> {
        if self.revision > 0 {
            let options = WatchOptions::new()
                .with_prefix()
                .with_start_revision(self.revision + 1);
            let mut watch = bounded(client.watch(self.s.prefix.clone(), Some(options))).await?;
            match bounded(watch.message()).await? {
                Some(r) if r.created() && !r.canceled() => return Ok(watch),
                Some(r) if r.compact_revision() > 0 => {
                    info!(
                        "cluster: revision {} was compacted; listing again",
                        self.revision
                    );
                }
                _ => return Err("the watch was refused".into()),
            }
        }
        let listing =
            bounded(client.get(self.s.prefix.clone(), Some(GetOptions::new().with_prefix())))
                .await?;
        self.revision = listing
            .header()
            .map_or(0, etcd_client::ResponseHeader::revision);
        let now = unix_ms(SystemTime::now());
        let kvs = listing.kvs().iter().map(|kv| (kv.key(), kv.value()));
        for ignored in self.store.reset(kvs, now) {
            note_ignored(&ignored, "listing");
        }
        self.forward_load();
        let options = WatchOptions::new()
            .with_prefix()
            .with_start_revision(self.revision + 1);
        let mut watch = bounded(client.watch(self.s.prefix.clone(), Some(options))).await?;
        match bounded(watch.message()).await? {
            Some(r) if r.created() && !r.canceled() => Ok(watch),
            _ => Err("the watch was refused".into()),
        }
    }

    /// Writes the member record and every own vote under the session's lease.
    async fn register(&mut self, session: &mut Session) -> Fallible<()> {
        let member = MemberRecord {
            v: FORMAT,
            instance: self.s.instance.to_string(),
            version: env!("CARGO_PKG_VERSION").into(),
            region: self.s.region.clone(),
            started_unix_ms: self.started_ms,
            zone_digest: self.s.zone_digest.clone(),
        };
        let key = key_path(&self.s.prefix, &Key::Member(self.s.instance.clone()));
        put(session, key, encode(&member)).await?;
        let mine: Vec<(Arc<str>, Vote)> = self
            .mine
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (target, vote) in mine {
            self.put_vote(session, &target, &vote).await?;
        }
        self.put_own_loads(session).await
    }

    async fn put_vote(
        &self,
        session: &mut Session,
        target: &Arc<str>,
        vote: &Vote,
    ) -> Fallible<()> {
        let key = key_path(
            &self.s.prefix,
            &Key::Vote(self.s.instance.clone(), target.clone()),
        );
        let record = VoteRecord {
            v: FORMAT,
            state: vote.state,
            since_unix_ms: vote.since_unix_ms,
            reason: vote.reason.clone(),
            rtt_ms: vote.rtt_ms,
        };
        put(session, key, encode(&record)).await
    }

    /// Runs a session until it fails (`Some(why)`) or the task is cancelled (`None`).
    async fn serve(
        &mut self,
        mut session: Session,
        votes: &mut mpsc::UnboundedReceiver<VoteUpdate>,
        requests: &mut mpsc::UnboundedReceiver<Request>,
        loads: &mut mpsc::UnboundedReceiver<Observation>,
        cancel: &CancellationToken,
    ) -> Option<String> {
        let mut keepalive = tokio::time::interval(self.s.lease_ttl / 3);
        loop {
            let expiry = self.store.next_expiry(unix_ms(SystemTime::now()));
            let publish_at = self.publish_at;
            let result = tokio::select! {
                () = cancel.cancelled() => {
                    self.leave(&mut session).await;
                    return None;
                }
                _ = keepalive.tick() => keep_alive(&mut session).await,
                message = session.watch.message() => match self.watched(message.map_err(err)) {
                    // The history this watch needed is gone: list the prefix again and
                    // watch from there, on the same session.
                    Ok(Watched::Compacted) => match self.start_watch(&mut session.client).await {
                        Ok(watch) => {
                            session.watch = watch;
                            self.publish();
                            Ok(())
                        }
                        Err(why) => Err(why),
                    },
                    other => other.map(drop),
                },
                Some(update) = votes.recv() => self.send_votes(&mut session, update).await,
                Some(request) = requests.recv() => self.answer(&mut session, request).await,
                Some(obs) = loads.recv() => self.send_load(&mut session, obs).await,
                () = sleep(until_ms(expiry)), if expiry.is_some() => {
                    self.publish();
                    Ok(())
                }
                () = sleep_until(publish_at.unwrap_or_else(Instant::now)), if publish_at.is_some() => {
                    self.publish();
                    Ok(())
                }
            };
            if let Err(why) = result {
                return Some(why);
            }
        }
    }

    /// Revokes the lease so this instance's votes vanish at once.
    async fn leave(&mut self, session: &mut Session) {
        match timeout(
            Duration::from_secs(1),
            session.client.lease_revoke(session.lease),
        )
        .await
        {
            Ok(Ok(_)) => info!("cluster: left {}; lease revoked", self.s.cluster),
            _ => warn!("cluster: could not revoke the lease; votes expire with it"),
        }
    }

    fn watched(
        &mut self,
        message: Fallible<Option<etcd_client::WatchResponse>>,
    ) -> Fallible<Watched> {
        let Some(response) = message? else {
            return Err("the watch stream ended".into());
        };
        if response.canceled() {
            if response.compact_revision() > 0 {
                info!(
                    "cluster: revision {} was compacted; listing again",
                    self.revision
                );
                crate::metrics::cluster_watch_restart();
                self.revision = 0;
                return Ok(Watched::Compacted);
            }
            return Err(format!(
                "the watch was cancelled: {}",
                response.cancel_reason()
            ));
        }
        let now = unix_ms(SystemTime::now());
        for event in response.events() {
            let Some(kv) = event.kv() else { continue };
            self.revision = self.revision.max(kv.mod_revision());
            let applied = match event.event_type() {
                EventType::Put => self.store.put(kv.key(), kv.value(), now),
                EventType::Delete => self.store.delete(kv.key(), now),
            };
            if let Err(ignored) = applied {
                note_ignored(&ignored, &String::from_utf8_lossy(kv.key()));
            }
        }
        if let Some(h) = response.header() {
            self.revision = self.revision.max(h.revision());
        }
        self.forward_load();
        if self.publish_at.is_none() {
            self.publish_at = Some(Instant::now() + COALESCE);
        }
        Ok(Watched::Applied)
    }

    /// Takes in this instance's new votes; returns the targets whose vote was withdrawn
    /// and those whose vote is new or changed (what must be written).
    fn remember(&mut self, update: VoteUpdate) -> (Vec<Arc<str>>, Vec<Arc<str>>) {
        match update {
            VoteUpdate::Set(target, vote) => {
                let changed = self.mine.get(&target) != Some(&vote);
                self.mine.insert(target.clone(), vote);
                (Vec::new(), if changed { vec![target] } else { Vec::new() })
            }
            VoteUpdate::All(all) => {
                let new: HashMap<Arc<str>, Vote> = all.into_iter().collect();
                let old = std::mem::replace(&mut self.mine, new);
                let changed = self.mine.iter().filter(|(k, v)| old.get(*k) != Some(*v));
                let changed = changed.map(|(k, _)| k.clone()).collect();
                let withdrawn = old.into_keys().filter(|k| !self.mine.contains_key(k));
                (withdrawn.collect(), changed)
            }
        }
    }

    /// Publishes changed own votes (only what differs from what was last written).
    async fn send_votes(&mut self, session: &mut Session, update: VoteUpdate) -> Fallible<()> {
        let (withdrawn, changed) = self.remember(update);
        for target in withdrawn {
            let key = key_path(&self.s.prefix, &Key::Vote(self.s.instance.clone(), target));
            bounded(session.client.delete(key, None)).await?;
        }
        for target in changed {
            if let Some(vote) = self.mine.get(&target).cloned() {
                self.put_vote(session, &target, &vote).await?;
            }
        }
        Ok(())
    }

    async fn answer(&mut self, session: &mut Session, request: Request) -> Fallible<()> {
        match request {
            Request::SetOverride(record, ttl, reply) => {
                let result = self.store_override(session, &record, ttl).await;
                let failed = result.as_ref().err().cloned();
                let _ = reply.send(result);
                failed.map_or(Ok(()), Err)
            }
            Request::ClearOverride(selector, reply) => {
                let key = key_path(&self.s.prefix, &Key::Override(selector));
                let result = bounded(session.client.delete(key.clone(), None)).await;
                let existed = result.map(|r| r.deleted() > 0);
                if existed == Ok(true) {
                    let _ = self
                        .store
                        .delete(key.as_bytes(), unix_ms(SystemTime::now()));
                    self.publish();
                }
                let failed = existed.as_ref().err().cloned();
                let _ = reply.send(existed);
                failed.map_or(Ok(()), Err)
            }
            Request::ZoneDigest(digest) => {
                self.s.zone_digest = digest;
                self.register(session).await
            }
        }
    }

    async fn store_override(
        &mut self,
        session: &mut Session,
        record: &record::OverrideRecord,
        ttl: Option<Duration>,
    ) -> Fallible<()> {
        let selector = record.selector.parse().map_err(err)?;
        let key = key_path(&self.s.prefix, &Key::Override(selector));
        let mut options = PutOptions::new();
        if let Some(ttl) = ttl {
            let lease = bounded(session.client.lease_grant(ttl_secs(ttl), None)).await?;
            options = options.with_lease(lease.id());
        }
        let value = encode(record);
        bounded(
            session
                .client
                .put(key.clone(), value.clone(), Some(options)),
        )
        .await?;
        // Apply it here at once; the watch will bring the same value again.
        let _ = self
            .store
            .put(key.as_bytes(), &value, unix_ms(SystemTime::now()));
        info!(
            "cluster: override {} {} stored by {} ({})",
            record.selector, record.state, record.who, record.reason
        );
        self.publish();
        Ok(())
    }

    /// Hands the tracker the merged view and refreshes `/v1/cluster` and the metrics.
    fn publish(&mut self) {
        self.publish_at = None;
        let now = unix_ms(SystemTime::now());
        let view = self.store.votes_view(
            &self.s.instance,
            self.s.rule,
            self.s.min_voters,
            self.stale,
            now,
        );
        let _ = self.health.cluster_view(Arc::new(view));
        let members = self.store.members(&self.s.instance, &self.s.zone_digest);
        let live = members.iter().filter(|m| m.alive).count();
        let drifted = members.iter().filter(|m| m.drift).count();
        crate::metrics::cluster_members(live, drifted);
        for m in &members {
            crate::metrics::cluster_member(
                &m.instance,
                &m.region,
                &m.version,
                &m.zone_digest,
                m.alive,
            );
        }
        for (target, tally) in self.store.tallies() {
            crate::metrics::cluster_votes(&target, tally.up, tally.down);
        }
        self.status.store(Arc::new(ClusterStatus {
            cluster: self.s.cluster.clone(),
            instance: self.s.instance.to_string(),
            region: self.s.region.clone(),
            connected: self.connected,
            stale: self.stale,
            revision: self.revision,
            quorum: self.s.rule.to_string(),
            min_voters: self.s.min_voters,
            lease_ttl_secs: self.s.lease_ttl.as_secs(),
            stale_after_secs: self.s.stale_after.as_secs(),
            zone_digest: self.s.zone_digest.clone(),
            drift: drifted > 0,
            members,
        }));
    }
}

async fn put(session: &mut Session, key: String, value: Vec<u8>) -> Fallible<()> {
    let options = PutOptions::new().with_lease(session.lease);
    bounded(session.client.put(key, value, Some(options)))
        .await
        .map(drop)
}

async fn keep_alive(session: &mut Session) -> Fallible<()> {
    bounded(session.keeper.keep_alive()).await?;
    match bounded(session.alive.message()).await? {
        Some(r) if r.ttl() > 0 => Ok(()),
        Some(_) => Err("the lease expired".into()),
        None => Err("the keep-alive stream ended".into()),
    }
}

fn refuse(request: Request) {
    let why = || "etcd is out of reach; use the override file for a local override".to_string();
    match request {
        Request::SetOverride(_, _, reply) => drop(reply.send(Err(why()))),
        Request::ClearOverride(_, reply) => drop(reply.send(Err(why()))),
        Request::ZoneDigest(_) => {}
    }
}

fn note_ignored(ignored: &Ignored, key: &str) {
    warn!("cluster: ignoring the value at {key}: {ignored}");
    crate::metrics::cluster_ignored(ignored.label());
}

fn ttl_secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs().max(1)).unwrap_or(i64::MAX)
}

fn until_ms(at: Option<u64>) -> Duration {
    let now = unix_ms(SystemTime::now());
    Duration::from_millis(at.unwrap_or(now).saturating_sub(now) + 1)
}
