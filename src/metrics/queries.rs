//! The per-query metrics: the query counter, the sampled duration histogram and the decision
//! counter, through per-thread caches of their handles and per-thread tallies (see the
//! parent module).

use std::cell::{Cell, RefCell};
use std::sync::{Arc, LazyLock, OnceLock};
use std::time::Instant;

use metrics::{Histogram, counter, histogram};
use smallvec::SmallVec;

use super::cache::{Counted, Named, ServiceHandles, ZoneHandles, decision_cell, query_cell};
use super::labels::{
    NO_ZONE, OTHER, QTYPES, RCODES, TRANSPORTS, index_in, label_at, qtype_index, rcode_index,
};
use super::{DECISIONS, Outcome, QUERIES, QUERY_DURATION};
use crate::policy::PolicyKind;

static ZONES: LazyLock<Named<ZoneHandles>> = LazyLock::new(Named::default);
static QUERY_DURATIONS: [OnceLock<Histogram>; TRANSPORTS.len() + 1] =
    [const { OnceLock::new() }; TRANSPORTS.len() + 1];

/// Query durations are measured for one query in this many per socket thread (the first
/// included): reading the clock twice per query would cost more than answering a static name.
pub(crate) const DURATION_SAMPLE: u32 = 16;

/// The timing of one query, started for one query in [`DURATION_SAMPLE`] per thread.
#[derive(Clone, Copy)]
pub struct QueryTimer(Option<Instant>);

impl QueryTimer {
    /// Starts timing if this query is one of the sampled ones.
    pub fn start() -> Self {
        thread_local!(static SEEN: Cell<u32> = const { Cell::new(0) });
        let n = SEEN.with(|c| {
            let n = c.get();
            c.set(n.wrapping_add(1));
            n
        });
        Self(n.is_multiple_of(DURATION_SAMPLE).then(Instant::now))
    }

    /// A timer that measures whatever the sample says (tests, rare paths).
    pub fn always() -> Self {
        Self(Some(Instant::now()))
    }
}

/// Most cells one tally holds; one more first adds the tally to the shared counters.
const TALLY_CELLS: usize = 8;

/// Counts a thread has made and not yet added to the shared counters, by cell of the
/// handles they belong to: the shared counters are atomics, and adding a batch's counts
/// at once costs one atomic add per cell instead of one per query. Dropping a tally (the
/// thread moved to other handles, or ended) adds what it holds.
struct Tally<H: Counted> {
    handles: Arc<H>,
    counts: SmallVec<[(usize, u64); TALLY_CELLS]>,
}

impl<H: Counted> Tally<H> {
    fn new(handles: Arc<H>) -> Self {
        Self {
            handles,
            counts: SmallVec::new(),
        }
    }

    /// Count one in `cell`, first adding the tally to the counters when it is full.
    fn count(&mut self, cell: usize) {
        if let Some((_, n)) = self.counts.iter_mut().find(|(c, _)| *c == cell) {
            *n += 1;
            return;
        }
        if self.counts.len() == TALLY_CELLS {
            self.add();
        }
        self.counts.push((cell, 1));
    }

    /// Add the counts to the shared counters and start again from zero.
    fn add(&mut self) {
        for (cell, n) in self.counts.drain(..) {
            self.handles.add(cell, n);
        }
    }
}

impl<H: Counted> Drop for Tally<H> {
    fn drop(&mut self) {
        self.add();
    }
}

thread_local! {
    /// The handles of the zone this thread counted last, with its tally: most queries on
    /// a socket are for the same zone, so the shared map is not consulted for them.
    static LAST_ZONE: RefCell<Option<Tally<ZoneHandles>>> = const { RefCell::new(None) };
    /// Likewise for the service of the last decision (and its zone).
    static LAST_SERVICE: RefCell<Option<(Arc<ZoneHandles>, Tally<ServiceHandles>)>> =
        const { RefCell::new(None) };
}

/// Add this thread's tallies to the shared counters. The UDP loop calls it once per batch
/// and single queries once each, so a scrape sees every answered query.
pub fn flush() {
    super::dnssec::flush();
    LAST_ZONE.with_borrow_mut(|last| {
        if let Some(t) = last {
            t.add();
        }
    });
    LAST_SERVICE.with_borrow_mut(|last| {
        if let Some((_, t)) = last {
            t.add();
        }
    });
}

/// Run `f` on the tally of `zone`, this thread's last one when it matches (no reference
/// count is touched then); a different zone first adds the last one's counts.
fn with_zone<T>(zone: &str, f: impl FnOnce(&mut Tally<ZoneHandles>) -> T) -> T {
    LAST_ZONE.with_borrow_mut(|last| match last {
        Some(t) if &*t.handles.zone == zone => f(t),
        _ => f(last.insert(Tally::new(ZONES.get(zone, ZoneHandles::new)))),
    })
}

/// One answered query. `zone` is the configured origin that answered (None: outside every
/// zone), `qtype` and `rcode` the numeric codes, `transport` `udp` or `tcp`.
pub fn query(zone: Option<&str>, qtype: u16, rcode: u16, transport: &str, timer: QueryTimer) {
    let (q, r, t) = (
        qtype_index(qtype),
        rcode_index(rcode),
        index_in(&TRANSPORTS, transport),
    );
    with_zone(zone.unwrap_or(NO_ZONE), |tally| {
        let (z, cell) = (&tally.handles, query_cell(q, r, t));
        z.queries.register(cell, || {
            counter!(QUERIES,
                "zone" => z.zone.clone(),
                "qtype" => QTYPES.get(q).map_or(OTHER, |e| e.1),
                "rcode" => RCODES.get(r).map_or(OTHER, |e| e.1),
                "transport" => label_at(&TRANSPORTS, t))
        });
        tally.count(cell);
    });
    if let (Some(started), Some(slot)) = (timer.0, QUERY_DURATIONS.get(t)) {
        slot.get_or_init(|| histogram!(QUERY_DURATION, "transport" => label_at(&TRANSPORTS, t)))
            .record(started.elapsed().as_secs_f64());
    }
}

/// One service decision: its `policy` label is [`PolicyKind::as_str`].
pub fn decision(zone: &str, service: &str, policy: PolicyKind, outcome: Outcome) {
    LAST_SERVICE.with_borrow_mut(|last| {
        let (z, tally) = match last {
            Some((z, t)) if &*z.zone == zone && &*t.handles.service == service => (z, t),
            _ => {
                let z = ZONES.get(zone, ZoneHandles::new);
                let s = z.services.get(service, ServiceHandles::new);
                let (z, t) = last.insert((z, Tally::new(s)));
                (z, t)
            }
        };
        let (s, cell) = (&tally.handles, decision_cell(policy, outcome));
        s.decisions.register(cell, || {
            counter!(DECISIONS,
                "zone" => z.zone.clone(),
                "service" => s.service.clone(),
                "policy" => policy.as_str(),
                "outcome" => outcome.as_str())
        });
        tally.count(cell);
    });
}
