//! Reachability as a property (issue 15): for a generated set of
//! containers on a generated set of user-defined networks, each container
//! reaches exactly the containers it shares a network with (by address on
//! each shared network, by name and by alias through the embedded
//! resolver), its published port answers on the host, and after one
//! generated disconnect the container is cut off from the network it left.
//!
//! Read off dockerd 20.10.24 with the probe image (`docker exec` of
//! `probe dns-query` and `probe tcp-connect`): a container's name and its
//! `--network-alias` resolve (to its address on a network they share, one
//! answer) only from containers on a network it is on, other names get
//! NXDOMAIN; an address
//! on a network the asking container is not on does not answer (the SYN is
//! dropped, so the connect times out); after `POST
//! /networks/{id}/disconnect` the container's address there stops
//! answering and its names stop resolving there, from both sides.
//!
//! Cases are small (1-3 networks, 2-3 containers) and a third of
//! `--cases` of them run (3 by default): 8 took 320 s on dockerd.

use super::Scenario;
use crate::client::{demux, enc, Req, Target};
use crate::ground::{expect_status, fail, json_body, property, Ctx, Outcome, Problem};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::Read;
use std::time::Duration;

pub fn scenarios() -> Vec<Scenario> {
    vec![super::scenario(
        "network",
        "reachability-property",
        true,
        reachability_property,
    )]
}

const PORT: &str = "7779";

#[derive(Debug, Clone)]
struct Case {
    networks: usize,
    /// For each container, the networks it is on (the first is its
    /// `NetworkMode`, the others are connected before it starts).
    members: Vec<Vec<usize>>,
    /// Which (container, network) membership is disconnected at the end.
    disconnect: prop::sample::Index,
}

fn case() -> impl Strategy<Value = Case> {
    (1usize..=3)
        .prop_flat_map(|n| {
            let member = prop::collection::btree_set(0..n, 1..=n)
                .prop_map(|s| s.into_iter().collect::<Vec<_>>());
            (
                Just(n),
                prop::collection::vec(member, 2..=3),
                any::<prop::sample::Index>(),
            )
        })
        .prop_map(|(networks, members, disconnect)| Case {
            networks,
            members,
            disconnect,
        })
}

/// Networks and containers a case (or scenario) made, removed when it
/// ends; network_ipv6 uses it too.
pub(super) struct Made<'c, 'a> {
    pub(super) ctx: &'c Ctx<'a>,
    pub(super) nets: Vec<String>,
    pub(super) containers: Vec<String>,
}

impl<'c, 'a> Made<'c, 'a> {
    pub(super) fn new(ctx: &'c Ctx<'a>) -> Self {
        Made {
            ctx,
            nets: Vec::new(),
            containers: Vec::new(),
        }
    }
}

impl Drop for Made<'_, '_> {
    fn drop(&mut self) {
        for c in &self.containers {
            self.ctx.remove(c);
        }
        for n in &self.nets {
            let _ = self
                .ctx
                .client
                .send(Req::delete(format!("/networks/{}", enc(n))));
        }
    }
}

