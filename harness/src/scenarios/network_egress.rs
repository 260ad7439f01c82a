//! Traffic that leaves a bridge network (issue 15): masquerading,
//! `--internal`, and `enable_icc=false`.
//!
//! The destination is a network namespace this scenario makes on the
//! daemon's host (a veth pair, 10.233.x.y/30, a TCP server that answers
//! each connection with the address it came from), so no packet goes
//! anywhere but this machine. It needs the daemon to be local (a unix
//! socket), root, and iproute2's `ip`; without them it skips.
//!
//! Read off dockerd 20.10.24 (busybox `nc` from containers on networks it
//! made, to such a namespace):
//! - a user-defined network: reached, and the server sees the host's end
//!   of the veth as the source (masqueraded);
//! - the same with `com.docker.network.bridge.enable_ip_masquerade=false`:
//!   reached, and the server sees the container's own address;
//! - `Internal: true`: not reached (the connect times out), though the
//!   container has a default route via its gateway;
//! - `com.docker.network.bridge.enable_icc=false`: a container cannot reach
//!   a server on the same network, while it still reaches the namespace.

use std::io::Write;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Value};
use sha2::Digest;

use super::network::{tcp_connect, wait_listening};
use super::network_props::Made;
use super::Scenario;
use crate::client::{Req, Target};
use crate::ground::{expect_status, fail, json_body, Ctx, Outcome, Problem};

/// One scenario per rule, so that each fault is reported on its own.
pub fn scenarios() -> Vec<Scenario> {
    vec![
        super::scenario("network", "egress-masquerade", true, |c| {
            egress(c, masquerade)
        }),
        super::scenario("network", "egress-internal", true, |c| egress(c, internal)),
        super::scenario("network", "egress-icc-off", true, |c| egress(c, icc_off)),
    ]
}

/// The server's port inside the namespace (which has nothing else).
const PEER_PORT: u16 = 7780;

/// A network namespace on the host with a server in it, removed on drop.
struct Peer {
    ns: String,
    /// The host's end of the veth (what masquerading makes the source).
    host_addr: Ipv4Addr,
    /// The namespace's address, where the server listens.
    addr: Ipv4Addr,
    stop: Arc<AtomicBool>,
    server: Option<JoinHandle<()>>,
}

