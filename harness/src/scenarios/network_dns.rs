//! DNS on networks (issue 15): the embedded resolver of user-defined
//! networks, and the resolver and hosts options containers are given.
//!
//! Every expected value was read off dockerd 20.10.24 running the probe
//! image (its `dns-query` subcommand sends a raw UDP query: the image has no
//! resolver library):
//! - on a user-defined network a container's /etc/resolv.conf names
//!   `nameserver 127.0.0.11`, and that resolver answers the names of the
//!   containers on the same network: container name, `--network-alias`,
//!   `name.network`, and PTR for their addresses (`name.network`), but not
//!   the names of containers on other networks;
//! - `--dns`, `--dns-search` and `--dns-option` are written to
//!   /etc/resolv.conf (on a user-defined network the nameserver stays
//!   127.0.0.11 and `ndots:0` is added), `--add-host` lines go to
//!   /etc/hosts after the standard entries, `host-gateway` standing for the
//!   default bridge's gateway;
//! - a started container's aliases on a user-defined network are those
//!   asked for, then its short ID, then its `Hostname` (each once), and the
//!   resolver answers the hostname (moby's `TestHostnameDnsResolution`;
//!   dockerd showed `Aliases: ["x1", "<short id>", "foobar"]` for
//!   `--hostname foobar --network-alias x1`).

use super::Scenario;
use crate::client::{enc, Req};
use crate::ground::{expect_status, fail, json_body, Ctx, Outcome, Problem};
use serde_json::{json, Value};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        super::scenario("network", "dns-names-on-user-network", true, names),
        super::scenario("network", "dns-resolv-conf-options", true, resolv_conf),
        super::scenario("network", "dns-extra-hosts", true, extra_hosts),
        super::scenario("network", "dns-hostname-alias", true, hostname_alias),
        super::scenario("network", "dns-link-alias", true, link_alias),
    ]
}

/// A user-defined bridge network with this run's label; its name.
pub(super) fn create_network(ctx: &Ctx, what: &str) -> Result<String, Problem> {
    let name = ctx.unique_name(what);
    let resp = ctx.send(Req::post("/networks/create").json(json!({
        "Name": name,
        "CheckDuplicate": true,
        "Labels": ctx.labels(),
    })))?;
    expect_status(&resp, 201, "creating a network")?;
    Ok(name)
}

pub(super) fn remove_network(ctx: &Ctx, name: &str) {
    let _ = ctx
        .client
        .send(Req::delete(format!("/networks/{}", enc(name))));
}

/// A probe container on `network` (with these aliases), created and
/// started; its id.
pub(super) fn start_on(
    ctx: &Ctx,
    name: &str,
    network: &str,
    aliases: &[&str],
    args: &[&str],
) -> Result<String, Problem> {
    let mut c = ctx.probe_config(args)?;
    c["HostConfig"] = json!({ "NetworkMode": network });
    c["NetworkingConfig"] = json!({ "EndpointsConfig": { network: { "Aliases": aliases } } });
    let id = ctx.create(c, Some(name))?;
    if let Err(e) = ctx.start(&id) {
        ctx.remove(&id);
        return Err(e);
    }
    Ok(id)
}

/// The address of container `id` on `network`, from inspect.
pub(super) fn address_on(ctx: &Ctx, id: &str, network: &str) -> Result<String, Problem> {
    let c = ctx.inspect(id)?;
    c["NetworkSettings"]["Networks"][network]["IPAddress"]
        .as_str()
        .filter(|ip| !ip.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            fail(format!(
                "inspect has no NetworkSettings.Networks[{network:?}].IPAddress: {}",
                c["NetworkSettings"]
            ))
        })
}

/// Runs a probe container on `network` to its end; its exit code, stdout
/// and stderr.
pub(super) fn run_on(
    ctx: &Ctx,
    network: &str,
    args: &[&str],
) -> Result<(i64, String, String), Problem> {
    let mut c = ctx.probe_config(args)?;
    c["HostConfig"] = json!({ "NetworkMode": network });
    let id = ctx.create(c, None)?;
    let res = (|| {
        ctx.start(&id)?;
        let code = ctx.wait(&id)?;
        let logs = ctx.logs(&id)?;
        Ok((code, logs.stdout_text(), logs.stderr_text()))
    })();
    ctx.remove(&id);
    res
}

