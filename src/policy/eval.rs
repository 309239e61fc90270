//! One evaluation's state: inputs, the answers so far, the ECS scope needed and the trace.

use std::sync::Arc;

use rand::Rng;

use crate::geo::{Locate, Location};
use crate::health::HealthSnapshot;

use super::eligibility::{Census, DcFilter, Group, Judge, Pass};
use super::explain::{Event, ScopeInput, Trace};
use super::load_view::LoadView;
use super::model::Answers;
use super::query::{Client, Outcome, Want};
use super::rtt::{LatencyView, RttSource};
use super::service::Service;

pub(super) struct Eval<'a, 't, R: Rng + ?Sized> {
    pub(crate) service: &'a Service,
    pub(crate) want: Want,
    pub(crate) client: &'a Client,
    pub(crate) health: &'a HealthSnapshot,
    pub(crate) latency: LatencyView<'a>,
    pub(crate) rng: &'t mut R,
    trace: Option<&'t mut Trace>,
    /// Prefix length of the client address the answer depends on so far.
    pub(crate) needed: u8,
    pub(crate) answers: Answers,
    /// `latency`: where the RTT of the datacenter that answered came from.
    pub(crate) rtt_source: Option<RttSource>,
    /// Load shedding for this query (set by `load::prepare`).
    pub(crate) load: Option<LoadView<'a>>,
}

impl<'a, 't, R: Rng + ?Sized> Eval<'a, 't, R> {
    pub(crate) fn new(
        service: &'a Service,
        want: Want,
        client: &'a Client,
        health: &'a HealthSnapshot,
        latency: LatencyView<'a>,
        rng: &'t mut R,
        trace: Option<&'t mut Trace>,
    ) -> Self {
        Self {
            service,
            want,
            client,
            health,
            latency,
            rng,
            trace,
            needed: 0,
            answers: Answers::new(),
            rtt_source: None,
            load: None,
        }
    }

    pub(crate) fn judge(&self, pass: Pass) -> Judge<'a> {
        Judge {
            service: self.service,
            health: self.health,
            want: self.want,
            pass,
            load: self.load,
        }
    }

    /// Records an event; `event` runs only when tracing, so the query path never formats.
    pub(crate) fn note(&mut self, event: impl FnOnce() -> Event) {
        if let Some(trace) = self.trace.as_deref_mut() {
            trace.events.push(event());
        }
    }

    pub(crate) fn tracing(&self) -> bool {
        self.trace.is_some()
    }

    /// Bits in the client's address family.
    pub(crate) fn width(&self) -> u8 {
        if self.client.addr.is_ipv4() { 32 } else { 128 }
    }

    /// The answer depends on the first `bits` bits of the client address.
    /// Look the client up in GeoIP, trace what was found, and record the scope the
    /// location implies (the database network, or the whole source when unlocated).
    pub(crate) fn locate(&mut self, geo: &dyn Locate) -> Option<Location> {
        let location = geo.locate(self.client.addr);
        if self.tracing() {
            let shown = location.clone();
            self.note(|| Event::Located(shown));
        }
        match &location {
            Some(loc) => self.need(ScopeInput::GeoDatabase, loc.prefix_len),
            None => {
                let width = self.width();
                self.need(ScopeInput::Unlocated, width);
            }
        }
        location
    }

    pub(crate) fn need(&mut self, input: ScopeInput, bits: u8) {
        let bits = bits.min(self.width());
        self.needed = self.needed.max(bits);
        self.note(|| Event::ScopeInput { input, bits });
    }

    /// Drops the traced scope inputs that a wider one superseded: only the inputs that set
    /// the scope explain it (a `/1` needed to exclude a distant CIDR entry says nothing once
    /// the GeoIP network needs a `/16`).
    pub(crate) fn drop_superseded_scope_inputs(&mut self) {
        let needed = self.needed;
        if let Some(trace) = self.trace.as_deref_mut() {
            trace
                .events
                .retain(|e| !matches!(e, Event::ScopeInput { bits, .. } if *bits < needed));
        }
    }

    /// The ECS scope to return: what was needed, never more than the source prefix.
    pub(crate) fn scope(&self) -> u8 {
        self.needed.min(self.client.source_prefix)
    }

    /// Tries candidate groups in order; the first one up answers through its selection.
    /// `Failover` when an earlier group with members of the wanted family was down.
    pub(crate) fn first_up(
        &mut self,
        groups: impl Iterator<Item = Group<'a>>,
        pass: Pass,
    ) -> Option<Outcome> {
        let judge = self.judge(pass);
        let mut skipped_down = false;
        for g in groups {
            let census = judge.census(g);
            self.note_pool(g, census, pass);
            if census.up() {
                self.select(g, judge);
                return Some(if skipped_down {
                    Outcome::Failover
                } else {
                    Outcome::Primary
                });
            }
            skipped_down |= census.total > 0;
        }
        None
    }

    pub(crate) fn note_pool(&mut self, g: Group<'a>, census: Census, pass: Pass) {
        let service = self.service;
        self.note(|| Event::Pool {
            pool: g.pool.name.clone(),
            datacenter: match g.dc {
                DcFilter::Any => None,
                DcFilter::At(dc) => Some(
                    service
                        .datacenter(dc)
                        .map_or_else(|| Arc::from("(no datacenter)"), |d| d.name.clone()),
                ),
            },
            usable: census.usable,
            total: census.total,
            required: census.required,
            pass,
            up: census.up(),
        });
    }
}
