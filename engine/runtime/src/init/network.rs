//! A fresh network namespace: `lo` up, and the container's veths.

use std::io;
use std::os::fd::AsRawFd;

use crate::netlink::Rtnl;
use crate::spec::Veth;

pub(super) fn loopback_up() -> io::Result<()> {
    // SAFETY: socket/ioctl/close with a zeroed ifreq naming "lo".
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut ifr: libc::ifreq = std::mem::zeroed();
        for (dst, src) in ifr.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as libc::c_char;
        }
        let mut result = Ok(());
        if libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut ifr) != 0 {
            result = Err(io::Error::last_os_error());
        } else {
            ifr.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            if libc::ioctl(fd, libc::SIOCSIFFLAGS, &ifr) != 0 {
                result = Err(io::Error::last_os_error());
            }
        }
        libc::close(fd);
        result
    }
}

/// Turns IPv6 off in this (new) network namespace, as dockerd does (an
/// interface on a network with IPv6 gets it back, see
/// `netlink::plug_veth`, as in dockerd, where `lo` keeps `::1` then): `default` first, so the veths are
/// made with it off, then `all`, for lo. Besides matching dockerd, the
/// kernel then does no IPv6 address setup (link-local addresses, duplicate
/// address detection, router solicitation) for the container's interfaces.
/// A `--sysctl` for these keys is applied later and wins. A kernel without
/// IPv6 has no such files: nothing to do.
pub(super) fn ipv6_off() -> io::Result<()> {
    for key in ["default", "all"] {
        match std::fs::write(format!("/proc/sys/net/ipv6/conf/{key}/disable_ipv6"), b"1") {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Makes the container's interfaces: for each veth, the pair is created from
/// the host's namespace (`host`, a socket opened before the unshare) with
/// its inner end put straight into this (new) namespace, then the inner end
/// gets its address and comes up, and the default route goes via the first
/// gateway.
pub(super) fn veths_up(host: &mut Rtnl, veths: &[Veth]) -> io::Result<()> {
    if veths.is_empty() {
        return Ok(());
    }
    let netns = std::fs::File::open("/proc/thread-self/ns/net")?;
    let mut inner = Rtnl::open()?;
    let mut routed = false;
    for (i, v) in veths.iter().enumerate() {
        let peer_name = format!("eth{i}");
        routed |= crate::netlink::plug_veth(
            host,
            &mut inner,
            netns.as_raw_fd(),
            v,
            &peer_name,
            !routed,
            &crate::netlink::ipv6_on_here,
        )?;
    }
    Ok(())
}