fn names(ctx: &Ctx) -> Outcome {
    let mut networks = Vec::new();
    let mut containers = Vec::new();
    let res = (|| {
        let net = create_network(ctx, "dns-net")?;
        networks.push(net.clone());
        let other = create_network(ctx, "dns-other")?;
        networks.push(other.clone());
        let server = ctx.unique_name("dns-srv");
        let alias = format!("{server}-alias");
        let id = start_on(ctx, &server, &net, &[&alias], &["sleep", "60"])?;
        containers.push(id.clone());
        let stranger = ctx.unique_name("dns-far");
        let far = start_on(ctx, &stranger, &other, &[], &["sleep", "60"])?;
        containers.push(far.clone());
        let ip = address_on(ctx, &id, &net)?;
        let far_ip = address_on(ctx, &far, &other)?;

        // By name, by alias, by name.network, and the PTR of its address.
        let scoped = format!("{server}.{net}");
        let (code, out, err) = run_on(
            ctx,
            &net,
            &[
                "read",
                "/etc/resolv.conf",
                "--",
                "echo",
                "---",
                "--",
                "dns-query",
                &server,
                "--",
                "dns-query",
                &alias,
                "--",
                "dns-query",
                &scoped,
                "--",
                "dns-query",
                &ip,
            ],
        )?;
        let (conf, answers) = out.split_once("---\n").unwrap_or((out.as_str(), ""));
        let want = format!("{ip}\n{ip}\n{ip}\n{scoped}\n");
        let first_ns = conf.lines().find(|l| l.starts_with("nameserver"));
        if code != 0 || first_ns != Some("nameserver 127.0.0.11") || answers != want {
            return Err(fail(format!(
                "a container on {net} (exit {code}) read /etc/resolv.conf {conf:?} and \
                 resolved {server}, {alias}, {scoped}, {ip}: {answers:?}, stderr {err:?}"
            ))
            .note(format!(
                "dockerd: nameserver 127.0.0.11 first, then the answers {want:?}"
            )));
        }

        // A container on another network is not known on this one.
        let (code, out, err) = run_on(ctx, &net, &["dns-query", &stranger])?;
        if code == 0 && out.lines().any(|l| l == far_ip) {
            return Err(fail(format!(
                "a container on {net} resolved {stranger} (only on {other}) to {out:?}"
            ))
            .note(format!(
                "dockerd: no answer from 127.0.0.11 (the name is not on {net}; stderr {err:?})"
            )));
        }
        Ok(())
    })();
    for id in &containers {
        ctx.remove(id);
    }
    for n in &networks {
        remove_network(ctx, n);
    }
    res
}

fn dns_host_config(network: &str) -> Value {
    json!({
        "NetworkMode": network,
        "Dns": ["192.0.2.1"],
        "DnsSearch": ["a.example"],
        "DnsOptions": ["timeout:1", "attempts:2"],
    })
}

fn resolv_conf(ctx: &Ctx) -> Outcome {
    // On the default bridge: the options as given (no host value leaks in
    // when all three are set).
    let mut c = ctx.probe_config(&["read", "/etc/resolv.conf"])?;
    c["HostConfig"] = dns_host_config("bridge");
    let got = ctx.config_output(c)?;
    let want = "search a.example\nnameserver 192.0.2.1\noptions timeout:1 attempts:2\n";
    if got != want {
        return Err(fail(format!(
            "/etc/resolv.conf with --dns, --dns-search and --dns-option on the default bridge: {got:?}"
        ))
        .note(format!("dockerd: {want:?}")));
    }
    // On a user-defined network: the embedded resolver, and ndots:0 after
    // the container's own options.
    let net = create_network(ctx, "dns-conf")?;
    let res = (|| {
        let mut c = ctx.probe_config(&["read", "/etc/resolv.conf"])?;
        c["HostConfig"] = dns_host_config(&net);
        let got = ctx.config_output(c)?;
        let want =
            "search a.example\nnameserver 127.0.0.11\noptions timeout:1 attempts:2 ndots:0\n";
        if got != want {
            return Err(fail(format!(
                "/etc/resolv.conf with --dns, --dns-search and --dns-option on a user-defined network: {got:?}"
            ))
            .note(format!("dockerd: {want:?}")));
        }
        Ok(())
    })();
    remove_network(ctx, &net);
    res
}

/// The default bridge's gateway: IPAM's Gateway, else the subnet's first
/// address (dockerd 20.10 lists only the subnet).
fn bridge_gateway(ctx: &Ctx) -> Result<String, Problem> {
    let resp = ctx.send(Req::get("/networks/bridge"))?;
    expect_status(&resp, 200, "inspecting the default bridge")?;
    let body = json_body(&resp, "network inspect")?;
    let cfg = &body["IPAM"]["Config"][0];
    if let Some(gw) = cfg["Gateway"].as_str().filter(|g| !g.is_empty()) {
        return Ok(gw.to_string());
    }
    let subnet = cfg["Subnet"].as_str().unwrap_or("");
    nth_address(subnet, 1)
        .map_err(|_| fail(format!("the default bridge has no IPv4 subnet: {body}")))
}

/// The `n`th address of `subnet` ("a.b.c.d/p").
pub(super) fn nth_address(subnet: &str, n: u32) -> Result<String, Problem> {
    let base: std::net::Ipv4Addr = subnet
        .split('/')
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| fail(format!("not an IPv4 subnet: {subnet}")))?;
    Ok(std::net::Ipv4Addr::from(u32::from(base) + n).to_string())
}