/// Runs `cmd` (probe arguments) in container `id`: exit code and stdout.
pub(super) fn exec(ctx: &Ctx, id: &str, args: &[&str]) -> Result<(i64, String), Problem> {
    let mut cmd = vec![crate::fixture::PROBE_PATH];
    cmd.extend_from_slice(args);
    let resp = ctx.send(
        Req::post(format!("/containers/{}/exec", enc(id)))
            .json(json!({"Cmd": cmd, "AttachStdout": true, "AttachStderr": true})),
    )?;
    expect_status(&resp, 201, "creating an exec")?;
    let eid = json_body(&resp, "exec create")?["Id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let resp =
        ctx.send(Req::post(format!("/exec/{}/start", enc(&eid))).json(json!({"Detach": false})))?;
    expect_status(&resp, 200, "running an exec")?;
    let out = demux(&resp.body).map_err(|e| fail(format!("exec stream: {e}")))?;
    let resp = ctx.send(Req::get(format!("/exec/{}/json", enc(&eid))))?;
    expect_status(&resp, 200, "inspecting an exec")?;
    let code = json_body(&resp, "exec inspect")?["ExitCode"]
        .as_i64()
        .unwrap_or(-1);
    Ok((code, out.stdout_text()))
}

/// One container of a case, as made.
struct Member {
    id: String,
    name: String,
    alias: String,
    /// Network index -> its address there.
    addrs: Vec<(usize, String)>,
}

fn on(m: &Member, net: usize) -> Option<&str> {
    m.addrs
        .iter()
        .find(|(n, _)| *n == net)
        .map(|(_, a)| a.as_str())
}

/// From `from`, `to` must be reachable exactly on the networks they share
/// (`shared`), and resolvable by name and alias exactly when they share one.
fn check_pair(ctx: &Ctx, nets: &[String], from: &Member, to: &Member) -> Outcome {
    let shared: Vec<usize> = to
        .addrs
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| on(from, *n).is_some())
        .collect();
    let mut want_ips: BTreeSet<String> = BTreeSet::new();
    for n in &shared {
        want_ips.extend(on(to, *n).map(String::from));
    }
    // One exec for what must work: the connects to the shared addresses
    // (each a failure ends the chain), then both lookups.
    let mut args: Vec<&str> = Vec::new();
    let reachable: Vec<&(usize, String)> = to
        .addrs
        .iter()
        .filter(|(n, _)| shared.contains(n))
        .collect();
    for (_, ip) in &reachable {
        args.extend(["tcp-connect", ip.as_str(), PORT, "3000", "--"]);
    }
    args.extend([
        "echo",
        "---",
        "--",
        "dns-query",
        &to.name,
        "--",
        "echo",
        "---",
    ]);
    args.extend(["--", "dns-query", &to.alias]);
    let (_, out) = exec(ctx, &from.id, &args)?;
    let mut parts = out.split("---\n");
    let connects: Vec<&str> = parts.next().unwrap_or_default().lines().collect();
    let want: Vec<String> = reachable
        .iter()
        .map(|_| format!("got {}", to.name))
        .collect();
    if connects != want {
        return Err(fail(format!(
            "tcp-connect from {} to {} at {:?} printed {connects:?}; dockerd: {want:?} \
             (they share {:?})",
            from.name,
            to.name,
            reachable.iter().map(|(_, ip)| ip).collect::<Vec<_>>(),
            shared.iter().map(|n| &nets[*n]).collect::<Vec<_>>()
        )));
    }
    for name in [&to.name, &to.alias] {
        let answer = parts.next().unwrap_or_default();
        let got: BTreeSet<String> = answer
            .lines()
            .map(str::trim)
            .filter(|l| l.parse::<std::net::Ipv4Addr>().is_ok())
            .map(String::from)
            .collect();
        // dockerd answers with its address on one of the shared networks.
        let right = if want_ips.is_empty() {
            got.is_empty()
        } else {
            !got.is_empty() && got.is_subset(&want_ips)
        };
        if !right {
            return Err(fail(format!(
                "{} resolved {name} to {got:?} ({answer:?}); dockerd: one of {want_ips:?} (its \
                 addresses on the networks they share: {:?}), none when they share none",
                from.name,
                shared.iter().map(|n| &nets[*n]).collect::<Vec<_>>()
            )));
        }
    }
    // What must not work: each address on a network they do not share
    // (a dropped SYN: the connect times out).
    for (n, ip) in to.addrs.iter().filter(|(n, _)| !shared.contains(n)) {
        let (code, out) = exec(ctx, &from.id, &["tcp-connect", ip, PORT, "400"])?;
        let got = out.trim();
        if code != 1 || got != "unreachable" {
            return Err(fail(format!(
                "tcp-connect from {} to {} at {ip} (on {}, which they do not share) exited \
                 {code} with {got:?}; dockerd: 1, \"unreachable\"",
                from.name, to.name, nets[*n]
            )));
        }
    }
    Ok(())
}

