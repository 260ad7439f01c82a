//! Connecting and disconnecting containers (issue 15), live and not.
//!
//! Every expectation was read off dockerd 20.10.24 (API 1.41) with the
//! probe image:
//! - `POST /networks/{id}/connect` on a running container, with `Aliases`
//!   and `IPAMConfig.IPv4Address` (allowed only on a network whose subnet
//!   the user gave), answers 200: inspect then shows the address, the
//!   requested address in `IPAMConfig` and the aliases followed by the
//!   short ID; containers on that network reach it by address and resolve
//!   the alias; a `connect` event names the container. Connecting again
//!   answers 403 "endpoint with name NAME already exists in network NET".
//! - `disconnect` answers 200; the network leaves inspect, the address
//!   stops answering and the alias stops resolving (NXDOMAIN); a
//!   `disconnect` event names the container; disconnecting again answers
//!   500 "container ID is not connected to network NET" (for a created
//!   container: "... to the network NET", NET as given).
//! - A created container can leave its own network (docker-compose does so
//!   to reconnect it with its aliases): `NetworkMode` stays, the network
//!   leaves `NetworkSettings.Networks`; connecting back with aliases shows
//!   them followed by the short ID, and once started the aliases resolve.
//!   With `EndpointConfig.MacAddress` on that connect (2026-12-04), inspect
//!   shows it until the start; once started the MAC is the one made from
//!   the address (02:42 and its bytes): API 1.41 does not apply it.
//! - The refusals: see [`errors`]. Not checked: dockerd answers 200 to
//!   connecting a created container to a network that does not exist (it
//!   records the name; the start fails), where the engine answers 404
//!   "network NAME not found".
//! - Connecting a running container (on a user network) to the default
//!   bridge (2026-12-04): the bridge entry shows `IPAMConfig`, `Links`,
//!   `Aliases` and `DriverOpts` as sent. With the docker CLI 28's body
//!   (`IPAMConfig: {}`, `Links: null`, `Aliases: []`, `DriverOpts: {}` and
//!   empty strings/zeros for the rest): `{}`, null, `[]`, `{}`; with a bare
//!   `{"Container": id}`: all four null.
//! - Create with two `EndpointsConfig` entries: 400 "Container cannot be
//!   connected to network endpoints: A, B" (the names in Go map order).

use super::network::wait_listening;
use super::network_dns::{
    address_on, create_network, nth_address, remove_network, run_on, start_on,
};
use super::protocol::{events, now_secs};
use super::Scenario;
use crate::client::{enc, Req};
use crate::ground::{expect_status, fail, fail_at, json_body, Ctx, Outcome, Problem};
use serde_json::{json, Value};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        super::scenario("network", "connect-live", true, live),
        super::scenario("network", "connect-created", true, created),
        super::scenario("network", "connect-errors", true, errors),
        super::scenario("network", "create-several-endpoints", true, several),
        super::scenario("network", "connect-bridge-as-sent", true, bridge_as_sent),
    ]
}

const PORT: &str = "7778";

/// Objects a scenario made, removed at its end whatever happened.
#[derive(Default)]
struct Made {
    containers: Vec<String>,
    networks: Vec<String>,
}

impl Made {
    fn clean(&self, ctx: &Ctx) {
        for id in &self.containers {
            ctx.remove(id);
        }
        for n in &self.networks {
            remove_network(ctx, n);
        }
    }
}

fn post(
    ctx: &Ctx,
    net: &str,
    action: &str,
    body: Value,
) -> Result<crate::client::Response, Problem> {
    ctx.send(Req::post(format!("/networks/{}/{action}", enc(net))).json(body))
}

/// Expects `status` and dockerd's exact `message`.
fn expect_error(resp: &crate::client::Response, status: u16, message: &str, what: &str) -> Outcome {
    let got = json_body(resp, what)
        .ok()
        .and_then(|b| b["message"].as_str().map(String::from));
    if resp.status != status || got.as_deref() != Some(message) {
        return Err(fail_at(
            resp,
            format!("{what}: dockerd answers {status} {{\"message\": {message:?}}}"),
        ));
    }
    Ok(())
}

