//! The sockets: SO_REUSEPORT UDP sockets (served by `udp`) and a capped, timed TCP accept loop.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use super::handler::{Handler, Transport};
use super::udp;

/// Socket settings from the server configuration.
#[derive(Debug, Clone)]
pub(crate) struct Listen {
    pub(crate) udp: Vec<SocketAddr>,
    pub(crate) tcp: Vec<SocketAddr>,
    /// UDP sockets per address; 0 = one per CPU core.
    pub(crate) udp_sockets_per_address: usize,
    pub(crate) tcp_idle_timeout: Duration,
    pub(crate) tcp_max_connections: usize,
    pub(crate) tcp_max_connections_per_client: usize,
    pub(crate) tcp_max_queries_per_connection: usize,
    /// Longest life of a connection, whatever its activity.
    pub(crate) tcp_max_connection: Duration,
}

/// Bound sockets, ready to serve.
pub(crate) struct Bound {
    udp: Vec<Socket>,
    tcp: Vec<TcpListener>,
    /// The addresses actually bound (port 0 resolved), UDP then TCP.
    pub(crate) udp_addrs: Vec<SocketAddr>,
    pub(crate) tcp_addrs: Vec<SocketAddr>,
}

/// Bind every socket before serving so errors surface at start-up. A TCP address that
/// repeats a UDP address with port 0 reuses the port the UDP socket got.
pub(crate) fn bind(listen: &Listen) -> io::Result<Bound> {
    let ephemeral = listen.udp.iter().chain(&listen.tcp).any(|a| a.port() == 0);
    let mut attempt = 0;
    loop {
        match bind_once(listen) {
            // Port 0: the port the UDP socket got may be taken for TCP; pick another.
            Err(e) if ephemeral && e.kind() == io::ErrorKind::AddrInUse && attempt < 20 => {
                attempt += 1;
            }
            result => return result,
        }
    }
}

fn bind_once(listen: &Listen) -> io::Result<Bound> {
    let per_address = match listen.udp_sockets_per_address {
        0 => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        n => n,
    };
    let mut bound = Bound {
        udp: Vec::new(),
        tcp: Vec::new(),
        udp_addrs: Vec::new(),
        tcp_addrs: Vec::new(),
    };
    for addr in &listen.udp {
        let first = udp_socket(*addr)?;
        let actual = first
            .local_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::other("UDP socket has no IP address"))?;
        bound.udp.push(first);
        for _ in 1..per_address {
            bound.udp.push(udp_socket(actual)?);
        }
        bound.udp_addrs.push(actual);
    }
    for addr in &listen.tcp {
        let same_udp = listen
            .udp
            .iter()
            .position(|u| u == addr && addr.port() == 0);
        let target = same_udp.map_or(*addr, |i| bound.udp_addrs[i]);
        let listener = tcp_listener(target)?;
        bound.tcp_addrs.push(listener.local_addr()?);
        bound.tcp.push(listener);
    }
    Ok(bound)
}

fn socket(addr: SocketAddr, ty: Type, proto: Protocol) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), ty, Some(proto))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

fn udp_socket(addr: SocketAddr) -> io::Result<Socket> {
    let s = socket(addr, Type::DGRAM, Protocol::UDP)?;
    never_fragment(&s, addr)?;
    s.bind(&addr.into())
        .map_err(|e| io::Error::new(e.kind(), format!("cannot bind UDP {addr}: {e}")))?;
    Ok(s)
}

fn tcp_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let s = socket(addr, Type::STREAM, Protocol::TCP)?;
    s.bind(&addr.into())
        .map_err(|e| io::Error::new(e.kind(), format!("cannot bind TCP {addr}: {e}")))?;
    s.listen(1024)?;
    TcpListener::from_std(s.into())
}

/// Serve on every bound socket until `cancel` fires; in-flight queries finish first.
pub(crate) fn spawn(
    bound: Bound,
    handler: Handler,
    listen: &Listen,
    cancel: CancellationToken,
    tracker: &TaskTracker,
) {
    for socket in bound.udp {
        let (handler, cancel) = (handler.clone(), cancel.clone());
        tracker.spawn_blocking(move || udp::serve(socket, handler, cancel));
    }
    let permits = Arc::new(Semaphore::new(listen.tcp_max_connections));
    let clients = Arc::new(Mutex::new(HashMap::new()));
    for listener in bound.tcp {
        let conn = TcpSettings {
            handler: handler.clone(),
            idle: listen.tcp_idle_timeout,
            lifetime: listen.tcp_max_connection,
            max_queries: listen.tcp_max_queries_per_connection,
            per_client: listen.tcp_max_connections_per_client,
            clients: clients.clone(),
            cancel: cancel.clone(),
            tracker: tracker.clone(),
        };
        tracker.spawn(serve_tcp(listener, conn, permits.clone()));
    }
}

