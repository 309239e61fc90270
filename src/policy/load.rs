//! Load-aware shedding inside every policy: a member whose member or datacenter entry sheds
//! this client counts as not usable in the healthy pass, so failover moves on and geo,
//! nearest and latency go to the next datacenter in order; `weighted` instead scales each
//! member's weight by the share it keeps. When load leaves no candidate, the policy runs
//! again without load (`Pass::IgnoreLoad`), so load never empties an answer.

use std::sync::atomic::{AtomicU64, Ordering};

use rand::Rng;

use super::eval::Eval;
use super::explain::{Event, ScopeInput};
use super::load_view::{LoadNote, LoadView};
use super::rendezvous::ClientKey;
use super::service::Policy;
use crate::load::LoadSnapshot;

/// Decisions in which load shed this client from at least one candidate (read by metrics).
pub(crate) static SHED_DECISIONS: AtomicU64 = AtomicU64::new(0);

/// Looks at the load of every member of the service once per query: `None` (and no further
/// lookups) when nothing sheds. Records the ECS scope when the decision depends on the
/// client hash and, when tracing, each entry.
pub(super) fn prepare<'a, R: Rng + ?Sized>(
    ev: &mut Eval<'a, '_, R>,
    snapshot: &'a LoadSnapshot,
) -> Option<LoadView<'a>> {
    if snapshot.is_idle() {
        return None;
    }
    let service = ev.service;
    let key = ClientKey::new(ev.client.addr, ev.client.source_prefix);
    let scale = matches!(service.policy, Policy::Weighted { .. });
    let (mut any, mut partial, mut shed) = (false, false, false);
    // Datacenters already looked at (ids below 64; larger ids are looked at again, which
    // only repeats a trace line): a bit set, so the query path never allocates.
    let mut seen_dc = 0u64;
    for m in service.pools.iter().flat_map(|p| p.members.iter()) {
        if !ev.want.accepts(&m.answer) {
            continue;
        }
        let member = m
            .target
            .as_ref()
            .and_then(|t| snapshot.member(t).map(|e| ("member", t, e)));
        let dc = m
            .datacenter
            .filter(|&d| d >= 64 || seen_dc & (1 << d) == 0)
            .and_then(|d| service.datacenter(Some(d)).map(|x| (d, x)))
            .and_then(|(d, x)| {
                if d < 64 {
                    seen_dc |= 1 << d;
                }
                snapshot
                    .datacenter(&x.name)
                    .map(|e| ("datacenter", &x.name, e))
            });
        for (kind, name, e) in [member, dc].into_iter().flatten() {
            if e.share <= 0.0 {
                continue;
            }
            any = true;
            partial |= e.partial() && !scale;
            let sheds = !scale && e.sheds(key.hash);
            shed |= sheds || (scale && e.share > 0.0);
            ev.note(|| {
                Event::Load(LoadNote {
                    kind,
                    name: name.clone(),
                    entry: e.clone(),
                    shed: sheds,
                })
            });
        }
    }
    if !any {
        return None;
    }
    if partial {
        ev.need(ScopeInput::HashedSubnet, key.prefix);
    }
    if shed && !ev.tracing() {
        SHED_DECISIONS.fetch_add(1, Ordering::Relaxed);
    }
    Some(LoadView {
        snapshot,
        client_hash: key.hash,
        scale,
    })
}
