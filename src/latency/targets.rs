//! What agents are told to measure: the busiest networks and the address to probe for each.
//!
//! An agent probes a network's *representative*: by default its first usable address
//! (`198.51.100.1` for `198.51.100.0/24`). A representative map (server setting
//! `latency_representatives`, agent flag `--representative`) names another address,
//! optionally with a port, for networks where the first address does not answer or, in
//! tests and labs, to point a documentation network at a loopback responder
//! (`"198.51.100.0/24" = "127.0.0.41:5300"`). The most specific matching entry wins.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::net::{first_usable, parse_network};

/// Where to probe: an address, and a port that overrides the probe's default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProbeAddr {
    /// The address.
    pub ip: IpAddr,
    /// The port, overriding the probe's default.
    pub port: Option<u16>,
}

impl FromStr for ProbeAddr {
    type Err = String;

    /// `192.0.2.1`, `192.0.2.1:53`, `2001:db8::1` or `[2001:db8::1]:53`.
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(Self { ip, port: None });
        }
        text.parse::<SocketAddr>()
            .map(|s| Self {
                ip: s.ip(),
                port: Some(s.port()),
            })
            .map_err(|_| format!("invalid probe address {text:?}: expected IP or IP:PORT"))
    }
}

impl fmt::Display for ProbeAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}", SocketAddr::new(self.ip, port)),
            None => write!(f, "{}", self.ip),
        }
    }
}

impl Serialize for ProbeAddr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ProbeAddr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Network → representative, most specific match first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Representatives(Vec<(IpNet, ProbeAddr)>);

impl Representatives {
    /// Parses `(network, address)` pairs; every bad entry is reported.
    pub fn parse<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, Vec<String>> {
        let (mut list, mut errors) = (Vec::new(), Vec::new());
        for (net, addr) in pairs {
            match (parse_network(net), addr.parse::<ProbeAddr>()) {
                (Ok(n), Ok(a)) => list.push((n, a)),
                (Err(e), _) => errors.push(e.to_string()),
                (_, Err(e)) => errors.push(format!("{net}: {e}")),
            }
        }
        list.sort_by_key(|(n, _)| std::cmp::Reverse(n.prefix_len()));
        if errors.is_empty() {
            Ok(Self(list))
        } else {
            Err(errors)
        }
    }

    /// The representative configured for `net` (an entry containing its address).
    pub fn get(&self, net: IpNet) -> Option<ProbeAddr> {
        self.0
            .iter()
            .find(|(n, _)| n.contains(&net.addr()))
            .map(|(_, a)| *a)
    }

    /// The configured representative, else the network's first usable address.
    pub fn probe_for(&self, net: IpNet) -> ProbeAddr {
        self.get(net).unwrap_or(ProbeAddr {
            ip: first_usable(net),
            port: None,
        })
    }
}

/// One network for agents to measure (`GET /v1/latency/targets`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Target {
    /// The client network, e.g. `198.51.100.0/24`.
    pub(crate) network: IpNet,
    /// What to probe for it.
    pub(crate) probe: ProbeAddr,
    /// Queries seen from it recently (an estimate; decays over time).
    #[serde(default)]
    pub(crate) queries: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn probe_addresses_parse_and_print() {
        for text in [
            "192.0.2.1",
            "192.0.2.1:53",
            "2001:db8::1",
            "[2001:db8::1]:5300",
        ] {
            assert_eq!(text.parse::<ProbeAddr>().unwrap().to_string(), text);
        }
        assert!("192.0.2.1:x".parse::<ProbeAddr>().is_err());
        let json = serde_json::to_string(&"127.0.0.41:5300".parse::<ProbeAddr>().unwrap()).unwrap();
        assert_eq!(json, "\"127.0.0.41:5300\"");
    }

    #[test]
    fn most_specific_representative_wins_else_first_usable() {
        let reps = Representatives::parse([
            ("198.51.100.0/22", "127.0.0.40"),
            ("198.51.100.0/24", "127.0.0.41:5300"),
        ])
        .unwrap();
        assert_eq!(
            reps.probe_for(net("198.51.100.0/24")).to_string(),
            "127.0.0.41:5300"
        );
        assert_eq!(
            reps.probe_for(net("198.51.101.0/24")).to_string(),
            "127.0.0.40"
        );
        assert_eq!(
            reps.probe_for(net("203.0.113.0/24")).to_string(),
            "203.0.113.1"
        );
        let errors =
            Representatives::parse([("nope", "127.0.0.1"), ("10.0.0.0/8", "x")]).unwrap_err();
        assert_eq!(errors.len(), 2);
    }
}
