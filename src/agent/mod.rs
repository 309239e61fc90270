//! `meridian agent`: measures RTT from this datacenter to the client networks Meridian servers name, and reports it.
//!
//! Each round the agent asks every server (`GET /v1/latency/targets`) for the busiest
//! client networks, probes each network's representative address (the server's, or the
//! agent's own `--representative` override, else the network's first usable address)
//! with the configured probe kinds, and pushes the lowest RTT per network with the number
//! of successful probes (`POST /v1/latency/samples`) to the servers that named it.
//!
//! Safety: it probes only addresses derived from the networks it was given, skips
//! unspecified, multicast and broadcast addresses, sends at most `--rate` probes per second
//! in total (a token bucket shared by every probe), at most `--attempts` per kind and
//! network per round, and one packet per probe.

pub(crate) mod args;
pub(crate) mod client;
pub(crate) mod probe;
pub(crate) mod rate;

use std::collections::HashMap;
use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

pub use args::AgentArgs;
pub(crate) use client::Api;
pub use client::Measured;
pub use probe::{Method, ProbeError, Prober};
pub use rate::Limiter;

use crate::latency::{ProbeAddr, Representatives, Target};

/// Probes in flight at once (the rate cap still applies).
pub const CONCURRENCY: usize = 32;

/// A validated agent configuration.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// The datacenter this agent runs in, as zone files name it.
    pub datacenter: String,
    /// Admin API base URLs of the Meridian servers.
    pub servers: Vec<String>,
    /// The admin token.
    pub token: String,
    /// Global cap on probes per second.
    pub rate: f64,
    /// Time between measurement rounds.
    pub interval: Duration,
    /// Most networks asked for per server and round.
    pub limit: usize,
    /// Probe kinds to run.
    pub methods: Vec<Method>,
    /// Probes per kind and network per round (the lowest RTT is reported).
    pub attempts: u32,
    /// Per-probe timeout.
    pub timeout: Duration,
    /// Port for TCP connect probes (a representative with a port overrides it).
    pub tcp_port: u16,
    /// Port for DNS probes (a representative with a port overrides it).
    pub dns_port: u16,
    /// Source address for probes.
    pub bind: Option<IpAddr>,
    /// Addresses to probe for given networks.
    pub representatives: Representatives,
    /// Run one round and exit.
    pub once: bool,
}

impl AgentConfig {
    /// The probe settings of this configuration.
    pub fn prober(&self) -> Prober {
        Prober {
            timeout: self.timeout,
            bind: self.bind,
            tcp_port: self.tcp_port,
            dns_port: self.dns_port,
        }
    }
}

/// What one round did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RoundReport {
    /// Servers that answered the targets request.
    pub(crate) servers_ok: usize,
    /// Targets the servers handed out.
    pub targets: usize,
    pub(crate) probes: usize,
    /// Networks with at least one RTT.
    pub measured: Vec<Measured>,
    /// Servers that accepted the push.
    pub pushed: usize,
}

/// The probe address of each network, deduplicated; agent overrides win over the
/// server's representative. Addresses no probe should go to are dropped.
pub(crate) fn plan(targets: &[Target], overrides: &Representatives) -> Vec<(IpNet, ProbeAddr)> {
    let mut out: Vec<(IpNet, ProbeAddr)> = Vec::new();
    for t in targets {
        if out.iter().any(|(n, _)| *n == t.network) {
            continue;
        }
        let probe = overrides.get(t.network).unwrap_or(t.probe);
        if probeable(probe.ip) {
            out.push((t.network, probe));
        }
    }
    out
}

fn probeable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => !(a.is_unspecified() || a.is_multicast() || a.is_broadcast()),
        IpAddr::V6(a) => !(a.is_unspecified() || a.is_multicast()),
    }
}

/// Probes every planned network with every method `attempts` times; the lowest RTT and
/// the number of successes per network.
pub async fn measure(
    config: &AgentConfig,
    planned: &[(IpNet, ProbeAddr)],
    limiter: &Arc<Limiter>,
) -> (Vec<Measured>, usize) {
    let prober = Arc::new(config.prober());
    let slots = Arc::new(Semaphore::new(CONCURRENCY));
    let mut jobs = JoinSet::new();
    for &(network, addr) in planned {
        for &method in &config.methods {
            for _ in 0..config.attempts {
                let (prober, limiter, slots) = (prober.clone(), limiter.clone(), slots.clone());
                jobs.spawn(async move {
                    let _slot = slots.acquire_owned().await;
                    limiter.acquire().await;
                    (network, method, prober.probe(method, addr).await)
                });
            }
        }
    }
    let mut best: HashMap<IpNet, (f64, u32)> = HashMap::new();
    let mut probes = 0;
    let mut denied = false;
    while let Some(done) = jobs.join_next().await {
        let Ok((network, _method, result)) = done else {
            continue;
        };
        probes += 1;
        match result {
            Ok(rtt) => {
                let ms = rtt.as_secs_f64() * 1000.0;
                let e = best.entry(network).or_insert((ms, 0));
                e.0 = e.0.min(ms);
                e.1 += 1;
            }
            Err(ProbeError::NotPermitted) if !denied => {
                denied = true;
                warn!("agent: {}", ProbeError::NotPermitted);
            }
            Err(_) => {}
        }
    }
    let measured = planned
        .iter()
        .filter_map(|(net, _)| {
            let (rtt_ms, samples) = *best.get(net)?;
            Some(Measured {
                network: *net,
                rtt_ms,
                samples,
            })
        })
        .collect();
    (measured, probes)
}

