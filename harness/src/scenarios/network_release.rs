//! A stopped container's endpoint leaves its network at once (issue 15).
//!
//! Read off dockerd 20.10.24 (busybox `nc -l` containers, the namespace held
//! with `ip netns attach` before the stop):
//! - once `docker wait` returns, the stopped container's network namespace
//!   has only `lo` left: dockerd deletes the veth when the container exits,
//!   before its address is free (the harness allows an engine 5 s for it);
//! - the next container on that network gets the same address (the lowest
//!   free one) and answers on it at once: 50 times out of 50, a server
//!   started right after another was killed answered the host's connection.
//!
//! A namespace outlives its last process for a moment, and for as long as
//! anything holds it (a `setns` tool, a monitoring agent, this scenario).
//! An engine that leaves the veth to go with the namespace keeps a port on
//! the bridge with the address and MAC the next container is given, and
//! that container's connections go to the old namespace (the reference
//! engine was refused on 1 start in 4 right after a stop, and in a CI run
//! `network/publish-port-in-use` answered nothing). Holding the namespace
//! makes the fault show every time, not by chance.
//!
//! It needs the daemon's host (a unix socket) and root, to open and enter
//! the container's namespace; without them it skips.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::time::Duration;

use serde_json::json;
use sha2::Digest;

use super::network::{wait_listening, PORT};
use super::network_egress::needs_local_root;
use super::network_props::Made;
use super::Scenario;
use crate::client::Req;
use crate::ground::{expect_status, fail, Ctx, Outcome, Problem};

pub fn scenarios() -> Vec<Scenario> {
    vec![super::scenario(
        "network",
        "endpoint-gone-at-exit",
        true,
        endpoint_gone_at_exit,
    )]
}

fn endpoint_gone_at_exit(ctx: &Ctx) -> Outcome {
    needs_local_root(ctx, "to open and enter a container's network namespace")?;
    let mut made = Made::new(ctx);
    let net = ctx.unique_name("net-release");
    let h = sha2::Sha256::digest(format!("{}release", ctx.run_id).as_bytes());
    let resp = ctx.send(Req::post("/networks/create").json(json!({"Name": net,
        "Labels": ctx.labels(),
        "IPAM": {"Config": [{"Subnet": format!("10.216.{}.0/24", h[0])}]}})))?;
    expect_status(&resp, 201, "creating a network")?;
    made.nets.push(net.clone());

    let (first, first_ip) = serve(&mut made, &net, "first")?;
    let pid = ctx.inspect(&first)?["State"]["Pid"].as_i64().unwrap_or(0);
    let held = File::open(format!("/proc/{pid}/ns/net")).map_err(|e| {
        Problem::Skip(format!(
            "the container's process ({pid}) is not visible here: opening its namespace: {e}"
        ))
    })?;
    let resp = ctx.stop(&first, 0)?;
    expect_status(&resp, 204, "stopping the first server")?;
    // The next container comes at once: what must not be is its address
    // answered from the old namespace.
    let (second, ip) = serve(&mut made, &net, "second")?;
    let text = ctx.inspect(&second)?["Name"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches('/')
        .to_string();
    let got = host_connect(&ip)?;
    if got != text {
        return Err(fail(format!(
            "the server started after another stopped (at {first_ip}, now {ip}) answered the \
             host's connection with {got:?}, expected {text:?}; dockerd's answers at once"
        )));
    }
    // dockerd's veth is gone when the stop returns; an engine may delete it
    // a moment later (the kernel takes 15-40 ms over it) once nothing
    // reaches it, but not leave it to the namespace, which is held here.
    let mut left = interfaces_in(&held)?;
    if !left.is_empty() {
        let gone = ctx.poll(Duration::from_secs(5), || {
            left = interfaces_in(&held)?;
            Ok(left.is_empty().then_some(()))
        })?;
        if gone.is_none() {
            return Err(fail(format!(
                "5 s after its stop the stopped container's network namespace (held open) \
                 still has {left:?}; dockerd takes the endpoint out at exit: only lo is left"
            )));
        }
    }
    drop(held);
    Ok(())
}

/// Starts a server on `net` answering its own name; its ID and address.
fn serve(made: &mut Made, net: &str, what: &str) -> Result<(String, String), Problem> {
    let ctx = made.ctx;
    let name = ctx.unique_name(what);
    let mut c = ctx.probe_config(&["tcp-serve", PORT, &name])?;
    c["HostConfig"] = json!({"NetworkMode": net});
    let id = ctx.create(c, Some(&name))?;
    made.containers.push(id.clone());
    ctx.start(&id)?;
    wait_listening(ctx, &id)?;
    let ip = ctx.inspect(&id)?["NetworkSettings"]["Networks"][net]["IPAddress"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if ip.is_empty() {
        return Err(fail(format!("the {what} server shows no address on {net}")));
    }
    Ok((id, ip))
}

/// The interfaces but `lo` in the namespace `ns` is: read from
/// /proc/thread-self/net/dev on a thread that enters it.
fn interfaces_in(ns: &File) -> Result<Vec<String>, Problem> {
    let ns = ns
        .try_clone()
        .map_err(|e| fail(format!("duplicating the namespace's fd: {e}")))?;
    let read = std::thread::spawn(move || -> Result<String, String> {
        // SAFETY: setns on this thread only, which ends here; a valid fd.
        if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(format!("setns: {}", std::io::Error::last_os_error()));
        }
        std::fs::read_to_string("/proc/thread-self/net/dev").map_err(|e| e.to_string())
    });
    let dev = read
        .join()
        .map_err(|_| fail("the thread reading the namespace panicked"))?
        .map_err(|e| fail(format!("listing the held namespace's interfaces: {e}")))?;
    Ok(dev
        .lines()
        .filter_map(|l| l.split_once(':').map(|(name, _)| name.trim().to_string()))
        .filter(|n| n != "lo")
        .collect())
}

/// What a server at `ip`:PORT answers a connection from the host.
fn host_connect(ip: &str) -> Result<String, Problem> {
    use std::io::Read;
    let addr = format!("{ip}:{PORT}");
    let to = addr
        .parse()
        .map_err(|e| fail(format!("address {addr}: {e}")))?;
    let mut s = std::net::TcpStream::connect_timeout(&to, Duration::from_secs(3))
        .map_err(|e| fail(format!("connecting from the host to {addr}: {e}")))?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
    let mut got = String::new();
    let _ = s.read_to_string(&mut got);
    Ok(got)
}
