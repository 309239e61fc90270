//! The UDP fast path: a blocking thread per socket moving batches with recvmmsg/sendmmsg.
//!
//! Each batch is one `recvmmsg` (waiting for the first datagram, then taking whatever else
//! is queued, up to `BATCH`), the handler over every datagram, and one `sendmmsg` of the
//! replies. That trades two system calls per query for two per batch, which is where an
//! authoritative server's time goes. The handler parses the whole batch first and starts
//! fetching the GeoIP data of queries with a client subnet, so those cache misses overlap
//! instead of coming one per query. Each thread remembers the replies to static names
//! (`memo`). The read timeout lets the loop notice cancellation.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::time::Duration;

use smallvec::SmallVec;
use socket2::Socket;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::handler::{Handler, Parsed, Transport};
use super::memo::Memo;
use super::view::View;
use crate::zone::key::WireKey;

/// Datagrams moved per system call at most.
pub(crate) const BATCH: usize = 32;
/// Largest datagram read; longer ones are truncated by the kernel and fail to parse.
const DATAGRAM: usize = 4096;
/// How often a quiet socket checks for shutdown.
pub(crate) const POLL: Duration = Duration::from_millis(100);

/// Buffers for one batch, allocated once per socket.
struct Batch {
    bufs: Vec<[u8; DATAGRAM]>,
    names: Vec<libc::sockaddr_storage>,
    iovecs: Vec<libc::iovec>,
    headers: Vec<libc::mmsghdr>,
    /// The question keys of the parsed queries.
    keys: Vec<WireKey>,
    /// Reply buffers, reused from batch to batch; the first `ready` hold this batch's.
    replies: Vec<Vec<u8>>,
    /// `query[k]`: the receive slot reply `k` answers.
    query: [usize; BATCH],
    ready: usize,
}

impl Batch {
    fn new() -> Box<Self> {
        // SAFETY: sockaddr_storage, iovec and mmsghdr are plain C structs for which all-zero
        // bytes are a valid value; the pointers inside are set before every use.
        let zero_name = unsafe { zeroed::<libc::sockaddr_storage>() };
        let zero_iov = unsafe { zeroed::<libc::iovec>() };
        let zero_hdr = unsafe { zeroed::<libc::mmsghdr>() };
        Box::new(Self {
            bufs: vec![[0u8; DATAGRAM]; BATCH],
            names: vec![zero_name; BATCH],
            iovecs: vec![zero_iov; BATCH],
            headers: vec![zero_hdr; BATCH],
            keys: (0..BATCH).map(|_| WireKey::empty()).collect(),
            replies: (0..BATCH).map(|_| Vec::with_capacity(512)).collect(),
            query: [0; BATCH],
            ready: 0,
        })
    }

    /// Point the first `n` headers at their buffers and address slots, ready for
    /// `recvmmsg` (after a batch, only the slots it used need resetting).
    fn arm_receive(&mut self, n: usize) {
        for i in 0..n.min(BATCH) {
            self.iovecs[i] = libc::iovec {
                iov_base: self.bufs[i].as_mut_ptr().cast(),
                iov_len: DATAGRAM,
            };
            let h = &mut self.headers[i].msg_hdr;
            h.msg_name = (&raw mut self.names[i]).cast();
            h.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_iov = &raw mut self.iovecs[i];
            h.msg_iovlen = 1;
            h.msg_control = std::ptr::null_mut();
            h.msg_controllen = 0;
            h.msg_flags = 0;
            self.headers[i].msg_len = 0;
        }
    }
}

/// Serve `socket` until `cancel` fires. Runs on a blocking thread.
pub(crate) fn serve(socket: Socket, handler: Handler, cancel: CancellationToken) {
    if let Err(e) = socket
        .set_nonblocking(false)
        .and_then(|()| socket.set_read_timeout(Some(POLL)))
    {
        debug!(error = %e, "udp socket setup failed");
        return;
    }
    let fd = socket.as_raw_fd();
    let mut view = handler.view();
    let mut memo = Memo::default();
    let mut batch = Batch::new();
    batch.arm_receive(BATCH);
    while !cancel.is_cancelled() {
        let received = match receive(fd, &mut batch) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                // Quiet: let go of snapshots swapped out since the last batch.
                view.load();
                continue;
            }
            Err(e) => {
                debug!(error = %e, "udp receive failed");
                batch.arm_receive(BATCH);
                continue;
            }
        };
        answer(&handler, (&mut view, &mut memo), &mut batch, received);
        send(fd, &handler, &mut batch);
        batch.arm_receive(received);
    }
}

