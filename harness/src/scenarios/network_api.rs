//! The Network group of the Engine API as dockerd 20.10.24 answers it
//! (read with curl on this host): create with its options and IPAM,
//! list and prune filters, inspect's `verbose` and `scope`, connect with
//! an endpoint config (alias, fixed address), `Containers` in inspect,
//! disconnect, and the errors of each.
//!
//! * create: unknown driver 404 `plugin "D" not found`; the name `host`
//!   403 `operation is not permitted on predefined host network ` (with
//!   the trailing space); `ConfigFrom` an unknown network 404
//!   `configuration network "N" does not exist`;
//! * inspect: `scope=swarm` of a local network 404 `network N not found`;
//!   `verbose=x` 400 `invalid value for verbose: x: strconv.ParseBool:
//!   parsing "x": invalid syntax`;
//! * connect: twice 403 `endpoint with name C already exists in network
//!   N`; unknown container 404 `No such container: C`; unknown network
//!   404 `network N not found`; to `host` 400 `container cannot be
//!   disconnected from host network or connected to host network`;
//! * delete: with an endpoint 403 `error while removing network: network
//!   N id ID has active endpoints`; `bridge` 403 `bridge is a pre-defined
//!   network and cannot be removed`; unknown 404 `network N not found`;
//! * disconnect: not connected 500 `container ID is not connected to
//!   network N`;
//! * prune: `{"NetworksDeleted": [names]}`; an unknown filter 400
//!   `Invalid filter 'bogus'`;
//! * list: a `type` other than `custom` or `builtin` (`Custom` too) is 500
//!   `invalid filter: 'type'='T'` (curl, 2026-12-04).

use crate::client::{enc, Req, Response};
use crate::ground::{expect_status, fail_at, json_body, Ctx, Outcome, Problem};
use crate::scenarios::containers_api::{expect_error, Made};
use crate::scenarios::{scenario, Scenario};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        scenario("network", "api-lifecycle", true, lifecycle),
        scenario("network", "config-only-and-from", false, config_from),
        scenario("network", "create-errors", false, create_errors),
        scenario("network", "name-with-space", true, name_with_space),
        scenario(
            "network",
            "endpoint-config-shown",
            true,
            endpoint_config_shown,
        ),
    ]
}

/// Networks a scenario made, removed when it ends.
struct Nets<'c, 'a> {
    ctx: &'c Ctx<'a>,
    names: Vec<String>,
}

impl Drop for Nets<'_, '_> {
    fn drop(&mut self) {
        for n in self.names.iter().rev() {
            let _ = self
                .ctx
                .client
                .send(Req::delete(format!("/networks/{}", enc(n))));
        }
    }
}

/// A /24 in 10.213.0.0/16 picked by the run id, so two runs side by side
/// rarely ask for the same one.
fn subnet(ctx: &Ctx, salt: &str) -> (String, String) {
    let h = Sha256::digest(format!("{}{salt}", ctx.run_id).as_bytes());
    let third = h[0];
    (format!("10.213.{third}.0/24"), format!("10.213.{third}"))
}

fn create(ctx: &Ctx, nets: &mut Nets, body: Value) -> Result<Response, Problem> {
    let resp = ctx.send(Req::post("/networks/create").json(body.clone()))?;
    if resp.status == 201 {
        if let Some(n) = body["Name"].as_str() {
            nets.names.push(n.to_string());
        }
    }
    Ok(resp)
}

fn post(ctx: &Ctx, path: String, body: Value) -> Result<Response, Problem> {
    ctx.send(Req::post(path).json(body))
}

/// `POST /networks/{nonet}/{verb}` of a container: 404 `network N not found`.
fn unknown_network(ctx: &Ctx, verb: &str, nonet: &str, cname: &str) -> Outcome {
    let resp = post(
        ctx,
        format!("/networks/{}/{verb}", enc(nonet)),
        json!({"Container": cname}),
    )?;
    expect_error(
        &resp,
        404,
        &format!("network {nonet} not found"),
        &format!("{verb} with an unknown network"),
    )
}

