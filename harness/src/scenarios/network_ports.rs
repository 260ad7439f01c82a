//! Published ports (issue 15): how host ports are chosen, the forms a
//! binding takes, and a host port that is already taken.
//!
//! Read off dockerd 20.10.24 with busybox containers (`docker run -p`,
//! `docker port`, the API's start):
//! - `-p 127.0.0.1::80` twice, the first container removed in between:
//!   32768, then 32769. libnetwork's allocator goes on from the last port
//!   it handed out for that address, protocol and range, wrapping at the
//!   end of the host's `ip_local_port_range`; a client still talking to
//!   the old port cannot reach the new container by mistake.
//! - `HostPort` "40110-40112" (a range): the allocator keeps a place per
//!   range too: four containers in turn, each removed before the next, got
//!   40112, 40110, 40111, 40112. Unlike a port of the ephemeral range
//!   (tried again with the next one, up to ten times), a port of a range
//!   that another process holds fails the start with the message below.
//! - `PublishAllPorts` (`-P`): each exposed port that has no binding of
//!   its own gets a port of the ephemeral range on 0.0.0.0 (and :: where
//!   the host has IPv6); the list's `Ports` shows the same.
//! - a fixed host port another process holds: start is 500 "driver failed
//!   programming external connectivity on endpoint NAME (ENDPOINT-ID):
//!   Error starting userland proxy: listen tcp4 127.0.0.1:P: bind: address
//!   already in use"; the container stays `created` with that text as
//!   `State.Error` and no ports, and starts once the port is free.

use serde_json::{json, Value};

use super::network::{host_port, published_answers, wait_listening, PORT};
use super::Scenario;
use crate::client::{enc, Req, Target};
use crate::ground::{expect_status, fail, fail_at, json_body, Ctx, Outcome, Problem};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        super::scenario(
            "network",
            "ephemeral-port-not-reused",
            true,
            ephemeral_port_not_reused,
        ),
        super::scenario("network", "publish-range-and-all", true, range_and_all),
        super::scenario("network", "publish-port-in-use", true, port_in_use),
    ]
}

/// Starts a container publishing `PORT` on 127.0.0.1 with no host port;
/// its id and the host port it got.
fn start_published(ctx: &Ctx) -> Result<(String, u16), Problem> {
    let mut c = ctx.probe_config(&["sleep", "60"])?;
    c["ExposedPorts"] = json!({ format!("{PORT}/tcp"): {} });
    c["HostConfig"] = json!({
        "PortBindings": { format!("{PORT}/tcp"): [{"HostIp": "127.0.0.1", "HostPort": ""}] },
    });
    let id = ctx.create(c, None)?;
    let port = ctx
        .start(&id)
        .and_then(|()| host_port(&ctx.inspect(&id)?["NetworkSettings"]));
    match port {
        Ok(p) => Ok((id, p)),
        Err(e) => {
            ctx.remove(&id);
            Err(e)
        }
    }
}

fn ephemeral_port_not_reused(ctx: &Ctx) -> Outcome {
    let (first, p1) = start_published(ctx)?;
    ctx.remove(&first);
    let (second, p2) = start_published(ctx)?;
    ctx.remove(&second);
    if p2 == p1 {
        return Err(fail(format!(
            "a container published on 127.0.0.1 with no host port got {p1}, the port of one \
             removed just before it; dockerd hands out the next port of its ephemeral range"
        )));
    }
    // A local daemon takes them from the host's ephemeral range.
    if let (Target::Unix(_), Some((lo, hi))) = (ctx.client.target(), ephemeral_range()) {
        for p in [p1, p2] {
            if !(lo..=hi).contains(&p) {
                return Err(fail(format!(
                    "host port {p} is outside the host's ephemeral range {lo}-{hi}"
                )));
            }
        }
    }
    Ok(())
}

fn ephemeral_range() -> Option<(u16, u16)> {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut it = range
        .split_whitespace()
        .filter_map(|x| x.parse::<u16>().ok());
    Some((it.next()?, it.next()?))
}

