//! Container networking as dockerd's bridge driver makes it (issue 15): a
//! container reaches exactly the containers it shares a network with (by
//! address), and a published port is reachable from the host.
//!
//! Expected behaviour read off dockerd 20.10.24 with the probe image: on a
//! user-defined network a container gets an address in inspect's
//! `NetworkSettings.Networks[<name>].IPAddress`; a container on another
//! network (or the default bridge) times out connecting to it; a port
//! published on 127.0.0.1 with an empty HostPort gets a host port from the
//! ephemeral range, shown in `NetworkSettings.Ports`, and answers there.
//!
//! Addresses across restarts, read off dockerd 20.10.24 (`docker restart`,
//! `docker stop`/`start` of busybox containers on a network
//! 10.231.7.0/24): every start takes the lowest free address of the
//! subnet, not the one the container had. With `a` at .2 and `b` at .3,
//! stopping `a` then restarting `b` gives `b` .2; starting `a` again gives
//! it .3; a stopped container shows an empty `IPAddress`.

use super::Scenario;
use crate::client::{enc, Req, Target};
use crate::ground::{expect_status, fail, fail_at, json_body, Ctx, Outcome, Problem};
use serde_json::{json, Value};
use sha2::Digest;
use std::io::Read;
use std::time::Duration;

pub fn scenarios() -> Vec<Scenario> {
    vec![
        super::scenario("network", "reachability", true, reachability),
        super::scenario(
            "network",
            "address-after-restart",
            true,
            address_after_restart,
        ),
    ]
}

pub(super) const PORT: &str = "7777";

fn create_network(ctx: &Ctx, name: &str) -> Result<String, Problem> {
    let resp = ctx
        .send(Req::post("/networks/create").json(json!({"Name": name, "Labels": ctx.labels()})))?;
    expect_status(&resp, 201, "creating a network")?;
    let id = json_body(&resp, "network create response")?
        .get("Id")
        .and_then(Value::as_str)
        .map(String::from)
        .ok_or_else(|| fail("network create response has no Id"))?;
    // The list shows it with dockerd's default driver, "bridge".
    let filters = json!({"id": [id]}).to_string();
    let resp = ctx.send(Req::get(format!("/networks?filters={}", enc(&filters))))?;
    expect_status(&resp, 200, "listing networks")?;
    let list = json_body(&resp, "network list")?;
    let entry = list
        .as_array()
        .into_iter()
        .flatten()
        .find(|n| n["Id"] == json!(id));
    if entry.map(|n| &n["Driver"]) != Some(&json!("bridge")) {
        remove_network(ctx, &id);
        return Err(fail_at(
            &resp,
            format!("GET /networks lists the new network as {entry:?}; dockerd: Driver \"bridge\""),
        ));
    }
    Ok(id)
}

fn remove_network(ctx: &Ctx, id: &str) {
    let _ = ctx
        .client
        .send(Req::delete(format!("/networks/{}", enc(id))));
}

/// Runs the probe's tcp-connect to the server port on network `net`:
/// Some(reply) or None when unreachable.
fn connect_from(ctx: &Ctx, net: &str, ip: &str) -> Result<Option<String>, Problem> {
    tcp_connect(ctx, net, ip, PORT)
}

/// Runs the probe's tcp-connect to `ip`:`port` from a container on network
/// `net`: Some(reply) or None when unreachable.
pub(super) fn tcp_connect(
    ctx: &Ctx,
    net: &str,
    ip: &str,
    port: &str,
) -> Result<Option<String>, Problem> {
    let mut c = ctx.probe_config(&["tcp-connect", ip, port, "1500"])?;
    c["HostConfig"] = json!({"NetworkMode": net});
    let id = ctx.create(c, None)?;
    let res = (|| {
        ctx.start(&id)?;
        let code = ctx.wait(&id)?;
        let out = ctx.logs(&id)?.stdout_text();
        match (code, out.trim()) {
            (0, o) => Ok(Some(o.trim_start_matches("got ").to_string())),
            (1, "unreachable") => Ok(None),
            (c, o) => Err(fail(format!("tcp-connect from {net} exited {c}: {o:?}"))),
        }
    })();
    ctx.remove(&id);
    res
}

/// Waits until the probe's tcp-serve in container `id` says it listens.
pub(super) fn wait_listening(ctx: &Ctx, id: &str) -> Outcome {
    let listening = ctx.poll(Duration::from_secs(10), || {
        Ok(ctx
            .logs(id)?
            .stdout_text()
            .contains("listening")
            .then_some(()))
    })?;
    if listening.is_none() {
        return Err(fail("the server probe never said it was listening"));
    }
    Ok(())
}

