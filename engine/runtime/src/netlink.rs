//! A small synchronous rtnetlink client: the few requests container
//! networking needs (links, veth pairs, bridges, addresses, routes, link
//! counters), as messages of the `netlink-packet-route` crate sent over a
//! plain `netlink-sys` socket.
//!
//! Synchronous on purpose: the init process is single-threaded and has no
//! async runtime, and the daemon's requests are a handful per network or
//! container, made from blocking threads. A socket stays bound to the network
//! namespace it was opened in, which is how the init talks to the host's
//! namespace and the container's at once.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::RawFd;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressHeaderFlags, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

/// A link as a dump shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// `IFLA_INFO_KIND` ("bridge", "veth", ...), empty when absent.
    pub kind: String,
    /// rx_bytes, rx_packets, rx_errors, rx_dropped, tx_bytes, tx_packets,
    /// tx_errors, tx_dropped.
    pub stats: [u64; 8],
}

/// What a veth pair for a container looks like.
#[derive(Debug, Clone)]
pub struct VethPair<'a> {
    /// Name of the host end.
    pub host_name: &'a str,
    /// Bridge the host end joins.
    pub master: u32,
    /// Name of the container end (in `peer_netns`).
    pub peer_name: &'a str,
    /// Open fd of the container's network namespace.
    pub peer_netns: RawFd,
    pub peer_mac: [u8; 6],
    pub mtu: u32,
}

/// One rtnetlink socket, bound to the network namespace it was opened in.
pub struct Rtnl {
    sock: Socket,
    seq: u32,
}

