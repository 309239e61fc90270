//! A private network namespace for the calling thread (needs CAP_SYS_ADMIN): its own loopback
//! and sysctls, changed without touching the machine's. Threads started afterwards share it.

use std::io;

/// Move the calling thread into a new network namespace (its loopback starts down).
pub fn enter() -> io::Result<()> {
    // SAFETY: unshare affects only the calling thread.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Bring this namespace's loopback up, with `mtu` if given.
pub fn loopback_up(mtu: Option<i32>) -> io::Result<()> {
    // SAFETY: plain socket/ioctl calls on a zeroed `ifreq` naming "lo"; the fd is closed.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        let mut rc = 0;
        if let Some(mtu) = mtu {
            req.ifr_ifru.ifru_mtu = mtu;
            rc = libc::ioctl(fd, libc::SIOCSIFMTU, &req);
        }
        if rc == 0 {
            req.ifr_ifru.ifru_flags = (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            rc = libc::ioctl(fd, libc::SIOCSIFFLAGS, &req);
        }
        let err = io::Error::last_os_error();
        libc::close(fd);
        if rc == 0 { Ok(()) } else { Err(err) }
    }
}

/// Let every group open ICMP echo sockets in this namespace (`net.ipv4.ping_group_range`
/// is per namespace).
pub fn allow_ping_sockets() -> io::Result<()> {
    std::fs::write("/proc/sys/net/ipv4/ping_group_range", "0 2147483647")
}