/// A network with a subnet given by the user (static addresses need one):
/// the subnet a throwaway network got from the pool, freed and reused.
fn network_with_subnet(
    ctx: &Ctx,
    made: &mut Made,
    what: &str,
) -> Result<(String, String), Problem> {
    let mut last = None;
    for _ in 0..3 {
        let scratch = create_network(ctx, &format!("{what}-scratch"))?;
        let resp = ctx.send(Req::get(format!("/networks/{}", enc(&scratch))))?;
        remove_network(ctx, &scratch);
        expect_status(&resp, 200, "inspecting a network")?;
        let subnet = json_body(&resp, "network inspect")?["IPAM"]["Config"][0]["Subnet"]
            .as_str()
            .map(String::from)
            .ok_or_else(|| fail_at(&resp, "network inspect shows no IPAM.Config[0].Subnet"))?;
        let name = ctx.unique_name(what);
        let resp = ctx.send(Req::post("/networks/create").json(json!({
            "Name": name,
            "Labels": ctx.labels(),
            "IPAM": {"Config": [{"Subnet": subnet}]},
        })))?;
        if resp.status == 201 {
            made.networks.push(name.clone());
            return Ok((name, subnet));
        }
        // Another client took the subnet meanwhile: try again.
        last = Some(resp);
    }
    match last {
        Some(resp) => Err(fail_at(&resp, "creating a network with a given subnet")),
        None => Err(fail("no network with a given subnet")),
    }
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// The probe's answers from a fresh container on `net`: resolving `name`
/// (its addresses, or none) and connecting to `ip` (what it got, or None).
fn look_from(
    ctx: &Ctx,
    net: &str,
    name: &str,
    ip: &str,
) -> Result<(Vec<String>, Option<String>), Problem> {
    let (_, out, _) = run_on(ctx, net, &["dns-query", name])?;
    let addrs = out.lines().map(String::from).collect();
    let (code, out, err) = run_on(ctx, net, &["tcp-connect", ip, PORT, "1500"])?;
    let reached = match (code, out.trim()) {
        (0, o) => Some(o.trim_start_matches("got ").to_string()),
        (1, "unreachable") => None,
        (c, o) => {
            return Err(fail(format!(
                "tcp-connect from {net} exited {c}: {o:?} {err:?}"
            )))
        }
    };
    Ok((addrs, reached))
}

fn live(ctx: &Ctx) -> Outcome {
    let mut made = Made::default();
    let res = live_in(ctx, &mut made);
    made.clean(ctx);
    res
}

fn live_in(ctx: &Ctx, made: &mut Made) -> Outcome {
    let (net, subnet) = network_with_subnet(ctx, made, "conn-live")?;
    let home = create_network(ctx, "conn-home")?;
    made.networks.push(home.clone());
    let name = ctx.unique_name("conn-srv");
    let id = start_on(ctx, &name, &home, &[], &["tcp-serve", PORT, "srv"])?;
    made.containers.push(id.clone());
    wait_listening(ctx, &id)?;
    let since = now_secs().saturating_sub(1);
    let ip = nth_address(&subnet, 200)?;
    let alias = format!("{name}-live");
    let resp = post(
        ctx,
        &net,
        "connect",
        json!({"Container": id, "EndpointConfig": {"Aliases": [alias], "IPAMConfig": {"IPv4Address": ip}}}),
    )?;
    expect_status(
        &resp,
        200,
        "connecting a running container with an alias and an address",
    )?;
    // The events are asked for in two windows, each right after its
    // action: dockerd replays only its last 256 events, and on a busy or
    // shared daemon a connect is pushed out of them within the seconds
    // the lookups below take (seen: only the disconnects came back).
    let filters = json!({"type": ["network"], "network": [net]});
    network_events(ctx, since, &filters, &id, &["connect"])?;
    let since = now_secs();

    let info = ctx.inspect(&id)?;
    let ep = &info["NetworkSettings"]["Networks"][&net];
    let want_aliases = json!([alias, short(&id)]);
    if ep["IPAddress"] != json!(ip)
        || ep["IPAMConfig"]["IPv4Address"] != json!(ip)
        || ep["Aliases"] != want_aliases
        || info["NetworkSettings"]["Networks"][&home].is_null()
    {
        return Err(fail(format!(
            "inspect after a live connect: NetworkSettings.Networks = {}",
            info["NetworkSettings"]["Networks"]
        ))
        .note(format!(
            "dockerd: {net} with IPAddress and IPAMConfig.IPv4Address {ip}, Aliases {want_aliases}; {home} still there"
        )));
    }
    let (addrs, reached) = look_from(ctx, &net, &alias, &ip)?;
    if addrs != [ip.clone()] || reached.as_deref() != Some("srv") {
        return Err(fail(format!(
            "from {net} after the live connect: {alias} resolved to {addrs:?}, {ip}:{PORT} gave {reached:?}"
        ))
        .note(format!("dockerd: [{ip:?}] and Some(\"srv\")")));
    }
    let again = post(ctx, &net, "connect", json!({"Container": id}))?;
    expect_error(
        &again,
        403,
        &format!("endpoint with name {name} already exists in network {net}"),
        "connecting twice",
    )?;

    let resp = post(ctx, &net, "disconnect", json!({"Container": id}))?;
    expect_status(&resp, 200, "disconnecting a running container")?;
    let info = ctx.inspect(&id)?;
    let nets = &info["NetworkSettings"]["Networks"];
    if !nets[&net].is_null() || nets[&home].is_null() {
        return Err(
            fail(format!("inspect after the disconnect: Networks = {nets}"))
                .note(format!("dockerd: only {home} is left")),
        );
    }
    let (addrs, reached) = look_from(ctx, &net, &alias, &ip)?;
    if addrs.contains(&ip) || reached.is_some() {
        return Err(fail(format!(
            "from {net} after the disconnect: {alias} resolved to {addrs:?}, {ip}:{PORT} gave {reached:?}"
        ))
        .note("dockerd: the alias is unknown (NXDOMAIN) and the address unreachable"));
    }
    let again = post(ctx, &net, "disconnect", json!({"Container": id}))?;
    expect_error(
        &again,
        500,
        &format!("container {id} is not connected to network {net}"),
        "disconnecting a running container twice",
    )?;

    // From just after the connect's window: the refused second connect
    // and the two disconnects.
    network_events(ctx, since, &filters, &id, &["disconnect"])
}

/// The network events since `since` naming container `id`, repeats
/// folded, must be `want` (dockerd 20.10 sends a disconnect twice).
fn network_events(ctx: &Ctx, since: u64, filters: &Value, id: &str, want: &[&str]) -> Outcome {
    let (resp, evs) = events(ctx, since, filters.clone())?;
    let mut actions: Vec<&str> = evs
        .iter()
        .filter(|e| e["Actor"]["Attributes"]["container"] == json!(id))
        .filter_map(|e| e["Action"].as_str())
        .collect();
    actions.dedup();
    if actions != want {
        let seen: Vec<String> = evs
            .iter()
            .map(|e| format!("{} {}", e["Action"], e["Actor"]["Attributes"]["container"]))
            .collect();
        return Err(fail_at(
            &resp,
            format!("network events naming the container {id}: {actions:?} (all: {seen:?}); dockerd: {want:?} (a disconnect twice)"),
        ));
    }
    Ok(())
}

fn created(ctx: &Ctx) -> Outcome {
    let mut made = Made::default();
    let res = created_in(ctx, &mut made);
    made.clean(ctx);
    res
}

fn created_in(ctx: &Ctx, made: &mut Made) -> Outcome {
    let net = create_network(ctx, "conn-own")?;
    made.networks.push(net.clone());
    let name = ctx.unique_name("conn-created");
    let mut c = ctx.probe_config(&["sleep", "60"])?;
    c["HostConfig"] = json!({"NetworkMode": net});
    let id = ctx.create(c, Some(&name))?;
    made.containers.push(id.clone());

    let resp = post(ctx, &net, "disconnect", json!({"Container": id}))?;
    expect_status(
        &resp,
        200,
        "disconnecting a created container from its own network",
    )?;
    let info = ctx.inspect(&id)?;
    if !info["NetworkSettings"]["Networks"][&net].is_null()
        || info["HostConfig"]["NetworkMode"] != json!(net)
    {
        return Err(fail(format!(
            "inspect after leaving its own network: NetworkMode {}, Networks {}",
            info["HostConfig"]["NetworkMode"], info["NetworkSettings"]["Networks"]
        ))
        .note(format!(
            "dockerd: NetworkMode stays {net:?}, Networks has no {net}"
        )));
    }
    let again = post(ctx, &net, "disconnect", json!({"Container": id}))?;
    expect_error(
        &again,
        500,
        &format!("container {id} is not connected to the network {net}"),
        "disconnecting a created container twice",
    )?;

    let alias = format!("{name}-svc");
    let resp = post(
        ctx,
        &net,
        "connect",
        json!({"Container": id, "EndpointConfig": {"Aliases": [alias], "MacAddress": GIVEN_MAC}}),
    )?;
    expect_status(
        &resp,
        200,
        "connecting a created container back with an alias and a MAC",
    )?;
    let info = ctx.inspect(&id)?;
    let want = json!([alias, short(&id)]);
    let ep = &info["NetworkSettings"]["Networks"][&net];
    if ep["Aliases"] != want || ep["MacAddress"] != json!(GIVEN_MAC) {
        return Err(fail(format!(
            "inspect of the created container after the connect: Networks = {}",
            info["NetworkSettings"]["Networks"]
        ))
        .note(format!(
            "dockerd: Networks[{net}].Aliases = {want}, MacAddress {GIVEN_MAC:?} (as given)"
        )));
    }
    ctx.start(&id)?;
    let ip = address_on(ctx, &id, &net)?;
    // API 1.41 does not apply the endpoint's MAC: the started container's
    // is the one made from its address.
    let mac = ctx.inspect(&id)?["NetworkSettings"]["Networks"][&net]["MacAddress"].clone();
    let want_mac = mac_of(&ip);
    if mac != json!(want_mac) {
        return Err(fail(format!(
            "the started container's Networks[{net}].MacAddress is {mac} (given {GIVEN_MAC})"
        ))
        .note(format!("dockerd 20.10: {want_mac:?}, made from {ip}")));
    }
    let (code, out, err) = run_on(ctx, &net, &["dns-query", &alias])?;
    if code != 0 || out.trim() != ip {
        return Err(fail(format!(
            "resolving {alias} from {net}: exit {code}, {out:?}, {err:?}"
        ))
        .note(format!("dockerd: {ip}")));
    }
    Ok(())
}

/// The MAC a created container is connected with (docker-py's
/// test_connect_with_mac_address).
const GIVEN_MAC: &str = "02:42:ac:11:00:99";

/// The MAC dockerd makes from an IPv4 address: 02:42 and its four bytes.
fn mac_of(ip: &str) -> String {
    let bytes: Vec<String> = ip
        .split('.')
        .map(|b| format!("{:02x}", b.parse::<u8>().unwrap_or(0)))
        .collect();
    format!("02:42:{}", bytes.join(":"))
}

fn errors(ctx: &Ctx) -> Outcome {
    let mut made = Made::default();
    let res = errors_in(ctx, &mut made);
    made.clean(ctx);
    res
}

fn errors_in(ctx: &Ctx, made: &mut Made) -> Outcome {
    let net = create_network(ctx, "conn-err")?;
    made.networks.push(net.clone());
    let id = ctx.create(ctx.probe_config(&["sleep", "60"])?, None)?;
    made.containers.push(id.clone());
    let missing = ctx.unique_name("conn-missing");
    let not_connected = |n: &str| format!("container {id} is not connected to the network {n}");
    let checks: Vec<(&str, &str, Value, u16, String)> = vec![
        ("connect", net.as_str(), json!({"Container": ""}), 400, "invalid name or ID supplied: \"\"".into()),
        ("disconnect", net.as_str(), json!({"Container": ""}), 400, "invalid name or ID supplied: \"\"".into()),
        ("connect", net.as_str(), json!({"Container": missing}), 404, format!("No such container: {missing}")),
        ("disconnect", net.as_str(), json!({"Container": missing}), 404, format!("No such container: {missing}")),
        ("disconnect", net.as_str(), json!({"Container": missing, "Force": true}), 404, format!("endpoint {missing} not found")),
        ("disconnect", missing.as_str(), json!({"Container": missing, "Force": true}), 404, format!("network {missing} not found")),
        ("connect", "host", json!({"Container": id}), 400, "container cannot be disconnected from host network or connected to host network".into()),
        ("connect", "none", json!({"Container": id}), 400, "container cannot be connected to multiple networks with one of the networks in private (none) mode".into()),
        ("connect", net.as_str(), json!({"Container": id, "EndpointConfig": {"IPAMConfig": {"IPv4Address": "10.1.2.3"}}}), 400, "user specified IP address is supported only when connecting to networks with user configured subnets".into()),
        // A created container's networks are looked up by the name given.
        ("disconnect", net.as_str(), json!({"Container": id}), 500, not_connected(&net)),
        ("disconnect", "host", json!({"Container": id}), 500, not_connected("host")),
        ("disconnect", missing.as_str(), json!({"Container": id}), 500, not_connected(&missing)),
    ];
    for (action, n, body, status, message) in checks {
        let resp = post(ctx, n, action, body.clone())?;
        expect_error(
            &resp,
            status,
            &message,
            &format!("POST /networks/{n}/{action} {body}"),
        )?;
    }
    // A created container's settings on a network it is on are replaced.
    let resp = post(ctx, "bridge", "connect", json!({"Container": id}))?;
    expect_status(
        &resp,
        200,
        "connecting a created container to a network it is on",
    )?;
    // Leaving the default bridge and asking for an address on it.
    let resp = post(ctx, "bridge", "disconnect", json!({"Container": id}))?;
    expect_status(
        &resp,
        200,
        "disconnecting a created container from the default bridge",
    )?;
    let resp = post(
        ctx,
        "bridge",
        "connect",
        json!({"Container": id, "EndpointConfig": {"IPAMConfig": {"IPv4Address": "172.17.0.99"}}}),
    )?;
    expect_error(
        &resp,
        400,
        "user specified IP address is supported on user defined networks only",
        "connecting to the default bridge with an address",
    )
}

fn several(ctx: &Ctx) -> Outcome {
    let mut made = Made::default();
    let res = (|| {
        let a = create_network(ctx, "conn-two-a")?;
        made.networks.push(a.clone());
        let b = create_network(ctx, "conn-two-b")?;
        made.networks.push(b.clone());
        let mut c = ctx.probe_config(&["sleep", "60"])?;
        c["HostConfig"] = json!({"NetworkMode": a});
        c["NetworkingConfig"] = json!({"EndpointsConfig": {a.as_str(): {}, b.as_str(): {}}});
        // API 1.41 (dockerd 20.10's): from 1.44 on, several are allowed.
        let resp = ctx.send(Req::post("/v1.41/containers/create").unversioned().json(c))?;
        if resp.status == 201 {
            if let Ok(body) = json_body(&resp, "container create") {
                if let Some(id) = body["Id"].as_str() {
                    made.containers.push(id.to_string());
                }
            }
        }
        // dockerd walks a Go map: either order.
        let got = json_body(&resp, "container create")
            .ok()
            .and_then(|b| b["message"].as_str().map(String::from))
            .unwrap_or_default();
        let prefix = "Container cannot be connected to network endpoints: ";
        let names = got.strip_prefix(prefix).unwrap_or("");
        if resp.status != 400 || (names != format!("{a}, {b}") && names != format!("{b}, {a}")) {
            return Err(fail_at(
                &resp,
                format!("create with two EndpointsConfig entries: dockerd answers 400 \"{prefix}{a}, {b}\" (either order)"),
            ));
        }
        Ok(())
    })();
    made.clean(ctx);
    res
}

fn bridge_as_sent(ctx: &Ctx) -> Outcome {
    let mut made = Made::default();
    let res = bridge_as_sent_in(ctx, &mut made);
    made.clean(ctx);
    res
}

fn bridge_as_sent_in(ctx: &Ctx, made: &mut Made) -> Outcome {
    let home = create_network(ctx, "conn-asis")?;
    made.networks.push(home.clone());
    // What `docker network connect bridge C` (CLI 28.2) sends.
    let cli = json!({
        "IPAMConfig": {}, "Links": null, "Aliases": [], "MacAddress": "",
        "DriverOpts": {}, "GwPriority": 0, "NetworkID": "", "EndpointID": "",
        "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "",
        "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "DNSNames": null
    });
    for (what, endpoint, want) in [
        (
            "the docker CLI's body",
            Some(cli),
            json!({"IPAMConfig": {}, "Links": null, "Aliases": [], "DriverOpts": {}}),
        ),
        (
            "a bare {\"Container\": id}",
            None,
            json!({"IPAMConfig": null, "Links": null, "Aliases": null, "DriverOpts": null}),
        ),
    ] {
        let name = ctx.unique_name("conn-asis");
        let id = start_on(ctx, &name, &home, &[], &["sleep", "60"])?;
        made.containers.push(id.clone());
        let mut body = json!({"Container": id});
        if let Some(e) = endpoint {
            body["EndpointConfig"] = e;
        }
        let resp = post(ctx, "bridge", "connect", body)?;
        expect_status(&resp, 200, &format!("connecting to bridge with {what}"))?;
        let info = ctx.inspect(&id)?;
        let ep = &info["NetworkSettings"]["Networks"]["bridge"];
        let got = json!({
            "IPAMConfig": ep["IPAMConfig"], "Links": ep["Links"],
            "Aliases": ep["Aliases"], "DriverOpts": ep["DriverOpts"],
        });
        if got != want {
            return Err(fail(format!(
                "after connecting to bridge with {what}, Networks.bridge shows {got}"
            ))
            .note(format!("dockerd: {want}")));
        }
    }
    Ok(())
}
