//! RTT probes from the agent: TCP connect, a DNS query over UDP, and unprivileged ICMP echo.
//!
//! Each measures one round trip to one address and never sends more than one packet
//! (plus TCP's handshake):
//! - `tcp`: the time for `connect()` to complete. A refused connection (RST) is a round
//!   trip too and counts.
//! - `dns`: a query for the root NS (RD clear) over UDP; any reply with our ID counts, and
//!   so does an ICMP port unreachable (seen as a refused `recv`).
//! - `icmp`: an echo request on an unprivileged ping socket, where the kernel allows it
//!   (`net.ipv4.ping_group_range` must include the agent's group); otherwise the probe
//!   reports [`ProbeError::NotPermitted`].
//!
//! A failure (timeout, unreachable) is data, not an error: it yields no sample.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use tokio::net::{TcpSocket, UdpSocket};
use tokio::time::{Instant, timeout};

use crate::latency::ProbeAddr;

/// A probe kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// A TCP connect.
    Tcp,
    /// A DNS query for the root NS.
    Dns,
    /// An ICMP echo.
    Icmp,
}

impl FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "tcp" => Ok(Method::Tcp),
            "dns" => Ok(Method::Dns),
            "icmp" => Ok(Method::Icmp),
            other => Err(format!(
                "unknown probe {other:?}: expected tcp, dns or icmp"
            )),
        }
    }
}

/// Why a probe gave no RTT.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("timeout")]
    /// No answer within the timeout.
    Timeout,
    #[error("unreachable: {0}")]
    /// The network or host is unreachable.
    Unreachable(String),
    #[error("ICMP echo sockets are not permitted (net.ipv4.ping_group_range)")]
    /// ICMP echo sockets are not permitted to this user.
    NotPermitted,
    #[error("{0}")]
    /// Any other I/O error.
    Io(String),
}

/// Probe settings shared by every probe of a round.
#[derive(Clone, Debug)]
pub struct Prober {
    /// Per-probe timeout.
    pub timeout: Duration,
    /// Source address for probes of the same family (none: the kernel's choice).
    pub bind: Option<IpAddr>,
    /// Port for TCP connect probes without their own port.
    pub tcp_port: u16,
    /// Port for DNS probes without their own port.
    pub dns_port: u16,
}

impl Prober {
    /// One RTT to `to` with `method`.
    pub async fn probe(&self, method: Method, to: ProbeAddr) -> Result<Duration, ProbeError> {
        let port = |default: u16| SocketAddr::new(to.ip, to.port.unwrap_or(default));
        let work = async {
            match method {
                Method::Tcp => self.tcp(port(self.tcp_port)).await,
                Method::Dns => self.dns(port(self.dns_port)).await,
                Method::Icmp => self.icmp(to.ip).await,
            }
        };
        timeout(self.timeout, work)
            .await
            .unwrap_or(Err(ProbeError::Timeout))
    }

    fn local(&self, to: IpAddr) -> SocketAddr {
        match (self.bind, to) {
            (Some(b), _) if b.is_ipv4() == to.is_ipv4() => SocketAddr::new(b, 0),
            (_, IpAddr::V4(_)) => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
            (_, IpAddr::V6(_)) => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
        }
    }

    async fn tcp(&self, to: SocketAddr) -> Result<Duration, ProbeError> {
        let socket = if to.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .map_err(io_error)?;
        if self.bind.is_some() {
            socket.bind(self.local(to.ip())).map_err(io_error)?;
        }
        let start = Instant::now();
        match socket.connect(to).await {
            Ok(_stream) => Ok(start.elapsed()),
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Ok(start.elapsed()),
            Err(e) => Err(unreachable(e)),
        }
    }