fn extra_hosts(ctx: &Ctx) -> Outcome {
    let gw = bridge_gateway(ctx)?;
    let mut c = ctx.probe_config(&["read", "/etc/hosts"])?;
    c["HostConfig"] = json!({
        "ExtraHosts": ["one:192.0.2.9", "six:fd00::5", "one:192.0.2.10", "gw:host-gateway"],
    });
    let got = ctx.config_output(c)?;
    let want = format!("192.0.2.9\tone\nfd00::5\tsix\n192.0.2.10\tone\n{gw}\tgw\n");
    // After the 6 standard lines, before the container's own line.
    let lines: Vec<&str> = got.lines().collect();
    let extra = lines
        .get(6..lines.len().saturating_sub(1))
        .map(|l| l.join("\n") + "\n")
        .unwrap_or_default();
    if extra != want {
        return Err(
            fail(format!("/etc/hosts with --add-host: {got:?}")).note(format!(
                "dockerd: the standard entries, then {want:?}, then the container's own line"
            )),
        );
    }
    Ok(())
}

fn hostname_alias(ctx: &Ctx) -> Outcome {
    let mut containers = Vec::new();
    let mut networks = Vec::new();
    let res = (|| {
        let net = create_network(ctx, "dns-host")?;
        networks.push(net.clone());
        let hostname = ctx.unique_name("host");
        let mut c = ctx.probe_config(&["sleep", "60"])?;
        c["Hostname"] = json!(hostname);
        c["HostConfig"] = json!({ "NetworkMode": net });
        c["NetworkingConfig"] = json!({ "EndpointsConfig": { &net: { "Aliases": ["x1"] } } });
        let id = ctx.create(c, None)?;
        containers.push(id.clone());
        ctx.start(&id)?;
        let short = id.get(..12).unwrap_or(&id).to_string();
        let aliases = ctx.inspect(&id)?["NetworkSettings"]["Networks"][&net]["Aliases"].clone();
        let want = json!(["x1", short, hostname]);
        if aliases != want {
            return Err(fail(format!(
                "a started container with Hostname {hostname:?} and alias x1 on {net} has Aliases {aliases}"
            ))
            .note(format!("dockerd: {want}")));
        }
        let ip = address_on(ctx, &id, &net)?;
        let (code, out, err) = run_on(ctx, &net, &["dns-query", &hostname])?;
        if code != 0 || out != format!("{ip}\n") {
            return Err(fail(format!(
                "resolving the hostname {hostname:?} on {net}: exit {code}, {out:?}, stderr {err:?}"
            ))
            .note(format!("dockerd: the container's address {ip}")));
        }
        Ok(())
    })();
    for id in &containers {
        ctx.remove(id);
    }
    for n in &networks {
        remove_network(ctx, n);
    }
    res
}

/// A link on a user-defined network (`EndpointConfig.Links`
/// `["TARGET:ALIAS"]`, docker-py's test_create_with_links) makes ALIAS a
/// name of TARGET in the linking container's embedded resolver, and only
/// there (dockerd 20.10.24: the probe's `dns-query ALIAS` answers TARGET's
/// address on the network from the linking container, nothing from
/// another container on the same network).
fn link_alias(ctx: &Ctx) -> Outcome {
    let net = create_network(ctx, "dnslink")?;
    let res = (|| {
        let target = ctx.unique_name("dnslink-target");
        let tid = start_on(ctx, &target, &net, &[], &["sleep", "300"])?;
        let res = (|| {
            let ip = address_on(ctx, &tid, &net)?;
            let mut c = ctx.probe_config(&["dns-query", "linkalias"])?;
            c["HostConfig"] = json!({ "NetworkMode": net });
            c["NetworkingConfig"] = json!({ "EndpointsConfig": { &net: {
                "Links": [format!("{target}:linkalias")] } } });
            let id = ctx.create(c, None)?;
            let linked = (|| {
                ctx.start(&id)?;
                ctx.wait(&id)?;
                Ok::<_, Problem>(ctx.logs(&id)?.stdout_text())
            })();
            ctx.remove(&id);
            let linked = linked?;
            if linked.lines().collect::<Vec<_>>() != [ip.as_str()] {
                return Err(fail(format!(
                    "dns-query linkalias from the linking container answered {linked:?}; \
                     dockerd: {ip} (the linked container's address)"
                )));
            }
            let (_, other, _) = run_on(ctx, &net, &["dns-query", "linkalias"])?;
            if other.lines().any(|l| l == ip) {
                return Err(fail(format!(
                    "dns-query linkalias from a container without the link answered {other:?}; \
                     dockerd: no address (the alias is the linking container's alone)"
                )));
            }
            Ok(())
        })();
        ctx.remove(&tid);
        res
    })();
    remove_network(ctx, &net);
    res
}
