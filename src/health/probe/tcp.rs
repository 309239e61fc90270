//! The `tcp` probe: connect, optionally send a string and expect a reply substring.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use super::outcome::{BoundedMatch, ProbeFailure, ProbeOutcome, from_io, timed};
use crate::health::check::TcpCheck;
use crate::health::target::ProbeKey;
use crate::load::LoadReading;
use crate::load::read::agent_reply;

#[derive(Debug)]
pub(crate) struct TcpProber {
    addr: SocketAddr,
    /// The local address probes are sent from, if set.
    source: Option<IpAddr>,
    timeout: Duration,
    check: TcpCheck,
}

impl TcpProber {
    /// Reads an agent reply: up to the first line end, `max_reply` bytes or the close.
    async fn agent(&self, stream: &mut TcpStream) -> Result<LoadReading, ProbeFailure> {
        let mut reply = Vec::new();
        let mut buf = [0u8; 512];
        while !reply.contains(&b'\n') && reply.len() < self.check.max_reply {
            let n = stream.read(&mut buf).await.map_err(|e| from_io(&e))?;
            if n == 0 {
                break;
            }
            reply.extend_from_slice(&buf[..n]);
        }
        if let Some(expect) = &self.check.expect
            && !reply
                .windows(expect.len().max(1))
                .any(|w| w == expect.as_slice())
        {
            return Err(ProbeFailure::BodyMismatch);
        }
        Ok(agent_reply(&reply))
    }

    pub(crate) fn new(key: &ProbeKey, check: &TcpCheck, source: Option<IpAddr>) -> Self {
        Self {
            addr: key.addr,
            source,
            timeout: key.timeout,
            check: check.clone(),
        }
    }

    pub(crate) async fn probe(&self) -> ProbeOutcome {
        timed(self.timeout, self.exchange()).await
    }

    async fn connect(&self) -> std::io::Result<TcpStream> {
        let Some(source) = self.source else {
            return TcpStream::connect(self.addr).await;
        };
        let socket = match source {
            IpAddr::V4(_) => TcpSocket::new_v4()?,
            IpAddr::V6(_) => TcpSocket::new_v6()?,
        };
        socket.bind(SocketAddr::new(source, 0))?;
        socket.connect(self.addr).await
    }

    async fn exchange(&self) -> Result<Option<LoadReading>, ProbeFailure> {
        let mut stream = self.connect().await.map_err(|e| from_io(&e))?;
        if let Some(send) = &self.check.send {
            stream.write_all(send).await.map_err(|e| from_io(&e))?;
        }
        if self.check.load.is_some() {
            return self.agent(&mut stream).await.map(Some);
        }
        let Some(expect) = &self.check.expect else {
            return Ok(None);
        };
        let mut matcher = BoundedMatch::new(expect, self.check.max_reply);
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.map_err(|e| from_io(&e))?;
            if n == 0 {
                return Err(ProbeFailure::BodyMismatch);
            }
            match matcher.push(&buf[..n]) {
                Some(true) => return Ok(None),
                Some(false) => return Err(ProbeFailure::BodyMismatch),
                None => {}
            }
        }
    }
}
