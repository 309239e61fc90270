//! The per-query metrics: the query counter, the sampled duration histogram and the decision
//! counter, through per-thread caches of their handles (see the parent module).

use std::cell::{Cell, RefCell};
use std::sync::{Arc, LazyLock, OnceLock};
use std::time::Instant;

use metrics::{Histogram, counter, histogram};

use super::cache::{Named, ServiceHandles, ZoneHandles, decision_cell, query_cell};
use super::labels::{
    NO_ZONE, OTHER, POLICIES, QTYPES, RCODES, TRANSPORTS, index_in, label_at, qtype_index,
    rcode_index,
};
use super::{DECISIONS, Outcome, QUERIES, QUERY_DURATION};

static ZONES: LazyLock<Named<ZoneHandles>> = LazyLock::new(Named::default);
static QUERY_DURATIONS: [OnceLock<Histogram>; TRANSPORTS.len() + 1] =
    [const { OnceLock::new() }; TRANSPORTS.len() + 1];

/// Query durations are measured for one query in this many per socket thread (the first
/// included): reading the clock twice per query would cost more than answering a static name.
pub const DURATION_SAMPLE: u32 = 16;

/// The timing of one query, started for one query in [`DURATION_SAMPLE`] per thread.
#[derive(Clone, Copy)]
pub struct QueryTimer(Option<Instant>);

impl QueryTimer {
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

thread_local! {
    /// The handles of the zone this thread counted last: most queries on a socket are for
    /// the same zone, so the shared map is not consulted for them.
    static LAST_ZONE: RefCell<Option<Arc<ZoneHandles>>> = const { RefCell::new(None) };
    /// Likewise for the service of the last decision.
    static LAST_SERVICE: RefCell<Option<(Arc<ZoneHandles>, Arc<ServiceHandles>)>> =
        const { RefCell::new(None) };
}

/// Run `f` on the handles of `zone`, from this thread's last one when it matches (no
/// reference count is touched then).
fn with_zone<T>(zone: &str, f: impl FnOnce(&ZoneHandles) -> T) -> T {
    LAST_ZONE.with_borrow_mut(|last| match last {
        Some(z) if &*z.zone == zone => f(z),
        _ => f(last.insert(ZONES.get(zone, ZoneHandles::new))),
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
    with_zone(zone.unwrap_or(NO_ZONE), |z| {
        z.queries.increment(query_cell(q, r, t), || {
            counter!(QUERIES,
                "zone" => z.zone.clone(),
                "qtype" => QTYPES.get(q).map_or(OTHER, |e| e.1),
                "rcode" => RCODES.get(r).map_or(OTHER, |e| e.1),
                "transport" => label_at(&TRANSPORTS, t))
        });
    });
    if let (Some(started), Some(slot)) = (timer.0, QUERY_DURATIONS.get(t)) {
        slot.get_or_init(|| histogram!(QUERY_DURATION, "transport" => label_at(&TRANSPORTS, t)))
            .record(started.elapsed().as_secs_f64());
    }
}

/// One service decision. `policy` is the service's policy name (`failover`, `weighted`,
/// `geo`, `nearest`, `latency`, `static`; else `other`).
pub fn decision(zone: &str, service: &str, policy: &str, outcome: Outcome) {
    let p = index_in(&POLICIES, policy);
    let o = outcome as usize;
    LAST_SERVICE.with_borrow_mut(|last| {
        let (z, s) = match last {
            Some((z, s)) if &*z.zone == zone && &*s.service == service => (&**z, &**s),
            _ => {
                let z = ZONES.get(zone, ZoneHandles::new);
                let s = z.services.get(service, ServiceHandles::new);
                let (z, s) = last.insert((z, s));
                (&**z, &**s)
            }
        };
        s.decisions.increment(decision_cell(p, o), || {
            counter!(DECISIONS,
                "zone" => z.zone.clone(),
                "service" => s.service.clone(),
                "policy" => label_at(&POLICIES, p),
                "outcome" => outcome.as_str())
        });
    });
}
