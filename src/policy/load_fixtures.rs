//! Load snapshots for the policy tests: entries with a given shed share.

use std::sync::Arc;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rustc_hash::FxHashMap;

use super::fixtures::world;
use super::{Client, Decision, Inputs, LatencyView, Service, Want, evaluate_with};
use crate::hash::bytes_hash;
use crate::health::HealthSnapshot;
use crate::load::share::Watermarks;
use crate::load::{Entry, LoadSnapshot, Source};

pub(crate) fn entry(name: &str, share: f64) -> Entry {
    Entry {
        load: share,
        utilisation: share,
        share,
        source: Source::Api,
        reported_unix_ms: 0,
        instance: None,
        watermarks: Watermarks::default(),
        salt: bytes_hash(name.as_bytes()),
    }
}

/// A snapshot of member (target key) and datacenter shares.
pub(crate) fn shed(members: &[(&str, f64)], datacenters: &[(&str, f64)]) -> LoadSnapshot {
    let map = |list: &[(&str, f64)]| -> FxHashMap<Arc<str>, Entry> {
        list.iter()
            .map(|&(n, s)| (Arc::from(n), entry(n, s)))
            .collect()
    };
    LoadSnapshot::new(map(members), map(datacenters))
}

/// Evaluates with every target up, the fake world and `load`.
pub(crate) fn run_loaded(
    service: &Service,
    want: Want,
    client: &Client,
    load: &LoadSnapshot,
    seed: u64,
) -> Decision {
    let health = HealthSnapshot::empty();
    let geo = world();
    let inputs = Inputs {
        geo: &geo,
        health: &health,
        latency: LatencyView::none(),
        load,
    };
    let mut rng = StdRng::seed_from_u64(seed);
    evaluate_with(service, want, client, &inputs, &mut rng, None)
}

/// `count` distinct /24 client networks under 10.0.0.0/8 sent as ECS /24.
pub(crate) fn networks(count: u32) -> Vec<Client> {
    (0..count)
        .map(|i| {
            let addr = std::net::Ipv4Addr::from(0x0A00_0000 + (i << 8));
            Client {
                addr: addr.into(),
                source_prefix: 24,
                from_ecs: true,
            }
        })
        .collect()
}
