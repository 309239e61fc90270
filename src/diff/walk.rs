//! Evaluating two versions of a service over a client space, network by network, stepping by ECS scope.
//!
//! For each network the walk evaluates both versions for the network's first address; each
//! decision says (its ECS scope) how wide a block of addresses gets the same answer, so
//! the next client is the first address past the narrower of the two blocks. A block
//! narrower than /24 (IPv4) or /48 (IPv6) is counted as that /24 or /48: its first
//! address stands for the rest (only `hash` selections and CIDR entries longer than
//! that are approximated). Random draws use one fixed seed on both sides, so a draw by
//! itself never counts as a move; weighted policies are reported by their shares instead
//! (see `shape`).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::model::{Inputs, Move, answer_text, display_name};
use super::space::{Block, ClientSpace};
use crate::policy::{self, Answer, Client, Decision, Outcome, Service, Want};

/// The finest blocks the walk tells apart, per family.
const FLOOR_V4: u8 = 24;
const FLOOR_V6: u8 = 48;

/// Networks per unit of work: big spaces are split so every core has work.
const CHUNK: usize = 16 * 1024;

/// One unit of work: a service pair, a query type and a slice of a space.
struct Job<'a> {
    /// Index of the (pair, type, space) the job belongs to.
    group: usize,
    old: &'a Service,
    new: &'a Service,
    want: Want,
    space: &'a ClientSpace,
    blocks: &'a [Block],
}

/// Every move of every changed service, in service order, largest share first.
pub(super) fn moves(pairs: &[(Arc<Service>, Arc<Service>)], inputs: &Inputs<'_>) -> Vec<Move> {
    let mut jobs = Vec::new();
    let mut groups = 0;
    for (old, new) in pairs {
        if is_weighted(old) && is_weighted(new) {
            continue;
        }
        for want in [Want::V4, Want::V6, Want::Name] {
            if !(serves(old, want) || serves(new, want)) {
                continue;
            }
            for space in inputs.spaces {
                for blocks in space.blocks.chunks(CHUNK) {
                    jobs.push(Job {
                        group: groups,
                        old,
                        new,
                        want,
                        space,
                        blocks,
                    });
                }
                groups += 1;
            }
        }
    }
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(jobs.len().max(1));
    let done: Vec<(usize, Tally)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(job) = jobs.get(i) else { break };
                        done.push((job.group, run(job, inputs)));
                    }
                    done
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut merged: Vec<Tally> = (0..groups).map(|_| Tally::default()).collect();
    for (group, tally) in done {
        merged[group].merge(tally);
    }
    let mut out = Vec::new();
    let mut seen_group = usize::MAX;
    for job in &jobs {
        if job.group != seen_group {
            seen_group = job.group;
            out.extend(to_moves(job, std::mem::take(&mut merged[job.group])));
        }
    }
    out
}

pub(super) fn is_weighted(s: &Service) -> bool {
    matches!(s.policy, policy::Policy::Weighted { .. })
}

fn serves(s: &Service, want: Want) -> bool {
    s.pools
        .iter()
        .any(|p| p.members.iter().any(|m| want.accepts(&m.answer)))
}

/// Moved weight per (from, to), and the continents it came from.
#[derive(Default)]
struct Tally {
    moved: HashMap<(String, String), (f64, Vec<&'static str>)>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        for (key, (weight, continents)) in other.moved {
            let entry = self.moved.entry(key).or_default();
            entry.0 += weight;
            for c in continents {
                if !entry.1.contains(&c) {
                    entry.1.push(c);
                }
            }
        }
    }

    fn add(&mut self, from: &str, to: &str, weight: f64, continent: &'static str) {
        if from == to || weight <= 0.0 {
            return;
        }
        let entry = self
            .moved
            .entry((from.to_string(), to.to_string()))
            .or_default();
        entry.0 += weight;
        if !entry.1.contains(&continent) {
            entry.1.push(continent);
        }
    }
}

