//! Binding the resolver's sockets inside a container's network namespace.

use std::fs::File;
use std::io;
use std::net::{SocketAddr, TcpListener, UdpSocket};

use nix::sched::{setns, CloneFlags};

/// Binds UDP and TCP on `addr` inside the network namespace `netns` (an
/// open `/proc/PID/ns/net` or a bind-mounted namespace file) and returns
/// them; the sockets stay in that namespace for their whole life, whichever
/// thread uses them later.
///
/// The switch happens on a short-lived thread of its own, so no thread of
/// the caller (nor of its async runtime) ever leaves the engine's namespace.
pub fn bind_in_netns(netns: &File, addr: SocketAddr) -> io::Result<(UdpSocket, TcpListener)> {
    let ns = netns.try_clone()?;
    let thread = std::thread::Builder::new().name("dns-bind".into()).spawn(
        move || -> io::Result<(UdpSocket, TcpListener)> {
            setns(&ns, CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
            let udp = UdpSocket::bind(addr)?;
            let tcp = TcpListener::bind(addr)?;
            Ok((udp, tcp))
        },
    )?;
    thread
        .join()
        .map_err(|_| io::Error::other("the thread binding in the namespace panicked"))?
}