    async fn dns(&self, to: SocketAddr) -> Result<Duration, ProbeError> {
        let socket = UdpSocket::bind(self.local(to.ip()))
            .await
            .map_err(io_error)?;
        socket.connect(to).await.map_err(io_error)?;
        let id: u16 = rand::random();
        let query = root_ns_query(id);
        let start = Instant::now();
        socket.send(&query).await.map_err(unreachable)?;
        let mut buf = [0u8; 512];
        loop {
            match socket.recv(&mut buf).await {
                Ok(n) if n >= 2 && buf[..2] == id.to_be_bytes() => return Ok(start.elapsed()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    return Ok(start.elapsed());
                }
                Err(e) => return Err(unreachable(e)),
            }
        }
    }

    async fn icmp(&self, to: IpAddr) -> Result<Duration, ProbeError> {
        use socket2::{Domain, Protocol, Socket, Type};
        let (domain, protocol, request, reply) = match to {
            IpAddr::V4(_) => (Domain::IPV4, Protocol::ICMPV4, 8u8, 0u8),
            IpAddr::V6(_) => (Domain::IPV6, Protocol::ICMPV6, 128, 129),
        };
        let socket =
            Socket::new(domain, Type::DGRAM, Some(protocol)).map_err(|e| match e.kind() {
                io::ErrorKind::PermissionDenied => ProbeError::NotPermitted,
                _ if e.raw_os_error() == Some(1) || e.raw_os_error() == Some(13) => {
                    ProbeError::NotPermitted
                }
                _ => io_error(e),
            })?;
        socket.set_nonblocking(true).map_err(io_error)?;
        if self.bind.is_some() {
            socket.bind(&self.local(to).into()).map_err(io_error)?;
        }
        let socket = UdpSocket::from_std(std::net::UdpSocket::from(socket)).map_err(io_error)?;
        socket
            .connect(SocketAddr::new(to, 0))
            .await
            .map_err(io_error)?;
        let seq: u16 = rand::random();
        let mut packet = [0u8; 16];
        packet[0] = request;
        packet[6..8].copy_from_slice(&seq.to_be_bytes());
        packet[8..].copy_from_slice(b"meridian");
        let start = Instant::now();
        socket.send(&packet).await.map_err(unreachable)?;
        let mut buf = [0u8; 1500];
        loop {
            let n = socket.recv(&mut buf).await.map_err(unreachable)?;
            if n >= 8 && buf[0] == reply && buf[6..8] == seq.to_be_bytes() {
                return Ok(start.elapsed());
            }
        }
    }
}

/// A DNS query for `. NS` with recursion not desired.
pub(crate) fn root_ns_query(id: u16) -> [u8; 17] {
    let mut q = [0u8; 17];
    q[..2].copy_from_slice(&id.to_be_bytes());
    q[5] = 1; // QDCOUNT = 1
    // QNAME = root (a single 0), QTYPE = NS (2), QCLASS = IN (1).
    q[12] = 0;
    q[13..15].copy_from_slice(&2u16.to_be_bytes());
    q[15..17].copy_from_slice(&1u16.to_be_bytes());
    q
}

fn io_error(e: io::Error) -> ProbeError {
    ProbeError::Io(e.to_string())
}

fn unreachable(e: io::Error) -> ProbeError {
    ProbeError::Unreachable(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_parse() {
        assert_eq!("TCP".parse::<Method>(), Ok(Method::Tcp));
        assert_eq!(" dns".parse::<Method>(), Ok(Method::Dns));
        assert!("ping".parse::<Method>().is_err());
    }

    #[test]
    fn the_dns_query_is_well_formed() {
        let q = root_ns_query(0xbeef);
        let m = hickory_proto::op::Message::from_vec(&q).unwrap();
        assert_eq!(m.metadata.id, 0xbeef);
        assert!(!m.metadata.recursion_desired);
        assert_eq!(m.queries.len(), 1);
        assert_eq!(m.queries[0].query_type(), hickory_proto::rr::RecordType::NS);
        assert!(m.queries[0].name().is_root());
    }
}