fn run(job: &Job<'_>, inputs: &Inputs<'_>) -> Tally {
    let pinputs = policy::Inputs {
        geo: inputs.geo,
        health: inputs.health,
        latency: inputs.latency,
        load: crate::load::LoadSnapshot::none(),
    };
    let mut tally = Tally::default();
    let (old_names, new_names) = (Labels::new(job.old), Labels::new(job.new));
    let decide = |addr: IpAddr, width: u8| {
        let client = Client {
            addr,
            source_prefix: width,
            from_ecs: false,
        };
        let old = policy::evaluate_with(
            job.old,
            job.want,
            &client,
            &pinputs,
            &mut StdRng::seed_from_u64(0),
            None,
        );
        let new = policy::evaluate_with(
            job.new,
            job.want,
            &client,
            &pinputs,
            &mut StdRng::seed_from_u64(0),
            None,
        );
        (old, new)
    };
    // Client-independent on both sides for the first client: one evaluation decides all.
    let uniform = job.blocks.first().and_then(|b| {
        let width = width(b.net.addr());
        let (old, new) = decide(b.net.network(), width);
        (old.ecs_scope == 0 && new.ecs_scope == 0)
            .then(|| (old_names.label(&old), new_names.label(&new)))
    });
    for block in job.blocks {
        if let Some((from, to)) = &uniform {
            tally.add(from, to, block.weight, block.continent);
            continue;
        }
        let w = width(block.net.addr());
        let prefix = block.net.prefix_len();
        let floor = if w == 32 { FLOOR_V4 } else { FLOOR_V6 }.max(prefix);
        let start = bits(block.net.network());
        let host = u32::from(w - prefix);
        let last = start | low_mask(host);
        let size = 2f64.powi(host as i32);
        let mut a = start;
        loop {
            let (old, new) = decide(from_bits(a, w), w);
            let step = old.ecs_scope.max(new.ecs_scope).clamp(prefix, floor);
            let end = (a | low_mask(u32::from(w - step))).min(last);
            let share = (end - a) as f64 + 1.0;
            tally.add(
                &old_names.label(&old),
                &new_names.label(&new),
                block.weight * share / size,
                block.continent,
            );
            if end >= last {
                break;
            }
            a = end + 1;
        }
    }
    tally
}

fn to_moves(job: &Job<'_>, tally: Tally) -> Vec<Move> {
    let service = display_name(&job.new.name);
    let mut out: Vec<Move> = tally
        .moved
        .into_iter()
        .map(|((from, to), (weight, mut continents))| {
            continents.sort_unstable();
            Move {
                service: service.clone(),
                qtype: job.want.to_string(),
                basis: job.space.basis.as_str().to_string(),
                percent: 100.0 * weight / job.space.total,
                from,
                to,
                continents: continents.into_iter().map(str::to_string).collect(),
            }
        })
        .collect();
    out.sort_by(|a, b| b.percent.total_cmp(&a.percent).then(a.to.cmp(&b.to)));
    out
}

/// Datacenter names of a service's answers.
pub(super) struct Labels(HashMap<Answer, Arc<str>>);

impl Labels {
    pub(super) fn new(service: &Service) -> Self {
        let mut names = HashMap::new();
        for pool in &service.pools {
            for m in &pool.members {
                if let Some(dc) = service.datacenter(m.datacenter) {
                    names.insert(m.answer.clone(), dc.name.clone());
                }
            }
        }
        Self(names)
    }

    /// Where a decision answers: its datacenters joined by `+` (addresses for members
    /// without one), or the empty outcome.
    pub(super) fn label(&self, d: &Decision) -> String {
        if d.answers.is_empty() {
            return match d.outcome {
                Outcome::ServFail => "SERVFAIL".into(),
                _ => "NODATA".into(),
            };
        }
        let mut parts: Vec<String> = d
            .answers
            .iter()
            .map(|a| match self.0.get(a) {
                Some(dc) => dc.to_string(),
                None => answer_text(a),
            })
            .collect();
        parts.sort_unstable();
        parts.dedup();
        parts.join("+")
    }
}

fn width(addr: IpAddr) -> u8 {
    if addr.is_ipv4() { 32 } else { 128 }
}

fn bits(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn from_bits(bits: u128, width: u8) -> IpAddr {
    if width == 32 {
        IpAddr::V4(Ipv4Addr::from(bits as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(bits))
    }
}

/// The lowest `host` bits set.
fn low_mask(host: u32) -> u128 {
    if host >= 128 {
        u128::MAX
    } else {
        (1u128 << host) - 1
    }
}