fn run_case(ctx: &Ctx, c: &Case) -> Outcome {
    let mut made = Made::new(ctx);
    for i in 0..c.networks {
        let name = ctx.unique_name(&format!("prop-net{i}"));
        let resp = ctx.send(
            Req::post("/networks/create").json(json!({"Name": name, "Labels": ctx.labels()})),
        )?;
        expect_status(&resp, 201, "creating a network")?;
        made.nets.push(name);
    }
    let nets = made.nets.clone();
    let mut members = Vec::new();
    for (i, on_nets) in c.members.iter().enumerate() {
        let name = ctx.unique_name(&format!("prop-c{i}"));
        let alias = format!("{name}-al");
        let first = &nets[on_nets[0]];
        let mut cfg = ctx.probe_config(&["tcp-serve", PORT, &name])?;
        cfg["HostConfig"] = json!({"NetworkMode": first});
        cfg["NetworkingConfig"] = json!({"EndpointsConfig": {first: {"Aliases": [alias]}}});
        if i == 0 {
            cfg["ExposedPorts"] = json!({ format!("{PORT}/tcp"): {} });
            cfg["HostConfig"]["PortBindings"] =
                json!({ format!("{PORT}/tcp"): [{"HostIp": "127.0.0.1", "HostPort": ""}] });
        }
        let id = ctx.create(cfg, Some(&name))?;
        made.containers.push(id.clone());
        for n in &on_nets[1..] {
            let resp = ctx.send(
                Req::post(format!("/networks/{}/connect", enc(&nets[*n])))
                    .json(json!({"Container": id, "EndpointConfig": {"Aliases": [alias]}})),
            )?;
            expect_status(&resp, 200, "connecting a created container")?;
        }
        ctx.start(&id)?;
        members.push(Member {
            id,
            name,
            alias,
            addrs: Vec::new(),
        });
    }
    for (m, on_nets) in members.iter_mut().zip(&c.members) {
        super::network::wait_listening(ctx, &m.id)?;
        let info = ctx.inspect(&m.id)?;
        for n in on_nets {
            let ip = info["NetworkSettings"]["Networks"][&nets[*n]]["IPAddress"]
                .as_str()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    fail(format!(
                        "{} has no IPAddress on {} in inspect: {}",
                        m.name, nets[*n], info["NetworkSettings"]["Networks"]
                    ))
                })?;
            m.addrs.push((*n, ip.to_string()));
        }
    }
    for a in &members {
        for b in &members {
            if a.id != b.id {
                check_pair(ctx, &nets, a, b)?;
            }
        }
    }
    published(ctx, &members[0])?;
    // One membership goes: the container is cut off there, both ways.
    let all: Vec<(usize, usize)> = c
        .members
        .iter()
        .enumerate()
        .flat_map(|(i, ns)| ns.iter().map(move |n| (i, *n)))
        .collect();
    let (who, net) = all[c.disconnect.index(all.len())];
    let resp = ctx.send(
        Req::post(format!("/networks/{}/disconnect", enc(&nets[net])))
            .json(json!({"Container": members[who].id})),
    )?;
    expect_status(&resp, 200, "disconnecting a running container")?;
    members[who].addrs.retain(|(n, _)| *n != net);
    for (i, other) in members.iter().enumerate() {
        if i != who {
            check_pair(ctx, &nets, &members[who], other)?;
            check_pair(ctx, &nets, other, &members[who])?;
        }
    }
    Ok(())
}

/// The first container's published port answers its name on the host
/// (only when the daemon is local).
fn published(ctx: &Ctx, m: &Member) -> Outcome {
    if !matches!(ctx.client.target(), Target::Unix(_)) {
        return Ok(());
    }
    let info = ctx.inspect(&m.id)?;
    let ports: &Value = &info["NetworkSettings"]["Ports"];
    let port = ports[format!("{PORT}/tcp")][0]["HostPort"]
        .as_str()
        .and_then(|p| p.parse::<u16>().ok())
        .ok_or_else(|| fail(format!("no published HostPort in inspect: {ports}")))?;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| {
        fail(format!(
            "connecting to published port 127.0.0.1:{port}: {e}"
        ))
    })?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut got = String::new();
    let _ = s.read_to_string(&mut got);
    if got != m.name {
        return Err(fail(format!(
            "published port 127.0.0.1:{port} answered {got:?}; dockerd: {:?}",
            m.name
        )));
    }
    Ok(())
}

fn reachability_property(ctx: &Ctx) -> Outcome {
    ctx.image()?;
    // A third of `--cases` (3 by default): each case makes networks and
    // containers and runs a dozen execs.
    let cases = ctx.cases.div_ceil(3);
    property::check_cases(ctx, "network/reachability-property", cases, case(), |c| {
        run_case(ctx, c)
    })
}
