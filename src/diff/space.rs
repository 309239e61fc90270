//! The client space a diff is evaluated over: networks with weights and continents.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::geo::Locate;

/// What a space's weights count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Basis {
    /// Every IPv4 network of the GeoIP database, weighted by address count.
    Ipv4Addresses,
    /// Every IPv6 network of the GeoIP database, weighted by address count.
    Ipv6Addresses,
    /// Client networks the live server saw, weighted by their queries.
    SeenQueries,
}

impl Basis {
    /// How reports name the basis ("31.4 % of IPv4 addresses").
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Ipv4Addresses => "IPv4 addresses",
            Basis::Ipv6Addresses => "IPv6 addresses",
            Basis::SeenQueries => "seen queries",
        }
    }
}

/// One network of a space.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Block {
    pub(crate) net: IpNet,
    pub(crate) weight: f64,
    /// Two-letter continent code, `??` when unknown.
    pub(crate) continent: &'static str,
}

/// Networks and their weights; shares are of the total weight.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientSpace {
    /// What the weights count.
    pub basis: Basis,
    pub(crate) blocks: Vec<Block>,
    pub(crate) total: f64,
}

impl ClientSpace {
    fn new(basis: Basis, blocks: Vec<Block>) -> Self {
        let total = blocks.iter().map(|b| b.weight).sum();
        Self {
            basis,
            blocks,
            total,
        }
    }

    /// The GeoIP database's networks as two spaces, IPv4 and IPv6, each network weighted by
    /// its address count (an empty family is left out).
    pub fn from_networks(networks: &[IpNet], geo: &dyn Locate) -> Vec<Self> {
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        for net in networks {
            let width = if net.addr().is_ipv4() { 32 } else { 128 };
            let block = Block {
                net: net.trunc(),
                weight: 2f64.powi(i32::from(width - net.prefix_len())),
                continent: continent(geo, net.network()),
            };
            if width == 32 {
                v4.push(block);
            } else {
                v6.push(block);
            }
        }
        [(Basis::Ipv4Addresses, v4), (Basis::Ipv6Addresses, v6)]
            .into_iter()
            .filter(|(_, b)| !b.is_empty())
            .map(|(basis, blocks)| Self::new(basis, blocks))
            .collect()
    }

    /// Networks the server saw, each weighted by its query count (zero counts left out).
    pub fn from_seen(seen: &[(IpNet, u64)], geo: &dyn Locate) -> Self {
        let blocks = seen
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(net, n)| Block {
                net: net.trunc(),
                weight: *n as f64,
                continent: continent(geo, net.network()),
            })
            .collect();
        Self::new(Basis::SeenQueries, blocks)
    }

    /// Networks in the space.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// Whether the space has no network.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }
}

fn continent(geo: &dyn Locate, addr: IpAddr) -> &'static str {
    geo.locate(addr)
        .and_then(|l| l.continent)
        .map_or("??", |c| c.code())
}