fn nl_err(what: &str, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

fn wrap(what: &str, e: io::Error) -> io::Error {
    nl_err(what, e)
}

impl Rtnl {
    /// Opens a socket in the calling thread's network namespace.
    pub fn open() -> io::Result<Rtnl> {
        let mut sock = Socket::new(NETLINK_ROUTE).map_err(|e| nl_err("netlink socket", e))?;
        sock.bind_auto().map_err(|e| nl_err("netlink bind", e))?;
        sock.connect(&SocketAddr::new(0, 0))
            .map_err(|e| nl_err("netlink connect", e))?;
        Ok(Rtnl { sock, seq: 0 })
    }

    /// Opens a socket in the network namespace `netns` (an open
    /// `/proc/<pid>/ns/net`), from a short-lived thread that joins it: the
    /// socket stays bound to that namespace, and the calling thread's own
    /// namespace never changes (the daemon is multi-threaded).
    pub fn open_in(netns: &std::fs::File) -> io::Result<Rtnl> {
        std::thread::scope(|s| {
            s.spawn(|| {
                nix::sched::setns(netns, nix::sched::CloneFlags::CLONE_NEWNET)
                    .map_err(|e| nl_err("joining the container's network namespace", e.into()))?;
                Rtnl::open()
            })
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("netlink thread panicked")))
        })
    }

    /// Sends `msg` and collects the replies until the ack (or the end of a
    /// dump). A netlink error becomes an `io::Error` with its errno.
    fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
        what: &str,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = self.seq;
        let mut req = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
        req.finalize();
        let mut buf = vec![0u8; req.buffer_len()];
        req.serialize(&mut buf);
        self.sock.send(&buf, 0).map_err(|e| nl_err(what, e))?;
        let mut out = Vec::new();
        let mut rbuf = vec![0u8; 1 << 16];
        loop {
            let n = self
                .sock
                .recv(&mut &mut rbuf[..], 0)
                .map_err(|e| nl_err(what, e))?;
            let mut off = 0;
            while off < n {
                let bytes = &rbuf[off..n];
                let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(bytes)
                    .map_err(|e| io::Error::other(format!("{what}: bad netlink reply: {e}")))?;
                let len = msg.header.length as usize;
                if len == 0 {
                    return Err(io::Error::other(format!("{what}: empty netlink reply")));
                }
                off += (len + 3) & !3;
                if msg.header.sequence_number != self.seq {
                    continue;
                }
                match msg.payload {
                    NetlinkPayload::Error(e) => {
                        if e.code.is_some() {
                            // Raw, so callers can match the errno; `wrap`
                            // adds what failed.
                            return Err(e.to_io());
                        }
                        return Ok(out);
                    }
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::InnerMessage(m) => out.push(m),
                    _ => {}
                }
            }
        }
    }

    /// Like `request`, with what failed in the error.
    fn call(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
        what: &str,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
        self.request(msg, flags, what).map_err(|e| wrap(what, e))
    }

    /// Every link of this namespace.
    pub fn links(&mut self) -> io::Result<Vec<Link>> {
        let msgs = self.call(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_DUMP,
            "list links",
        )?;
        Ok(msgs
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(link_of(l)),
                _ => None,
            })
            .collect())
    }

    /// The link called `name`, if any.
    pub fn link(&mut self, name: &str) -> io::Result<Option<Link>> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        match self.request(RouteNetlinkMessage::GetLink(msg), NLM_F_ACK, "get link") {
            Ok(msgs) => Ok(msgs.into_iter().find_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(link_of(l)),
                _ => None,
            })),
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(wrap(&format!("get link {name}"), e)),
        }
    }

    /// Creates a bridge (down).
    pub fn add_bridge(&mut self, name: &str, mtu: u32) -> io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        if mtu > 0 {
            msg.attributes.push(LinkAttribute::Mtu(mtu));
        }
        msg.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Bridge,
            )]));
        let what = format!("create bridge {name}");
        self.request(
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            &what,
        )
        .map(drop)
        .map_err(|e| wrap(&what, e))
    }

    /// Creates a veth pair whose host end joins `master` and is up, and
    /// whose other end goes straight into the container's namespace.
    pub fn add_veth(&mut self, v: &VethPair<'_>) -> io::Result<()> {
        let mut peer = LinkMessage::default();
        peer.attributes
            .push(LinkAttribute::IfName(v.peer_name.to_string()));
        peer.attributes.push(LinkAttribute::NetNsFd(v.peer_netns));
        peer.attributes
            .push(LinkAttribute::Address(v.peer_mac.to_vec()));
        if v.mtu > 0 {
            peer.attributes.push(LinkAttribute::Mtu(v.mtu));
        }
        let mut msg = LinkMessage::default();
        msg.header.flags = LinkFlags::Up;
        msg.header.change_mask = LinkFlags::Up;
        msg.attributes
            .push(LinkAttribute::IfName(v.host_name.to_string()));
        msg.attributes.push(LinkAttribute::Controller(v.master));
        if v.mtu > 0 {
            msg.attributes.push(LinkAttribute::Mtu(v.mtu));
        }
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
        ]));
        self.call(
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            &format!("create veth {}", v.host_name),
        )
        .map(drop)
    }

    /// Brings link `index` up.
    pub fn set_up(&mut self, index: u32) -> io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.header.flags = LinkFlags::Up;
        msg.header.change_mask = LinkFlags::Up;
        self.call(RouteNetlinkMessage::SetLink(msg), NLM_F_ACK, "set link up")
            .map(drop)
    }

    /// Takes link `index` off its bridge and down: the bridge forwards
    /// nothing more to it and forgets the MACs it learnt there. Cheap,
    /// where deleting a veth waits on the kernel's RCU (15-40 ms here).
    pub fn unplug(&mut self, index: u32) -> io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.header.change_mask = LinkFlags::Up;
        msg.attributes.push(LinkAttribute::Controller(0));
        match self.request(RouteNetlinkMessage::SetLink(msg), NLM_F_ACK, "unplug link") {
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(()),
            r => r.map(drop).map_err(|e| wrap("unplug link", e)),
        }
    }

    /// Deletes link `index` (a veth takes its peer with it).
    pub fn del_link(&mut self, index: u32) -> io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        match self.request(RouteNetlinkMessage::DelLink(msg), NLM_F_ACK, "delete link") {
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(()),
            r => r.map(drop).map_err(|e| wrap("delete link", e)),
        }
    }

    /// Adds `ip/prefix` to link `index`.
    pub fn add_addr(&mut self, index: u32, ip: Ipv4Addr, prefix: u8) -> io::Result<()> {
        let mut msg = AddressMessage::default();
        msg.header.family = AddressFamily::Inet;
        msg.header.prefix_len = prefix;
        msg.header.index = index;
        msg.attributes.push(AddressAttribute::Local(ip.into()));
        msg.attributes.push(AddressAttribute::Address(ip.into()));
        if prefix < 31 {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            let brd = Ipv4Addr::from(u32::from(ip) | !mask);
            msg.attributes.push(AddressAttribute::Broadcast(brd));
        }
        let what = format!("add address {ip}/{prefix}");
        match self.request(
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            &what,
        ) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
            r => r.map(drop).map_err(|e| wrap(&what, e)),
        }
    }

    /// Adds `ip/prefix` to link `index` without duplicate address detection
    /// (as libnetwork adds a container's IPv6 address: usable at once, not
    /// "tentative" for a second).
    pub fn add_addr6(&mut self, index: u32, ip: Ipv6Addr, prefix: u8) -> io::Result<()> {
        let mut msg = AddressMessage::default();
        msg.header.family = AddressFamily::Inet6;
        msg.header.prefix_len = prefix;
        msg.header.index = index;
        msg.header.flags = AddressHeaderFlags::Nodad;
        msg.attributes.push(AddressAttribute::Address(ip.into()));
        let what = format!("add address {ip}/{prefix}");
        match self.request(
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            &what,
        ) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
            r => r.map(drop).map_err(|e| wrap(&what, e)),
        }
    }

    /// `default via gw` for IPv6.
    pub fn add_default_route6(&mut self, gw: Ipv6Addr) -> io::Result<()> {
        self.add_default_route_via(AddressFamily::Inet6, RouteAddress::Inet6(gw), gw.into())
    }

    /// `default via gw`.
    pub fn add_default_route(&mut self, gw: Ipv4Addr) -> io::Result<()> {
        self.add_default_route_via(AddressFamily::Inet, RouteAddress::Inet(gw), gw.into())
    }

    /// A default route in the main table through `gw`, of either family.
    fn add_default_route_via(
        &mut self,
        family: AddressFamily,
        gw: RouteAddress,
        shown: std::net::IpAddr,
    ) -> io::Result<()> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = family;
        msg.header.table = RouteHeader::RT_TABLE_MAIN;
        msg.header.protocol = RouteProtocol::Boot;
        msg.header.scope = RouteScope::Universe;
        msg.header.kind = RouteType::Unicast;
        msg.attributes.push(RouteAttribute::Gateway(gw));
        self.call(
            RouteNetlinkMessage::NewRoute(msg),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            &format!("add default route via {shown}"),
        )
        .map(drop)
    }

    /// Every IPv4 route message of this namespace.
    fn dump_routes_v4(&mut self) -> io::Result<Vec<RouteNetlinkMessage>> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = AddressFamily::Inet;
        self.call(
            RouteNetlinkMessage::GetRoute(msg),
            NLM_F_DUMP,
            "list routes",
        )
    }

    /// Whether the main table has an IPv4 default route.
    pub fn has_default_route(&mut self) -> io::Result<bool> {
        Ok(self.dump_routes_v4()?.iter().any(|m| {
            matches!(m, RouteNetlinkMessage::NewRoute(r)
                if r.header.table == RouteHeader::RT_TABLE_MAIN
                    && r.header.destination_prefix_length == 0)
        }))
    }

    /// The IPv4 destinations (network, prefix length) of the main table.
    pub fn routes_v4(&mut self) -> io::Result<Vec<(Ipv4Addr, u8)>> {
        let msgs = self.dump_routes_v4()?;
        let mut out = Vec::new();
        for m in msgs {
            let RouteNetlinkMessage::NewRoute(r) = m else {
                continue;
            };
            if r.header.table != RouteHeader::RT_TABLE_MAIN {
                continue;
            }
            for a in &r.attributes {
                if let RouteAttribute::Destination(RouteAddress::Inet(ip)) = a {
                    out.push((*ip, r.header.destination_prefix_length));
                }
            }
        }
        Ok(out)
    }
}