fn receive(fd: i32, batch: &mut Batch) -> io::Result<usize> {
    // The system call itself, not libc's wrapper, which brackets it with pthread
    // cancellation bookkeeping this thread never uses.
    // SAFETY: `headers` holds BATCH initialised mmsghdr whose pointers refer to buffers
    // owned by `batch`, which outlives the call.
    let n = unsafe {
        libc::syscall(
            libc::SYS_recvmmsg,
            fd,
            batch.headers.as_mut_ptr(),
            BATCH as libc::c_uint,
            libc::MSG_WAITFORONE,
            std::ptr::null_mut::<libc::timespec>(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Run the handler over the received datagrams: parse them all, start the GeoIP fetches,
/// then answer; keep the replies in arrival order and compact the address slots so reply
/// `k` goes to the sender of its query.
fn answer(
    handler: &Handler,
    (view, memo): (&mut View<'_>, &mut Memo),
    batch: &mut Batch,
    received: usize,
) {
    let Batch {
        bufs,
        names,
        headers,
        keys,
        replies,
        query,
        ready,
        ..
    } = batch;
    let mut parsed: SmallVec<[(usize, IpAddr, Parsed<'_>); BATCH]> = SmallVec::new();
    for (i, (buf, key)) in bufs.iter().zip(keys.iter_mut()).take(received).enumerate() {
        let Some(src) = ip_of(&names[i]).filter(|_| port_of(&names[i]) != 0) else {
            continue;
        };
        let len = (headers[i].msg_len as usize).min(DATAGRAM);
        parsed.push((i, src, Handler::parse(&buf[..len], key)));
    }
    handler.prefetch(parsed.iter().map(|(_, _, p)| p));
    let loaded = view.load();
    *ready = 0;
    for (i, src, p) in &parsed {
        let k = *ready;
        let memo = Some(&mut *memo);
        if handler.respond(loaded, p, *src, Transport::Udp, &mut replies[k], memo) {
            if k != *i {
                names[k] = names[*i];
                headers[k].msg_hdr.msg_namelen = headers[*i].msg_hdr.msg_namelen;
            }
            query[k] = *i;
            *ready += 1;
        }
    }
    crate::metrics::flush();
}

/// Send the batch's replies. One too large for the interface (EMSGSIZE: replies are never
/// fragmented) is replaced by an empty TC=1 reply, so the client retries over TCP.
fn send(fd: i32, handler: &Handler, batch: &mut Batch) {
    let count = batch.ready;
    for k in 0..count {
        point_at_reply(batch, k);
    }
    let mut sent = 0;
    while sent < count {
        // As in `receive`, the system call without libc's cancellation bookkeeping.
        // SAFETY: headers[sent..count] point at replies and addresses owned by `batch`.
        let n = unsafe {
            libc::syscall(
                libc::SYS_sendmmsg,
                fd,
                batch.headers[sent..].as_mut_ptr(),
                (count - sent) as libc::c_uint,
                0,
            )
        };
        if n > 0 {
            sent += n as usize;
            continue;
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => {}
            Some(libc::EMSGSIZE) if truncate(handler, batch, sent) => {
                debug!("udp reply larger than the interface MTU; sent truncated");
            }
            _ => {
                debug!(error = %e, "udp send failed; dropping the reply");
                sent += 1;
            }
        }
    }
}

fn point_at_reply(batch: &mut Batch, k: usize) {
    batch.iovecs[k] = libc::iovec {
        iov_base: batch.replies[k].as_mut_ptr().cast(),
        iov_len: batch.replies[k].len(),
    };
    let h = &mut batch.headers[k].msg_hdr;
    h.msg_name = (&raw mut batch.names[k]).cast();
    h.msg_iov = &raw mut batch.iovecs[k];
    h.msg_iovlen = 1;
}

/// Rewrite reply `k` as an empty TC=1 reply to its query; false when it already is one
/// (or the query cannot be answered that way), so the caller drops it.
fn truncate(handler: &Handler, batch: &mut Batch, k: usize) -> bool {
    let i = batch.query[k];
    let len = (batch.headers[i].msg_len as usize).min(DATAGRAM);
    let before = batch.replies[k].len();
    if !handler.truncated_into(&batch.bufs[i][..len], &mut batch.replies[k])
        || batch.replies[k].len() >= before
    {
        return false;
    }
    point_at_reply(batch, k);
    true
}

fn ip_of(name: &libc::sockaddr_storage) -> Option<IpAddr> {
    match i32::from(name.ss_family) {
        libc::AF_INET => {
            // SAFETY: the kernel wrote a sockaddr_in when the family is AF_INET.
            let sin = unsafe { &*std::ptr::from_ref(name).cast::<libc::sockaddr_in>() };
            Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                sin.sin_addr.s_addr,
            ))))
        }
        libc::AF_INET6 => {
            // SAFETY: the kernel wrote a sockaddr_in6 when the family is AF_INET6.
            let sin6 = unsafe { &*std::ptr::from_ref(name).cast::<libc::sockaddr_in6>() };
            Some(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)))
        }
        _ => None,
    }
}

fn port_of(name: &libc::sockaddr_storage) -> u16 {
    match i32::from(name.ss_family) {
        // SAFETY: as in `ip_of`, the family tells which struct the kernel wrote.
        libc::AF_INET => u16::from_be(unsafe {
            (*std::ptr::from_ref(name).cast::<libc::sockaddr_in>()).sin_port
        }),
        libc::AF_INET6 => u16::from_be(unsafe {
            (*std::ptr::from_ref(name).cast::<libc::sockaddr_in6>()).sin6_port
        }),
        _ => 0,
    }
}