fn reachability(ctx: &Ctx) -> Outcome {
    let n1 = ctx.unique_name("net-a");
    let n2 = ctx.unique_name("net-b");
    let id1 = create_network(ctx, &n1)?;
    let id2 = match create_network(ctx, &n2) {
        Ok(id) => id,
        Err(e) => {
            remove_network(ctx, &id1);
            return Err(e);
        }
    };
    let mut server = String::new();
    // The server answers a text of this scenario's own: another daemon on
    // the host (a second engine, say) may hold the same subnet for a
    // moment, and a packet routed to its bridge reaches its container, not
    // ours (seen: dockerd's net-b "reached" 192.168.32.2, which answered
    // another run's "srv"). Only our text means our container was reached.
    let srv = ctx.unique_name("srv");
    let res = (|| {
        let mut c = ctx.probe_config(&["tcp-serve", PORT, &srv])?;
        c["ExposedPorts"] = json!({ format!("{PORT}/tcp"): {} });
        c["HostConfig"] = json!({
            "NetworkMode": n1,
            "PortBindings": { format!("{PORT}/tcp"): [{"HostIp": "127.0.0.1", "HostPort": ""}] },
        });
        server = ctx.create(c, None)?;
        ctx.start(&server)?;
        wait_listening(ctx, &server)?;
        let info = ctx.inspect(&server)?;
        let ns = &info["NetworkSettings"];
        let ip = ns["Networks"][&n1]["IPAddress"]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| fail(format!("no IPAddress on {n1} in inspect: {ns}")))?
            .to_string();
        // Same network: reachable.
        match connect_from(ctx, &n1, &ip)? {
            Some(r) if r == srv => {}
            other => {
                return Err(fail(format!(
                "a container on the same network got {other:?} from {ip}:{PORT}, expected {srv:?}"
            )))
            }
        }
        // Another network, and the default bridge: cut off from our server.
        for net in [n2.as_str(), "bridge"] {
            match connect_from(ctx, net, &ip)? {
                Some(r) if r == srv => {
                    return Err(fail(format!(
                        "a container on {net} reached {ip}:{PORT} on {n1} (got {r:?}); networks must be isolated"
                    )));
                }
                Some(other) => ctx.note(format!(
                    "from {net}, {ip}:{PORT} answered {other:?}, not this scenario's server: \
                     another daemon held the subnet at that moment"
                )),
                None => {}
            }
        }
        // The published port, from the host (only when the daemon is local).
        if matches!(ctx.client.target(), Target::Unix(_)) {
            published_answers(host_port(ns)?, &srv, "")?;
            // Moved to the other network while it runs, the container keeps
            // its published port, now forwarded through that network
            // (dockerd 20.10.24: connect b, disconnect a, the port answers;
            // an ephemeral one is allocated again there, so read it again).
            for (verb, net) in [("connect", &n2), ("disconnect", &n1)] {
                let resp = ctx.send(
                    Req::post(format!("/networks/{}/{verb}", enc(net)))
                        .json(json!({"Container": server})),
                )?;
                expect_status(&resp, 200, &format!("network {verb} {net}"))?;
            }
            let port = host_port(&ctx.inspect(&server)?["NetworkSettings"])?;
            published_answers(port, &srv, &format!(" after moving from {n1} to {n2}"))?;
        }
        Ok(())
    })();
    if !server.is_empty() {
        ctx.remove(&server);
    }
    remove_network(ctx, &id2);
    remove_network(ctx, &id1);
    res
}

/// The host port published for the server's port, from inspect's
/// `NetworkSettings`.
pub(super) fn host_port(ns: &Value) -> Result<u16, Problem> {
    ns["Ports"][format!("{PORT}/tcp")][0]["HostPort"]
        .as_str()
        .and_then(|p| p.parse::<u16>().ok())
        .ok_or_else(|| fail(format!("no published HostPort in inspect: {}", ns["Ports"])))
}

/// Connects to a published port on the host's loopback; the server's text
/// must come back.
pub(super) fn published_answers(port: u16, srv: &str, when: &str) -> Outcome {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| {
        fail(format!(
            "connecting to published port 127.0.0.1:{port}{when}: {e}"
        ))
    })?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut got = String::new();
    let _ = s.read_to_string(&mut got);
    if got != srv {
        return Err(fail(format!(
            "published port 127.0.0.1:{port}{when} answered {got:?}, expected {srv:?}"
        )));
    }
    Ok(())
}

/// The IPv4 address of container `id` on network `net`, as inspect shows it.
fn address_on(ctx: &Ctx, id: &str, net: &str) -> Result<String, Problem> {
    let info = ctx.inspect(id)?;
    Ok(info["NetworkSettings"]["Networks"][net]["IPAddress"]
        .as_str()
        .unwrap_or_default()
        .to_string())
}

fn address_after_restart(ctx: &Ctx) -> Outcome {
    let name = ctx.unique_name("net-restart");
    let h = sha2::Sha256::digest(format!("{}restart", ctx.run_id).as_bytes());
    let prefix = format!("10.214.{}", h[0]);
    let resp = ctx.send(Req::post("/networks/create").json(json!({"Name": name,
        "Labels": ctx.labels(), "IPAM": {"Config": [{"Subnet": format!("{prefix}.0/24")}]}})))?;
    expect_status(&resp, 201, "creating a network")?;
    let mut made: Vec<String> = Vec::new();
    let res = (|| {
        for _ in 0..2 {
            let mut c = ctx.probe_config(&["sleep", "300"])?;
            c["HostConfig"] = json!({"NetworkMode": name});
            let id = ctx.create(c, None)?;
            made.push(id.clone());
            ctx.start(&id)?;
        }
        let (a, b) = (made[0].clone(), made[1].clone());
        let check = |id: &str, want: &str, when: &str| -> Outcome {
            let got = address_on(ctx, id, &name)?;
            if got != want {
                return Err(fail(format!(
                    "{when}: the container's IPAddress is {got:?}; dockerd: {want:?} (the \
                     lowest free address of the subnet at each start)"
                )));
            }
            Ok(())
        };
        check(&a, &format!("{prefix}.2"), "first container")?;
        check(&b, &format!("{prefix}.3"), "second container")?;
        let resp = ctx.stop(&a, 0)?;
        expect_status(&resp, 204, "stopping the first container")?;
        check(&a, "", "first container, stopped")?;
        let resp = ctx.send(Req::post(format!("/containers/{}/restart?t=0", enc(&b))))?;
        expect_status(&resp, 204, "restarting the second container")?;
        check(&b, &format!("{prefix}.2"), "second container, restarted")?;
        ctx.start(&a)?;
        check(&a, &format!("{prefix}.3"), "first container, started again")
    })();
    for id in &made {
        ctx.remove(id);
    }
    remove_network(ctx, &name);
    res
}
