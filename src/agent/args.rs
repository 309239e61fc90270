//! `meridian agent` command-line flags and their validation into an [`AgentConfig`].

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::AgentConfig;
use super::probe::Method;
use crate::latency::Representatives;
use crate::latency::table::valid_datacenter;

/// Flags of `meridian agent`.
#[derive(Debug, Clone, Args)]
pub struct AgentArgs {
    /// The datacenter this agent runs in, as zone files name it.
    #[arg(long)]
    pub(crate) datacenter: String,
    /// A Meridian server's admin API base URL; repeatable.
    #[arg(long = "server", required = true)]
    pub(crate) servers: Vec<String>,
    /// File holding the admin token (or set MERIDIAN_AGENT_TOKEN).
    #[arg(long)]
    pub(crate) token_file: Option<PathBuf>,
    /// Global cap on probes per second.
    #[arg(long, default_value_t = 20.0)]
    pub(crate) rate: f64,
    /// Seconds between measurement rounds.
    #[arg(long, default_value_t = 60)]
    pub(crate) interval: u64,
    /// Most networks asked for per server and round.
    #[arg(long, default_value_t = 1000)]
    pub(crate) limit: usize,
    /// Probe kinds, comma-separated: tcp, dns, icmp.
    #[arg(long, default_value = "tcp,dns")]
    pub(crate) probe: String,
    /// Probes per kind and network per round (the lowest RTT is reported).
    #[arg(long, default_value_t = 2)]
    pub(crate) attempts: u32,
    /// Per-probe timeout in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub(crate) timeout_ms: u64,
    /// Port for TCP connect probes (a representative with a port overrides it).
    #[arg(long, default_value_t = 443)]
    pub(crate) tcp_port: u16,
    /// Port for DNS probes (a representative with a port overrides it).
    #[arg(long, default_value_t = 53)]
    pub(crate) dns_port: u16,
    /// Source address for probes (must be local).
    #[arg(long)]
    pub(crate) bind: Option<IpAddr>,
    /// NETWORK=ADDRESS[:PORT]: probe this address for that network; repeatable.
    #[arg(long = "representative")]
    pub(crate) representatives: Vec<String>,
    /// Run one round and exit (status 1 if no server could be reached).
    #[arg(long)]
    pub(crate) once: bool,
}

impl AgentArgs {
    /// Checks every flag; `env_token` is `MERIDIAN_AGENT_TOKEN` if set.
    pub(crate) fn into_config(self, env_token: Option<String>) -> Result<AgentConfig, String> {
        if !valid_datacenter(&self.datacenter) {
            return Err(format!("--datacenter: invalid name {:?}", self.datacenter));
        }
        for s in &self.servers {
            if !(s.starts_with("http://") || s.starts_with("https://")) {
                return Err(format!(
                    "--server: {s:?} must start with http:// or https://"
                ));
            }
        }
        let token = match (&self.token_file, env_token) {
            (Some(path), _) => std::fs::read_to_string(path)
                .map_err(|e| format!("--token-file {}: {e}", path.display()))?
                .trim_end()
                .to_string(),
            (None, Some(t)) => t,
            (None, None) => return Err("give --token-file or MERIDIAN_AGENT_TOKEN".into()),
        };
        if !(self.rate.is_finite() && self.rate > 0.0 && self.rate <= 10_000.0) {
            return Err("--rate: must be within (0, 10000]".into());
        }
        let methods = self
            .probe
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(str::parse)
            .collect::<Result<Vec<Method>, _>>()
            .map_err(|e| format!("--probe: {e}"))?;
        if methods.is_empty() {
            return Err("--probe: at least one of tcp, dns, icmp".into());
        }
        let pairs: Vec<(String, String)> = self
            .representatives
            .iter()
            .map(|r| match r.split_once('=') {
                Some((n, a)) => Ok((n.to_string(), a.to_string())),
                None => Err(format!("--representative {r:?}: expected NETWORK=ADDRESS")),
            })
            .collect::<Result<_, _>>()?;
        let representatives =
            Representatives::parse(pairs.iter().map(|(n, a)| (n.as_str(), a.as_str())))
                .map_err(|e| format!("--representative: {}", e.join("; ")))?;
        Ok(AgentConfig {
            datacenter: self.datacenter,
            servers: self.servers,
            token,
            rate: self.rate,
            interval: Duration::from_secs(self.interval.max(1)),
            limit: self.limit.clamp(1, 10_000),
            methods,
            attempts: self.attempts.clamp(1, 10),
            timeout: Duration::from_millis(self.timeout_ms.clamp(10, 30_000)),
            tcp_port: self.tcp_port,
            dns_port: self.dns_port,
            bind: self.bind,
            representatives,
            once: self.once,
        })
    }
}