/// One round: targets from every server, probes, pushes.
pub(crate) async fn round(config: &AgentConfig, api: &Api, limiter: &Arc<Limiter>) -> RoundReport {
    let mut report = RoundReport::default();
    let mut by_server: Vec<(&str, Vec<Target>)> = Vec::new();
    for server in &config.servers {
        match api.targets(server, &config.datacenter, config.limit).await {
            Ok(targets) => {
                report.servers_ok += 1;
                by_server.push((server, targets));
            }
            Err(e) => warn!("agent: {e}"),
        }
    }
    let all: Vec<Target> = by_server.iter().flat_map(|(_, t)| t.clone()).collect();
    let planned = plan(&all, &config.representatives);
    report.targets = planned.len();
    let (measured, probes) = measure(config, &planned, limiter).await;
    report.probes = probes;
    for (server, targets) in &by_server {
        let mine: Vec<Measured> = measured
            .iter()
            .filter(|m| targets.iter().any(|t| t.network == m.network))
            .cloned()
            .collect();
        if mine.is_empty() {
            continue;
        }
        match api.push(server, &config.datacenter, &mine).await {
            Ok(reply) => {
                report.pushed += 1;
                info!(server, samples = mine.len(), reply = %reply, "agent: samples pushed");
            }
            Err(e) => warn!("agent: {e}"),
        }
    }
    report.measured = measured;
    report
}

/// Runs rounds every `interval` until `cancel` (or once, with `config.once`).
pub async fn run(config: AgentConfig, cancel: CancellationToken) -> anyhow::Result<RoundReport> {
    let api = Api::new(
        config.token.clone(),
        config.timeout.max(Duration::from_secs(5)),
    )?;
    let limiter = Arc::new(Limiter::new(config.rate));
    let mut tick = tokio::time::interval(config.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return Ok(RoundReport::default()),
            _ = tick.tick() => {}
        }
        let report = tokio::select! {
            () = cancel.cancelled() => return Ok(RoundReport::default()),
            r = round(&config, &api, &limiter) => r,
        };
        info!(
            servers = report.servers_ok,
            targets = report.targets,
            probes = report.probes,
            measured = report.measured.len(),
            pushed = report.pushed,
            "agent: round done"
        );
        if config.once {
            if report.servers_ok == 0 {
                anyhow::bail!("no server answered");
            }
            return Ok(report);
        }
    }
}

/// `meridian agent`: logging, runtime, signals; exit 0, 1 on failure, 2 on bad flags.
pub fn main(args: AgentArgs) -> ExitCode {
    let config = match args.into_config(std::env::var(crate::config::env::AGENT_TOKEN_VAR).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .with_writer(std::io::stderr)
        .try_init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        let cancel = CancellationToken::new();
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        crate::signals::listen(tx)?;
        let stop = cancel.clone();
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                if event == crate::signals::Event::Shutdown {
                    stop.cancel();
                }
            }
        });
        run(config, cancel).await
    });
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(net: &str, probe: &str) -> Target {
        Target {
            network: net.parse().unwrap(),
            probe: probe.parse().unwrap(),
            queries: 1,
        }
    }

    #[test]
    fn plan_dedups_overrides_and_refuses_bad_addresses() {
        let targets = [
            target("198.51.100.0/24", "198.51.100.1"),
            target("198.51.100.0/24", "198.51.100.1"),
            target("203.0.113.0/24", "127.0.0.41:5300"),
            target("192.0.2.0/24", "224.0.0.1"),
            target("192.0.2.128/25", "0.0.0.0"),
        ];
        let overrides = Representatives::parse([("198.51.100.0/24", "127.0.0.42")]).unwrap();
        let planned = plan(&targets, &overrides);
        let shown: Vec<String> = planned.iter().map(|(n, a)| format!("{n} {a}")).collect();
        assert_eq!(
            shown,
            [
                "198.51.100.0/24 127.0.0.42",
                "203.0.113.0/24 127.0.0.41:5300"
            ]
        );
    }
}
