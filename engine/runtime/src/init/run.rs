//! `spawn`: new namespaces, fork, and the container's pid 1 setup.

use std::convert::Infallible;

use nix::sched::unshare;
use nix::unistd::{fork, sethostname, ForkResult};

use super::{console, fail, mounts, namespaces, network, process, propagation, reaper, sysctl};
use crate::channel::{Channel, InitMessage};
use crate::error::RuntimeError;
use crate::spec::{Namespace, Network, ProcessSpec};

pub(super) fn start(chan: &Channel, spec: &ProcessSpec) -> Result<Infallible, RuntimeError> {
    // Before the fork: the container's pid 1 inherits the groups.
    crate::cgroups::join(&spec.cgroups)?;
    // Against the daemon's mount table, before the namespace is made.
    if spec
        .mounts
        .iter()
        .any(|m| m.propagation != Default::default())
    {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| RuntimeError::mount("read mountinfo", e))?;
        propagation::check_sources(&spec.mounts, &mountinfo)?;
    }
    // Before the unshare: a joined pid namespace is the child's, as a new one.
    namespaces::join(&spec.namespaces, spec.network)?;
    let flags = namespaces::unshare_flags(&spec.namespaces, spec.network);
    // Opened before the unshare, so it stays in the host's namespace.
    let mut host_rtnl = if spec.network == Network::None && !spec.veths.is_empty() {
        Some(crate::netlink::Rtnl::open().map_err(RuntimeError::Io)?)
    } else {
        None
    };
    unshare(flags).map_err(|e| RuntimeError::Namespace(format!("unshare: {e}")))?;
    // With an IPv6 network, `lo` keeps `::1`, as dockerd leaves it.
    if spec.network == Network::None && !spec.veths.iter().any(|v| v.ipv6.is_some()) {
        network::ipv6_off()
            .map_err(|e| RuntimeError::Namespace(format!("turning IPv6 off: {e}")))?;
    }
    if let Some(host) = host_rtnl.as_mut() {
        network::veths_up(host, &spec.veths)
            .map_err(|e| RuntimeError::Namespace(format!("setting up the network: {e}")))?;
    }
    drop(host_rtnl);
    if let Some(addr) = spec.dns_bind.filter(|_| spec.network == Network::None) {
        bind_dns(chan, addr)?;
    }
    // SAFETY: this process is single-threaded (fresh exec, no threads started).
    match unsafe { fork() }.map_err(|e| RuntimeError::Namespace(format!("fork: {e}")))? {
        ForkResult::Parent { child } => {
            // The intermediate: report and vanish; the daemon (subreaper) adopts
            // the child and reaps it.
            let _ = chan.send_message(&InitMessage::Pid(child.as_raw()));
            // SAFETY: immediate exit, nothing to clean up.
            unsafe { libc::_exit(0) }
        }
        ForkResult::Child => {
            let err = match container_init(chan, spec) {
                Ok(never) => match never {},
                Err(e) => e,
            };
            fail(chan, err)
        }
    }
}

/// Binds the embedded DNS resolver's sockets in the new network namespace
/// (loopback up first: 127.0.0.11 lives on it) and hands them to the
/// daemon; this process's copies go when it exits.
fn bind_dns(chan: &Channel, addr: std::net::SocketAddrV4) -> Result<(), RuntimeError> {
    use std::os::fd::AsRawFd;
    let ns_err = |what: &str, e: std::io::Error| RuntimeError::Namespace(format!("{what}: {e}"));
    network::loopback_up().map_err(|e| ns_err("bringing up lo", e))?;
    let udp = std::net::UdpSocket::bind(addr).map_err(|e| ns_err("binding the DNS resolver", e))?;
    let tcp =
        std::net::TcpListener::bind(addr).map_err(|e| ns_err("binding the DNS resolver", e))?;
    chan.send_message_with_fds(
        &InitMessage::DnsSockets,
        &[udp.as_raw_fd(), tcp.as_raw_fd()],
    )
    .map_err(RuntimeError::Io)
}

/// Runs as pid 1 of the new pid namespace.
fn container_init(chan: &Channel, spec: &ProcessSpec) -> Result<Infallible, RuntimeError> {
    mounts::prepare_rootfs(spec)?;
    if spec.tty {
        console::setup(chan, &spec.rootfs.join("dev"), true)?;
    }
    // In the host's UTS namespace (`--uts host`) the names are the host's.
    let own_uts = spec.namespaces.uts == Namespace::Private;
    if own_uts && !spec.hostname.is_empty() {
        sethostname(&spec.hostname).map_err(|e| RuntimeError::sys("sethostname", e))?;
    }
    if own_uts && !spec.domainname.is_empty() {
        set_domainname(&spec.domainname)?;
    }
    if spec.network == Network::None {
        // Best effort: a container without lo is still usable.
        let _ = network::loopback_up();
    }
    mounts::pivot_root(&spec.rootfs)?;
    // Before mask_paths makes /proc/sys read-only.
    sysctl::apply(&spec.sysctls)?;
    mounts::mask_paths();
    let cwd = if spec.cwd.is_empty() { "/" } else { &spec.cwd };
    process::ensure_cwd(cwd)?;
    if spec.readonly_rootfs {
        mounts::remount_root_readonly()?;
    }
    let finish = process::Finish {
        args: &spec.args,
        env: &spec.env,
        cwd,
        user: &spec.user,
        group_add: &spec.group_add,
        tty: spec.tty,
        security: &spec.security,
    };
    if spec.init {
        return reaper::run(|| process::finish(&finish));
    }
    process::finish(&finish)
}

/// setdomainname(2), in the container's own UTS namespace.
fn set_domainname(name: &str) -> Result<(), RuntimeError> {
    // SAFETY: a pointer and length of a live byte slice.
    if unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(RuntimeError::Io(std::io::Error::new(
            e.kind(),
            format!("setdomainname: {e}"),
        )));
    }
    Ok(())
}