#[derive(Clone)]
struct TcpSettings {
    handler: Handler,
    idle: Duration,
    lifetime: Duration,
    max_queries: usize,
    per_client: usize,
    clients: Arc<Mutex<HashMap<IpAddr, usize>>>,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

/// One client's place among the open connections; released when the connection ends.
struct ClientSlot {
    clients: Arc<Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl ClientSlot {
    /// Take a place for `ip` unless it already has `max` connections.
    fn take(clients: &Arc<Mutex<HashMap<IpAddr, usize>>>, ip: IpAddr, max: usize) -> Option<Self> {
        let mut map = clients.lock().ok()?;
        let open = map.entry(ip).or_insert(0);
        if *open >= max {
            return None;
        }
        *open += 1;
        Some(Self {
            clients: clients.clone(),
            ip,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        if let Ok(mut map) = self.clients.lock()
            && let Some(open) = map.get_mut(&self.ip)
        {
            *open -= 1;
            if *open == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

async fn serve_tcp(listener: TcpListener, conn: TcpSettings, permits: Arc<Semaphore>) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = conn.cancel.cancelled() => return,
        };
        let (stream, src) = match accepted {
            Ok(a) => a,
            Err(e) => {
                warn!(error = %e, "tcp accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            debug!(%src, "tcp connection cap reached; closing");
            continue;
        };
        let Some(slot) = ClientSlot::take(&conn.clients, src.ip(), conn.per_client) else {
            debug!(%src, "tcp per-client connection cap reached; closing");
            continue;
        };
        let c = conn.clone();
        conn.tracker.spawn(async move {
            let _ = tokio::time::timeout(c.lifetime, serve_connection(stream, src, &c)).await;
            drop((permit, slot));
        });
    }
}

/// Read length-prefixed queries and answer each in turn until idle, closed or cancelled.
async fn serve_connection(stream: TcpStream, src: SocketAddr, c: &TcpSettings) {
    let _ = stream.set_nodelay(true);
    let (read_half, mut writer) = stream.into_split();
    // Pipelined queries arrive together: read them through one buffer and send their
    // replies together, one system call each way for a burst instead of three per query.
    let mut reader = BufReader::with_capacity(16 * 1024, read_half);
    let mut buf = vec![0u8; 65_535];
    let mut out: Vec<u8> = Vec::with_capacity(4096);
    for _ in 0..c.max_queries {
        let read = tokio::select! {
            r = tokio::time::timeout(c.idle, read_message(&mut reader, &mut buf)) => r,
            () = c.cancel.cancelled() => break,
        };
        let Ok(Ok(len)) = read else {
            break;
        };
        if let Some(reply) = c.handler.handle(&buf[..len], src.ip(), Transport::Tcp) {
            out.extend_from_slice(&(reply.len() as u16).to_be_bytes());
            out.extend_from_slice(&reply);
        }
        if (reader.buffer().is_empty() || out.len() >= 32 * 1024)
            && !flush(&mut writer, &mut out, c.idle).await
        {
            return;
        }
    }
    flush(&mut writer, &mut out, c.idle).await;
}

/// Write the pending replies; false when the client is gone or too slow.
async fn flush(writer: &mut OwnedWriteHalf, out: &mut Vec<u8>, idle: Duration) -> bool {
    if out.is_empty() {
        return true;
    }
    let ok = matches!(
        tokio::time::timeout(idle, writer.write_all(out)).await,
        Ok(Ok(()))
    );
    out.clear();
    ok
}

async fn read_message(reader: &mut BufReader<OwnedReadHalf>, buf: &mut [u8]) -> io::Result<usize> {
    let mut len = [0u8; 2];
    reader.read_exact(&mut len).await?;
    let len = usize::from(u16::from_be_bytes(len));
    reader.read_exact(&mut buf[..len]).await?;
    Ok(len)
}

/// Replies are never fragmented (RFC 9715): IPv4 datagrams carry the DF bit and IPv6 ones
/// are not fragmented at the source, both sized by the interface MTU with path-MTU hints
/// ignored (`IP_PMTUDISC_PROBE`), so a forged "fragmentation needed" cannot shrink or split
/// our replies. A reply too large for the interface fails with EMSGSIZE and is sent as an
/// empty TC=1 reply instead (`udp::send`). DF also spares the kernel an IP ID per datagram.
fn never_fragment(socket: &Socket, addr: SocketAddr) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let (level, name, value) = match addr {
        SocketAddr::V4(_) => (
            libc::IPPROTO_IP,
            libc::IP_MTU_DISCOVER,
            libc::IP_PMTUDISC_PROBE,
        ),
        SocketAddr::V6(_) => (
            libc::IPPROTO_IPV6,
            libc::IPV6_MTU_DISCOVER,
            libc::IPV6_PMTUDISC_PROBE,
        ),
    };
    set_int(socket.as_raw_fd(), level, name, value)?;
    if addr.is_ipv6() {
        set_int(
            socket.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_DONTFRAG,
            1,
        )?;
    }
    Ok(())
}

fn set_int(fd: i32, level: i32, name: i32, value: libc::c_int) -> io::Result<()> {
    // SAFETY: setsockopt with a valid fd, a pointer to a live c_int and its size.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&raw const value).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