/// A TCP port on 127.0.0.1 below the ephemeral range (where no daemon
/// hands ports out by itself), free at the moment with the two after it.
fn free_below_ephemeral(ctx: &Ctx) -> Result<u16, Problem> {
    let seed =
        u16::from_str_radix(&ctx.run_id.chars().rev().take(3).collect::<String>(), 16).unwrap_or(0);
    for i in 0..50u16 {
        let base = 21000 + (seed.wrapping_add(i * 97)) % 9000;
        let free = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
        if free(base) && free(base + 1) && free(base + 2) {
            return Ok(base);
        }
    }
    Err(fail(
        "found no three free ports on 127.0.0.1 in 21000-30000",
    ))
}

/// The bindings inspect shows for `key`.
fn bindings<'v>(ns: &'v Value, key: &str) -> Vec<&'v Value> {
    ns["Ports"][key].as_array().into_iter().flatten().collect()
}

/// Creates and starts a tcp-serve probe with `host_config`; its id once
/// it listens (removed again if it does not).
fn serve(ctx: &Ctx, srv: &str, exposed: Value, host_config: Value) -> Result<String, Problem> {
    let mut c = ctx.probe_config(&["tcp-serve", PORT, srv])?;
    c["ExposedPorts"] = exposed;
    c["HostConfig"] = host_config;
    let id = ctx.create(c, None)?;
    match ctx.start(&id).and_then(|()| wait_listening(ctx, &id)) {
        Ok(()) => Ok(id),
        Err(e) => {
            ctx.remove(&id);
            Err(e)
        }
    }
}

fn range_and_all(ctx: &Ctx) -> Outcome {
    if !matches!(ctx.client.target(), Target::Unix(_)) {
        return Err(Problem::Skip(
            "needs the daemon's host: the range must be free there".into(),
        ));
    }
    let base = free_below_ephemeral(ctx)?;
    let range = format!("{base}-{}", base + 2);
    let tcp = format!("{PORT}/tcp");
    let srv = ctx.unique_name("range");
    let binding = json!({ &tcp: [{"HostIp": "127.0.0.1", "HostPort": range}] });
    let first = serve(
        ctx,
        &srv,
        json!({ &tcp: {}, "5000/udp": {} }),
        json!({"PublishAllPorts": true, "PortBindings": binding}),
    )?;
    let res = (|| {
        let info = ctx.inspect(&first)?;
        let ns = &info["NetworkSettings"];
        let p1 = host_port(ns)?;
        if !(base..=base + 2).contains(&p1) {
            return Err(fail(format!(
                "HostPort \"{range}\" gave {p1} ({}); dockerd: a port of the range",
                ns["Ports"]
            )));
        }
        published_answers(p1, &srv, " (a port of a range)")?;
        // -P: the exposed port with no binding of its own gets one.
        let udp = bindings(ns, "5000/udp");
        let v4 = udp
            .iter()
            .find(|b| b["HostIp"] == json!("0.0.0.0"))
            .and_then(|b| b["HostPort"].as_str())
            .and_then(|p| p.parse::<u16>().ok())
            .filter(|p| *p != 0);
        let Some(v4) = v4 else {
            return Err(fail(format!(
                "PublishAllPorts: 5000/udp shows {udp:?}; dockerd binds it on 0.0.0.0 to a port \
                 of the ephemeral range"
            )));
        };
        if bindings(ns, &tcp).len() != 1 {
            return Err(fail(format!(
                "PublishAllPorts added to {tcp}'s own binding: {}; dockerd keeps the one asked for",
                ns["Ports"][&tcp]
            )));
        }
        // The list shows the same ports.
        let filters = json!({"id": [first]}).to_string();
        let resp = ctx.send(Req::get(format!(
            "/containers/json?filters={}",
            enc(&filters)
        )))?;
        expect_status(&resp, 200, "listing the container")?;
        let list = json_body(&resp, "container list")?;
        let ports = &list[0]["Ports"];
        let has = |private: u16, ty: &str, ip: &str, public: u16| {
            ports.as_array().into_iter().flatten().any(|p| {
                p["PrivatePort"] == json!(private)
                    && p["Type"] == json!(ty)
                    && p["IP"] == json!(ip)
                    && p["PublicPort"] == json!(public)
            })
        };
        if !has(5000, "udp", "0.0.0.0", v4) || !has(7777, "tcp", "127.0.0.1", p1) {
            return Err(fail_at(
                &resp,
                format!(
                    "the list's Ports {ports} miss 5000/udp on 0.0.0.0:{v4} or 7777/tcp on \
                     127.0.0.1:{p1}, which inspect shows"
                ),
            ));
        }
        // Removed, its port is free; the next container with the same
        // range still gets the one after it.
        ctx.remove(&first);
        let want = if p1 == base + 2 { base } else { p1 + 1 };
        let second = serve(
            ctx,
            &srv,
            json!({ &tcp: {} }),
            json!({"PortBindings": binding}),
        )?;
        let p2 = host_port(&ctx.inspect(&second)?["NetworkSettings"]);
        ctx.remove(&second);
        let p2 = p2?;
        if p2 != want {
            return Err(fail(format!(
                "the next container with HostPort \"{range}\" got {p2}, after {p1}; dockerd \
                 goes on from the range's last port: {want}"
            )));
        }
        Ok(())
    })();
    ctx.remove(&first);
    res
}