fn link_of(l: LinkMessage) -> Link {
    let mut out = Link {
        index: l.header.index,
        name: String::new(),
        kind: String::new(),
        stats: [0; 8],
    };
    for a in l.attributes {
        match a {
            LinkAttribute::IfName(n) => out.name = n,
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    if let LinkInfo::Kind(k) = i {
                        out.kind = k.to_string();
                    }
                }
            }
            LinkAttribute::Stats64(s) => {
                out.stats = [
                    s.rx_bytes,
                    s.rx_packets,
                    s.rx_errors,
                    s.rx_dropped,
                    s.tx_bytes,
                    s.tx_packets,
                    s.tx_errors,
                    s.tx_dropped,
                ];
            }
            _ => {}
        }
    }
    out
}

/// Plugs `v` into a container: the pair is made from the host's namespace
/// (`host`) with its inner end, `peer_name`, put straight into the
/// container's namespace (`netns`, where `inner` is bound); the inner end
/// gets its address(es) and comes up; with `route`, the default route(s) go
/// via its gateway(s). True when a route was added. With an IPv6 address,
/// `ipv6_on` first turns IPv6 on for the inner end (a sysctl of the
/// container's namespace, which only a task in it can write).
pub fn plug_veth(
    host: &mut Rtnl,
    inner: &mut Rtnl,
    netns: RawFd,
    v: &crate::spec::Veth,
    peer_name: &str,
    route: bool,
    ipv6_on: &dyn Fn(&str) -> io::Result<()>,
) -> io::Result<bool> {
    let Some(bridge) = host.link(&v.bridge)? else {
        return Err(io::Error::other(format!("bridge {} not found", v.bridge)));
    };
    host.add_veth(&VethPair {
        host_name: &v.host_name,
        master: bridge.index,
        peer_name,
        peer_netns: netns,
        peer_mac: v.mac,
        mtu: v.mtu,
    })?;
    let Some(link) = inner.link(peer_name)? else {
        return Err(io::Error::other(format!(
            "{peer_name} not found after creating it"
        )));
    };
    inner.add_addr(link.index, v.address, v.prefix)?;
    if let Some(a6) = &v.ipv6 {
        ipv6_on(peer_name)?;
        inner.add_addr6(link.index, a6.address, a6.prefix)?;
    }
    inner.set_up(link.index)?;
    if !route {
        return Ok(false);
    }
    if let Some(gw6) = v.ipv6.as_ref().and_then(|a| a.gateway) {
        inner.add_default_route6(gw6)?;
    }
    match v.gateway {
        Some(gw) => inner.add_default_route(gw).map(|()| true),
        None => Ok(false),
    }
}

/// Turns IPv6 on for interface `name` of the calling task's network
/// namespace (`net.ipv6.conf.<name>.disable_ipv6 = 0`).
pub fn ipv6_on_here(name: &str) -> io::Result<()> {
    std::fs::write(format!("/proc/sys/net/ipv6/conf/{name}/disable_ipv6"), b"0")
        .map_err(|e| io::Error::new(e.kind(), format!("turning IPv6 on for {name}: {e}")))
}

/// Like [`ipv6_on_here`] in network namespace `netns`, from a short-lived
/// thread that joins it (the caller's namespace never changes).
pub fn ipv6_on_in(netns: &std::fs::File, name: &str) -> io::Result<()> {
    std::thread::scope(|s| {
        s.spawn(|| {
            nix::sched::setns(netns, nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(|e| nl_err("joining the container's network namespace", e.into()))?;
            ipv6_on_here(name)
        })
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("sysctl thread panicked")))
    })
}