fn lifecycle(ctx: &Ctx) -> Outcome {
    let mut nets = Nets {
        ctx,
        names: Vec::new(),
    };
    let mut made = Made::new(ctx);
    let name = ctx.unique_name("netapi");
    let mark = format!("io.shipshape.netapi={name}");
    let (net, prefix) = subnet(ctx, "lifecycle");
    let mut labels = ctx.labels();
    labels["io.shipshape.netapi"] = json!(name);
    let ipam = json!({"Driver": "default", "Options": null,
        "Config": [{"Subnet": net, "Gateway": format!("{prefix}.1")}]});
    let options = json!({"com.docker.network.bridge.enable_icc": "true"});
    let resp = create(
        ctx,
        &mut nets,
        json!({"Name": name, "CheckDuplicate": true, "Driver": "bridge", "Internal": true,
            "Attachable": true, "EnableIPv6": false, "Ingress": false, "Scope": "local",
            "ConfigOnly": false, "Options": options, "IPAM": ipam, "Labels": labels}),
    )?;
    expect_status(&resp, 201, "creating a network with options and IPAM")?;
    let id = json_body(&resp, "network create")?["Id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let filters = enc(&json!({"label": [mark]}).to_string());
    let resp = ctx.send(Req::get(format!("/networks?filters={filters}")))?;
    expect_status(&resp, 200, "listing networks by label")?;
    let list = json_body(&resp, "network list")?;
    let want = |n: &Value| {
        n["Name"] == json!(name)
            && n["Id"] == json!(id)
            && n["Driver"] == "bridge"
            && n["Scope"] == "local"
            && n["Internal"] == true
            && n["Attachable"] == true
            && n["Ingress"] == false
            && n["EnableIPv6"] == false
            && n["IPAM"] == ipam
            && n["Options"] == options
            && n["Labels"] == labels
    };
    if list.as_array().map(Vec::len) != Some(1) || !want(&list[0]) {
        return Err(fail_at(
            &resp,
            format!(
                "the label filter gave {list}; dockerd: exactly {name} with Driver bridge, \
                 Scope local, Internal and Attachable true, IPAM {ipam}, Options {options}"
            ),
        ));
    }
    // The name filter (dockerd: a match within the name) finds it alone.
    let by_name = enc(&json!({"name": [name]}).to_string());
    let resp = ctx.send(Req::get(format!("/networks?filters={by_name}")))?;
    expect_status(&resp, 200, "listing networks by name")?;
    let list = json_body(&resp, "network list")?;
    if list.as_array().map(Vec::len) != Some(1) || list[0]["Id"] != json!(id) {
        return Err(fail_at(
            &resp,
            format!("the name filter gave {list}; dockerd: exactly {name}"),
        ));
    }
    let resp = ctx.send(Req::get(format!(
        "/networks/{}?verbose=1&scope=local",
        enc(&name)
    )))?;
    expect_status(&resp, 200, "inspect with verbose=1&scope=local")?;
    let resp = ctx.send(Req::get(format!("/networks/{}?scope=swarm", enc(&name))))?;
    expect_error(
        &resp,
        404,
        &format!("network {name} not found"),
        "inspect, scope=swarm",
    )?;
    let resp = ctx.send(Req::get(format!("/networks/{}?verbose=x", enc(&name))))?;
    expect_error(
        &resp,
        400,
        "invalid value for verbose: x: strconv.ParseBool: parsing \"x\": invalid syntax",
        "inspect, verbose=x",
    )?;
    // A running container, connected with an alias and a fixed address.
    let cname = ctx.unique_name("netapi-c");
    let c = made.create(ctx.probe_config(&["sleep", "300"])?, Some(&cname))?;
    ctx.start(&c)?;
    let ip = format!("{prefix}.9");
    let connect = format!("/networks/{}/connect", enc(&name));
    let resp = post(
        ctx,
        connect.clone(),
        json!({"Container": cname, "EndpointConfig":
            {"Aliases": ["shipshape-alias"], "IPAMConfig": {"IPv4Address": ip}}}),
    )?;
    expect_status(&resp, 200, "connecting with an endpoint config")?;
    let resp = ctx.send(Req::get(format!("/networks/{}", enc(&name))))?;
    expect_status(&resp, 200, "inspect after connect")?;
    let v = json_body(&resp, "network inspect")?;
    let ep = &v["Containers"][&c];
    if ep["Name"] != json!(cname) || ep["IPv4Address"] != json!(format!("{ip}/24")) {
        return Err(fail_at(
            &resp,
            format!(
                "inspect's Containers is {}; dockerd: {c} with Name {cname} and IPv4Address {ip}/24",
                v["Containers"]
            ),
        ));
    }
    let info = ctx.inspect(&c)?;
    let aliases = &info["NetworkSettings"]["Networks"][&name]["Aliases"];
    if !aliases
        .as_array()
        .is_some_and(|a| a.contains(&json!("shipshape-alias")))
    {
        return Err(crate::ground::fail(format!(
            "the container's Aliases on {name} are {aliases}; dockerd lists shipshape-alias"
        )));
    }
    let resp = post(ctx, connect.clone(), json!({"Container": cname}))?;
    let twice = format!("endpoint with name {cname} already exists in network {name}");
    expect_error(&resp, 403, &twice, "connecting twice")?;
    let nobody = format!("shipshape-{}-no-such-container", ctx.run_id);
    let resp = post(ctx, connect.clone(), json!({"Container": nobody}))?;
    expect_error(
        &resp,
        404,
        &format!("No such container: {nobody}"),
        "connecting an unknown container",
    )?;
    let nonet = format!("shipshape-{}-no-such-network", ctx.run_id);
    unknown_network(ctx, "connect", &nonet, &cname)?;
    let resp = post(
        ctx,
        "/networks/host/connect".into(),
        json!({"Container": cname}),
    )?;
    expect_error(
        &resp,
        400,
        "container cannot be disconnected from host network or connected to host network",
        "connecting to host",
    )?;
    let resp = ctx.send(Req::delete(format!("/networks/{}", enc(&name))))?;
    let busy = format!("error while removing network: network {name} id {id} has active endpoints");
    expect_error(&resp, 403, &busy, "removing a network in use")?;
    let disconnect = format!("/networks/{}/disconnect", enc(&name));
    let resp = post(
        ctx,
        disconnect.clone(),
        json!({"Container": cname, "Force": false}),
    )?;
    expect_status(&resp, 200, "disconnecting")?;
    let resp = post(ctx, disconnect.clone(), json!({"Container": cname}))?;
    let not = format!("container {c} is not connected to network {name}");
    expect_error(&resp, 500, &not, "disconnecting twice")?;
    let resp = post(ctx, disconnect, json!({"Container": nobody}))?;
    expect_error(
        &resp,
        404,
        &format!("No such container: {nobody}"),
        "disconnecting an unknown container",
    )?;
    unknown_network(ctx, "disconnect", &nonet, &cname)?;
    let resp = ctx.send(Req::delete("/networks/bridge"))?;
    expect_error(
        &resp,
        403,
        "bridge is a pre-defined network and cannot be removed",
        "removing bridge",
    )?;
    let resp = ctx.send(Req::delete(format!("/networks/{}", enc(&nonet))))?;
    expect_error(
        &resp,
        404,
        &format!("network {nonet} not found"),
        "removing an unknown network",
    )?;
    let resp = ctx.send(Req::post(format!("/networks/prune?filters={filters}")))?;
    expect_status(&resp, 200, "pruning by label")?;
    let v = json_body(&resp, "network prune")?;
    if v != json!({"NetworksDeleted": [name]}) {
        return Err(fail_at(
            &resp,
            format!("prune by label gave {v}; dockerd: {{\"NetworksDeleted\": [\"{name}\"]}}"),
        ));
    }
    nets.names.clear();
    let bogus = enc(&json!({"bogus": ["x"]}).to_string());
    let resp = ctx.send(Req::post(format!("/networks/prune?filters={bogus}")))?;
    expect_error(
        &resp,
        400,
        "Invalid filter 'bogus'",
        "pruning with an unknown filter",
    )?;
    // The list's `type` takes "custom" and "builtin" only, case and all:
    // anything else is a 500 even beside a good one.
    for t in [json!(["x", "custom"]), json!(["Custom"])] {
        let bad = t
            .as_array()
            .and_then(|a| a.first())
            .and_then(Value::as_str)
            .unwrap_or("");
        let f = enc(&json!({ "type": t }).to_string());
        let resp = ctx.send(Req::get(format!("/networks?filters={f}")))?;
        expect_error(
            &resp,
            500,
            &format!("invalid filter: 'type'='{bad}'"),
            &format!("listing networks of type {t}"),
        )?;
    }
    Ok(())
}

/// `ConfigOnly` networks hold a configuration others take with
/// `ConfigFrom` (dockerd: both 201; the config network shows
/// `ConfigOnly: true`, the other `ConfigFrom.Network` its name).
fn config_from(ctx: &Ctx) -> Outcome {
    let mut nets = Nets {
        ctx,
        names: Vec::new(),
    };
    let cfg = ctx.unique_name("netcfg");
    let user = ctx.unique_name("netfrom");
    let (net, _) = subnet(ctx, "config");
    let resp = create(
        ctx,
        &mut nets,
        json!({"Name": cfg, "ConfigOnly": true, "Labels": ctx.labels(),
            "IPAM": {"Config": [{"Subnet": net}]}}),
    )?;
    expect_status(&resp, 201, "creating a config-only network")?;
    let resp = create(
        ctx,
        &mut nets,
        // No Labels: dockerd refuses any configuration of its own (403
        // "user specified configurations are not supported if the network
        // depends on a configuration network").
        json!({"Name": user, "ConfigFrom": {"Network": cfg}}),
    )?;
    expect_status(&resp, 201, "creating a network from a config-only one")?;
    let resp = ctx.send(Req::get(format!("/networks/{}", enc(&user))))?;
    expect_status(&resp, 200, "inspecting it")?;
    let v = json_body(&resp, "network inspect")?;
    if v["ConfigFrom"] != json!({"Network": cfg}) || v["ConfigOnly"] != false {
        return Err(fail_at(
            &resp,
            format!(
                "ConfigFrom {} ConfigOnly {}; dockerd: {{\"Network\": \"{cfg}\"}} and false",
                v["ConfigFrom"], v["ConfigOnly"]
            ),
        ));
    }
    let missing = format!("shipshape-{}-no-such-network", ctx.run_id);
    let resp = create(
        ctx,
        &mut nets,
        json!({"Name": ctx.unique_name("netbad"), "ConfigFrom": {"Network": missing}}),
    )?;
    expect_error(
        &resp,
        404,
        &format!("configuration network \"{missing}\" does not exist"),
        "ConfigFrom an unknown network",
    )
}

fn create_errors(ctx: &Ctx) -> Outcome {
    let mut nets = Nets {
        ctx,
        names: Vec::new(),
    };
    let driver = format!("shipshape-{}-no-such-driver", ctx.run_id);
    let resp = create(
        ctx,
        &mut nets,
        json!({"Name": ctx.unique_name("netdrv"), "Driver": driver}),
    )?;
    expect_error(
        &resp,
        404,
        &format!("plugin \"{driver}\" not found"),
        "an unknown driver",
    )?;
    let resp = create(ctx, &mut nets, json!({"Name": "host"}))?;
    expect_error(
        &resp,
        403,
        "operation is not permitted on predefined host network ",
        "creating `host`",
    )
}

/// A network whose name holds a space (docker-py names one so): the
/// path carries it escaped (`/networks/my%20net`), and dockerd decodes
/// each path variable, so inspect, connect, disconnect and delete all
/// find it; a second delete is 404 `network NAME not found` with the
/// name decoded. A malformed escape (`%zz`) is Go's server's own plain
/// 400 `400 Bad Request` (dockerd 20.10.24, read with curl).
fn name_with_space(ctx: &Ctx) -> Outcome {
    let mut nets = Nets {
        ctx,
        names: Vec::new(),
    };
    let mut made = Made::new(ctx);
    let name = format!("{} net", ctx.unique_name("netspace"));
    let resp = create(
        ctx,
        &mut nets,
        json!({"Name": name, "Labels": ctx.labels()}),
    )?;
    expect_status(&resp, 201, "creating a network named with a space")?;
    let path = format!("/networks/{}", enc(&name));
    if !path.contains("%20") {
        return Err(crate::ground::fail(format!(
            "the harness sent {path}: the space was not escaped"
        )));
    }
    let resp = ctx.send(Req::get(path.clone()))?;
    expect_status(&resp, 200, "inspect by the escaped name")?;
    let v = json_body(&resp, "network inspect")?;
    if v["Name"] != json!(name) {
        return Err(fail_at(
            &resp,
            format!("inspect's Name is {}; dockerd: {name:?}", v["Name"]),
        ));
    }
    let cname = ctx.unique_name("netspace-c");
    made.create(ctx.probe_config(&["sleep", "300"])?, Some(&cname))?;
    let resp = post(ctx, format!("{path}/connect"), json!({"Container": cname}))?;
    expect_status(&resp, 200, "connect through the escaped name")?;
    let resp = ctx.send(Req::get(format!("/containers/{}/json", enc(&cname))))?;
    expect_status(&resp, 200, "container inspect")?;
    let c = json_body(&resp, "container inspect")?;
    if !c["NetworkSettings"]["Networks"][&name].is_object() {
        return Err(fail_at(
            &resp,
            format!(
                "the container's networks are {}; dockerd: {name:?} among them",
                c["NetworkSettings"]["Networks"]
            ),
        ));
    }
    let resp = post(
        ctx,
        format!("{path}/disconnect"),
        json!({"Container": cname}),
    )?;
    expect_status(&resp, 200, "disconnect through the escaped name")?;
    let resp = ctx.send(Req::delete(path.clone()))?;
    expect_status(&resp, 204, "delete by the escaped name")?;
    nets.names.clear();
    let resp = ctx.send(Req::delete(path))?;
    expect_error(
        &resp,
        404,
        &format!("network {name} not found"),
        "a second delete",
    )?;
    let resp = ctx.send(Req::get("/networks/a%zz"))?;
    expect_status(&resp, 400, "a malformed escape")?;
    if resp.text() != "400 Bad Request" {
        return Err(fail_at(
            &resp,
            format!(
                "a malformed escape answered {:?}; dockerd: `400 Bad Request`",
                resp.text()
            ),
        ));
    }
    Ok(())
}

/// Endpoint settings docker-py sends (`links`, `driver_opt`,
/// `link_local_ips`) are shown in container inspect's
/// `NetworkSettings.Networks.<net>` as given, before and after the start,
/// whether they came with a live connect or with the create's
/// `NetworkingConfig` (dockerd 20.10.24, read with curl, 2026-12-04):
/// `Links` and `DriverOpts` as sent, `IPAMConfig` `{"LinkLocalIPs": [..]}`;
/// and a connect's `MacAddress` until the start (docker-py's
/// test_connect_with_mac_address).
fn endpoint_config_shown(ctx: &Ctx) -> Outcome {
    const MAC: &str = "02:42:ac:11:00:02";
    let mut nets = Nets {
        ctx,
        names: Vec::new(),
    };
    let mut made = Made::new(ctx);
    let net = ctx.unique_name("epcfg");
    let resp = create(ctx, &mut nets, json!({"Name": net, "Labels": ctx.labels()}))?;
    expect_status(&resp, 201, "creating a network")?;
    let target = ctx.unique_name("epcfg-target");
    made.create(ctx.probe_config(&["sleep", "300"])?, Some(&target))?;
    let shown = |id: &str, links: &Value, opts: &Value, ipam: &Value, when: &str| -> Outcome {
        let resp = ctx.send(Req::get(format!("/containers/{}/json", enc(id))))?;
        expect_status(&resp, 200, "container inspect")?;
        let v = json_body(&resp, "container inspect")?;
        let ep = &v["NetworkSettings"]["Networks"][&net];
        let got = (&ep["Links"], &ep["DriverOpts"], &ep["IPAMConfig"]);
        if got != (links, opts, ipam) {
            return Err(fail_at(
                &resp,
                format!(
                    "{when}: the endpoint on {net} shows Links {}, DriverOpts {}, IPAMConfig {}; \
                     dockerd: {links}, {opts}, {ipam}",
                    got.0, got.1, got.2
                ),
            ));
        }
        Ok(())
    };
    // A live connect of a created container.
    let links = json!([format!("{target}:foo")]);
    let opts = json!({"com.docker-py.setting": "on"});
    let ipam = json!({"LinkLocalIPs": ["169.254.8.8"]});
    let b = made.create(ctx.probe_config(&["sleep", "300"])?, None)?;
    let resp = post(
        ctx,
        format!("/networks/{}/connect", enc(&net)),
        json!({"Container": b, "EndpointConfig": {"Links": links, "DriverOpts": opts,
            "IPAMConfig": {"LinkLocalIPs": ["169.254.8.8"]}, "MacAddress": MAC}}),
    )?;
    expect_status(
        &resp,
        200,
        "connecting with Links, DriverOpts and LinkLocalIPs",
    )?;
    shown(&b, &links, &opts, &ipam, "connected, not started")?;
    // The MacAddress asked for shows until the start (dockerd then gives
    // the second network's endpoint one of its own).
    let mac = ctx.inspect(&b)?["NetworkSettings"]["Networks"][&net]["MacAddress"].clone();
    if mac != json!(MAC) {
        return Err(crate::ground::fail(format!(
            "connected, not started: the endpoint's MacAddress is {mac}; dockerd: {MAC:?}"
        )));
    }
    ctx.start(&b)?;
    shown(&b, &links, &opts, &ipam, "connected, then started")?;
    // The same settings at create.
    let links = json!([format!("{target}:bar")]);
    let opts = json!({"k": "v"});
    let ipam = json!({"LinkLocalIPs": ["169.254.9.9"]});
    let mut cfg = ctx.probe_config(&["sleep", "300"])?;
    cfg["HostConfig"] = json!({"NetworkMode": net});
    cfg["NetworkingConfig"] = json!({"EndpointsConfig": {&net: {"Links": links,
        "DriverOpts": opts, "IPAMConfig": {"IPv4Address": "", "LinkLocalIPs": ["169.254.9.9"]}}}});
    let c = made.create(cfg, None)?;
    shown(&c, &links, &opts, &ipam, "created on the network")?;
    ctx.start(&c)?;
    shown(
        &c,
        &links,
        &opts,
        &ipam,
        "created on the network, then started",
    )?;
    drop(made);
    Ok(())
}