fn ip(args: &[&str]) -> Result<(), Problem> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| Problem::Skip(format!("needs iproute2's ip on the daemon's host: {e}")))?;
    if !out.status.success() {
        return Err(fail(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

impl Peer {
    fn make(ctx: &Ctx) -> Result<Peer, Problem> {
        // Scenarios run side by side: each makes its own namespace.
        let h = sha2::Sha256::digest(ctx.unique_name("egress").as_bytes());
        let tag = hex::encode(&h[..4]);
        let base = u32::from(Ipv4Addr::new(10, 233, h[4], h[5] & 0xfc));
        let mut peer = Peer {
            ns: format!("ss-egress-{tag}"),
            host_addr: Ipv4Addr::from(base + 1),
            addr: Ipv4Addr::from(base + 2),
            stop: Arc::new(AtomicBool::new(false)),
            server: None,
        };
        // Not `ss*` (the reference engine's bridges), `br-*`, `docker0` nor
        // `veth*`: names engines keep for their own devices.
        let host_if = format!("hpeer{tag}");
        let (ns, host_cidr, cidr, gw) = (
            peer.ns.clone(),
            format!("{}/30", peer.host_addr),
            format!("{}/30", peer.addr),
            peer.host_addr.to_string(),
        );
        ip(&["netns", "add", &ns])?;
        // From here on, dropping `peer` deletes the namespace (and with it
        // the veth pair).
        ip(&[
            "link", "add", &host_if, "type", "veth", "peer", "name", "eth0", "netns", &ns,
        ])?;
        ip(&["addr", "add", &host_cidr, "dev", &host_if])?;
        ip(&["link", "set", &host_if, "up"])?;
        ip(&["-n", &ns, "addr", "add", &cidr, "dev", "eth0"])?;
        ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
        ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        ip(&["-n", &ns, "route", "add", "default", "via", &gw])?;
        peer.serve()?;
        Ok(peer)
    }

    /// Starts the server on a thread that joins the namespace: each
    /// connection is answered with the address it came from.
    fn serve(&mut self) -> Outcome {
        let file = std::fs::File::open(format!("/run/netns/{}", self.ns))
            .map_err(|e| fail(format!("opening /run/netns/{}: {e}", self.ns)))?;
        let stop = self.stop.clone();
        let (tx, rx) = mpsc::channel();
        self.server = Some(std::thread::spawn(move || {
            // SAFETY: setns on this thread only; it takes a valid fd.
            if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                let _ = tx.send(Err(format!("setns: {}", std::io::Error::last_os_error())));
                return;
            }
            let l = match std::net::TcpListener::bind(("0.0.0.0", PEER_PORT))
                .and_then(|l| l.set_nonblocking(true).map(|()| l))
            {
                Ok(l) => l,
                Err(e) => {
                    let _ = tx.send(Err(format!("listening in the namespace: {e}")));
                    return;
                }
            };
            let _ = tx.send(Ok(()));
            while !stop.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((mut c, from)) => {
                        let _ = c.set_nonblocking(false);
                        let _ = c.write_all(from.ip().to_string().as_bytes());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }));
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(fail(e)),
            Err(_) => Err(fail("the namespace's server did not start")),
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.server.take() {
            let _ = t.join();
        }
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
    }
}

/// Creates a bridge network with `extra` fields in its create body; its
/// name and its subnet.
fn network(made: &mut Made, what: &str, extra: Value) -> Result<(String, String), Problem> {
    let ctx = made.ctx;
    let name = ctx.unique_name(what);
    let mut body = json!({"Name": name, "Labels": ctx.labels()});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let resp = ctx.send(Req::post("/networks/create").json(body))?;
    expect_status(&resp, 201, &format!("creating network {name}"))?;
    made.nets.push(name.clone());
    let resp = ctx.send(Req::get(format!("/networks/{name}")))?;
    expect_status(&resp, 200, "inspecting a network")?;
    let subnet = json_body(&resp, "network inspect")?["IPAM"]["Config"][0]["Subnet"]
        .as_str()
        .map(String::from)
        .ok_or_else(|| fail(format!("network {name} shows no IPv4 subnet")))?;
    Ok((name, subnet))
}

fn in_subnet(addr: &str, subnet: &str) -> bool {
    let (Some((net, bits)), Ok(a)) = (subnet.split_once('/'), addr.parse::<Ipv4Addr>()) else {
        return false;
    };
    let (Ok(net), Ok(bits)) = (net.parse::<Ipv4Addr>(), bits.parse::<u32>()) else {
        return false;
    };
    let mask = u32::MAX.checked_shl(32 - bits.min(32)).unwrap_or(0);
    u32::from(a) & mask == u32::from(net) & mask
}

/// What a check gets: the namespace's server, and the scenario's networks
/// and containers (removed when it ends).
struct Egress<'c, 'a> {
    made: Made<'c, 'a>,
    /// The server's address and port.
    to: String,
    port: String,
    /// The host's end of the veth.
    host: String,
}

/// Skips unless the harness runs as root on the daemon's host (a unix
/// socket): what it does there needs `why`.
pub(super) fn needs_local_root(ctx: &Ctx, why: &str) -> Outcome {
    if !matches!(ctx.client.target(), Target::Unix(_)) {
        return Err(Problem::Skip(format!("needs the daemon's host, {why}")));
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(Problem::Skip(format!("needs root, {why}")));
    }
    Ok(())
}

fn egress(ctx: &Ctx, check: fn(&mut Egress) -> Outcome) -> Outcome {
    needs_local_root(ctx, "to make the network namespace it sends to")?;
    let peer = Peer::make(ctx)?;
    let mut e = Egress {
        made: Made::new(ctx),
        to: peer.addr.to_string(),
        port: PEER_PORT.to_string(),
        host: peer.host_addr.to_string(),
    };
    let res = check(&mut e);
    // The containers and networks go before the namespace.
    drop(e);
    drop(peer);
    res
}

impl Egress<'_, '_> {
    /// What the namespace's server answered a container on `net`.
    fn reach(&self, net: &str) -> Result<Option<String>, Problem> {
        tcp_connect(self.made.ctx, net, &self.to, &self.port)
    }

    /// A user-defined network with the masquerade on reaches the
    /// namespace from the host's address.
    fn reaches_masqueraded(&mut self) -> Outcome {
        let (plain, _) = network(&mut self.made, "egress", json!({}))?;
        match self.reach(&plain)? {
            Some(src) if src == self.host => Ok(()),
            other => Err(fail(format!(
                "from a user-defined network, {}:{} on the host's side answered {other:?}; \
                 dockerd: reached, masqueraded to the host's address {:?}",
                self.to, self.port, self.host
            ))),
        }
    }
}

fn masquerade(e: &mut Egress) -> Outcome {
    e.reaches_masqueraded()?;
    let (unmasked, subnet) = network(
        &mut e.made,
        "egress-nomasq",
        json!({"Options": {"com.docker.network.bridge.enable_ip_masquerade": "false"}}),
    )?;
    match e.reach(&unmasked)? {
        Some(src) if in_subnet(&src, &subnet) => Ok(()),
        other => Err(fail(format!(
            "with enable_ip_masquerade=false, {}:{} answered {other:?}; dockerd: reached from \
             the container's own address, in {subnet}",
            e.to, e.port
        ))),
    }
}

fn internal(e: &mut Egress) -> Outcome {
    e.reaches_masqueraded()?;
    let (internal, _) = network(&mut e.made, "egress-internal", json!({"Internal": true}))?;
    match e.reach(&internal)? {
        Some(src) => Err(fail(format!(
            "a container on an --internal network reached {}:{} (seen from {src}); dockerd: \
             no route out",
            e.to, e.port
        ))),
        None => Ok(()),
    }
}

/// icc off: cut off from a server on its own network, not from the
/// namespace.
fn icc_off(e: &mut Egress) -> Outcome {
    let ctx = e.made.ctx;
    let (no_icc, _) = network(
        &mut e.made,
        "egress-noicc",
        json!({"Options": {"com.docker.network.bridge.enable_icc": "false"}}),
    )?;
    let srv = ctx.unique_name("icc");
    let mut c = ctx.probe_config(&["tcp-serve", "7777", &srv])?;
    c["HostConfig"] = json!({"NetworkMode": no_icc});
    let server = ctx.create(c, None)?;
    e.made.containers.push(server.clone());
    ctx.start(&server)?;
    wait_listening(ctx, &server)?;
    let addr = ctx.inspect(&server)?["NetworkSettings"]["Networks"][&no_icc]["IPAddress"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(String::from)
        .ok_or_else(|| fail(format!("the server shows no address on {no_icc}")))?;
    if let Some(got) = tcp_connect(ctx, &no_icc, &addr, "7777")? {
        return Err(fail(format!(
            "on a network with enable_icc=false, a container reached {addr}:7777 on the same \
             network (got {got:?}); dockerd: cut off"
        )));
    }
    if e.reach(&no_icc)?.is_none() {
        return Err(fail(format!(
            "on a network with enable_icc=false, {}:{} outside was not reached; dockerd \
             reaches it",
            e.to, e.port
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn subnets() {
        assert!(super::in_subnet("172.21.0.2", "172.21.0.0/16"));
        assert!(!super::in_subnet("10.233.1.1", "172.21.0.0/16"));
        assert!(!super::in_subnet("x", "172.21.0.0/16"));
    }
}