fn port_in_use(ctx: &Ctx) -> Outcome {
    if !matches!(ctx.client.target(), Target::Unix(_)) {
        return Err(Problem::Skip(
            "needs the daemon's host: the port is held there".into(),
        ));
    }
    let held = std::net::TcpListener::bind(("127.0.0.1", 0))
        .map_err(|e| fail(format!("binding a port on 127.0.0.1: {e}")))?;
    let port = held
        .local_addr()
        .map_err(|e| fail(format!("the held port: {e}")))?
        .port();
    let name = ctx.unique_name("inuse");
    let srv = ctx.unique_name("srv");
    let mut c = ctx.probe_config(&["tcp-serve", PORT, &srv])?;
    let tcp = format!("{PORT}/tcp");
    c["ExposedPorts"] = json!({ &tcp: {} });
    c["HostConfig"] = json!({
        "PortBindings": { &tcp: [{"HostIp": "127.0.0.1", "HostPort": port.to_string()}] },
    });
    let id = ctx.create(c, Some(&name))?;
    let res = (|| {
        let resp = ctx.send(Req::post(format!("/containers/{}/start", enc(&id))))?;
        expect_status(&resp, 500, "starting with its host port held")?;
        let msg = json_body(&resp, "start error")?["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let head = format!("driver failed programming external connectivity on endpoint {name} (");
        let tail = format!(
            "): Error starting userland proxy: listen tcp4 127.0.0.1:{port}: bind: address already in use"
        );
        let endpoint = msg
            .strip_prefix(&head)
            .and_then(|m| m.strip_suffix(&tail))
            .unwrap_or_default();
        if endpoint.len() != 64 || !endpoint.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(fail_at(
                &resp,
                format!("start said {msg:?}; dockerd: {head}<endpoint id>{tail}"),
            ));
        }
        let info = ctx.inspect(&id)?;
        let state = &info["State"];
        let ports_empty = info["NetworkSettings"]["Ports"]
            .as_object()
            .is_none_or(|m| m.is_empty());
        if state["Status"] != json!("created") || state["Error"] != json!(msg) || !ports_empty {
            return Err(fail(format!(
                "after the failed start inspect shows Status {}, Error {}, Ports {}; dockerd: \
                 \"created\", the start's message, no ports",
                state["Status"], state["Error"], info["NetworkSettings"]["Ports"]
            )));
        }
        drop(held);
        ctx.start(&id)?;
        wait_listening(ctx, &id)?;
        published_answers(port, &srv, " once it was free")
    })();
    ctx.remove(&id);
    res
}
