//! A container's identity on its networks (issue 15): MAC addresses,
//! /etc/hosts and the network lists across live connect and disconnect,
//! and legacy links on the default bridge.
//!
//! Every expectation was read off dockerd 20.10.24 (API 1.41), 2026-12-03:
//! - `Config.MacAddress` (the docker CLI 28 sends it per network, which API
//!   1.41 refuses, so it is an API-only option here): inspect echoes it in
//!   `Config` from create on; once started, eth0 has it and
//!   `NetworkSettings.MacAddress` and `Networks.bridge.MacAddress` show it;
//!   on a user network `Networks[net].MacAddress` shows it and the
//!   top-level `MacAddress` (default bridge only) is "". Without it the MAC
//!   is `02:42:` and the four bytes of the address. A MAC that does not
//!   parse is accepted at create (201) and fails the start: 500 "address
//!   zz:42: invalid MAC address".
//! - A live connect to a user network appends `<new address>\t<hostname>`
//!   to the container's /etc/hosts; disconnecting removes every line ending
//!   in `\t<hostname>` (the one of its other network too). The container
//!   list's `NetworkSettings.Networks` and inspect agree after each step,
//!   down to `{}` once it left its own network.
//! - `HostConfig.Links: ["<target>:<alias>"]` on the default bridge gives
//!   the linking container, for ALIAS (upper case, `-` as `_`):
//!   `ALIAS_NAME=/<container>/<alias>`; per exposed port, sorted by number,
//!   tcp before udp: `ALIAS_PORT_<p>_<PROTO>=<proto>://<ip>:<p>` and its
//!   `_ADDR`, `_PORT`, `_PROTO`; `ALIAS_PORT` is the first one; a run of
//!   consecutive ports adds `_START`, `_END`, `_PORT_START`, `_PORT_END` on
//!   its first port; `ALIAS_ENV_<k>=<v>` for each of the target's
//!   `Config.Env` but HOME and PATH. /etc/hosts gets `<ip>\t<alias>
//!   <target hostname> <target name>` (the name left out when it is the
//!   alias). A link to a target that exists but is not running fails the
//!   start: 500 "Cannot link to a non running container: /<target> AS
//!   /<container>/<alias>".
//! - When the target stops (2026-12-04): an exec create in the linking
//!   container answers that same 500. When it starts again with a new
//!   address (another container took the old one meanwhile), the linking
//!   container's hosts line for the alias carries the new address
//!   (`172.17.0.2\tdb <hostname> <target>` became `172.17.0.4\tdb ...`),
//!   an exec created then sees `DB_PORT=tcp://<new>:80`, and its main
//!   process (/proc/1/environ) still has `DB_PORT=tcp://<old>:80`.
//! - The default bridge next to a user network (2026-12-04): a container
//!   created on a user network and connected to `bridge` before its start
//!   has a hosts line for each, the default bridge's first, and its eth0
//!   is the default bridge's endpoint (its MAC), with the default route
//!   through it; one connected
//!   to `bridge` while running gets its line appended and keeps its
//!   resolv.conf (127.0.0.11); once it left the user network, a restart
//!   gives it the resolv.conf of any default-bridge container (the host's
//!   resolvers), as does a start after leaving its own user network
//!   before the first start: the embedded resolver comes with an endpoint
//!   on a user network, not with `NetworkMode`.
//! - Network create with a name already taken: 409 "network with name N
//!   already exists" with `CheckDuplicate: true`; without it (false or
//!   absent) 201 and a second network, `Warning` "Network with name N (id :
//!   <an existing one's id>) already exists"; the name then is ambiguous:
//!   `DELETE /networks/N` answers 400 "network N is ambiguous (2 matches
//!   found based on name)" and each goes by its id.

use std::collections::BTreeSet;

use super::network_dns::{create_network, remove_network};
use super::Scenario;
use crate::client::{demux, enc, Req};
use crate::ground::{expect_status, fail, fail_at, json_body, Ctx, Outcome, Problem};
use serde_json::{json, Value};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        super::scenario("network", "mac-address", true, mac_address),
        super::scenario(
            "network",
            "hosts-and-list-after-connect",
            true,
            hosts_after_connect,
        ),
        super::scenario("network", "legacy-links", true, legacy_links),
        super::scenario(
            "network",
            "legacy-links-target-restart",
            true,
            links_target_restart,
        ),
        super::scenario(
            "network",
            "default-bridge-beside-user-network",
            true,
            bridge_beside_user_network,
        ),
        super::scenario("network", "create-check-duplicate", false, check_duplicate),
    ]
}

/// A locally administered unicast MAC no daemon hands out by itself.
const GIVEN_MAC: &str = "02:53:53:00:00:07";

/// Runs `args` in the running container `id`; its stdout (exit 0 expected).
fn exec_output(ctx: &Ctx, id: &str, args: &[&str]) -> Result<String, Problem> {
    let mut cmd = vec![crate::fixture::PROBE_PATH];
    cmd.extend_from_slice(args);
    let exec = crate::scenarios::streams::exec_create(
        ctx,
        id,
        json!({"Cmd": cmd, "AttachStdout": true, "AttachStderr": true}),
    )?;
    let resp =
        ctx.send(Req::post(format!("/exec/{}/start", enc(&exec))).json(json!({"Detach": false})))?;
    expect_status(&resp, 200, "exec start")?;
    let out = demux(&resp.body).map_err(|e| fail_at(&resp, format!("exec stream: {e}")))?;
    Ok(out.stdout_text())
}

/// Creates and starts a probe `sleep 60` from `config` tweaks; its id.
fn start_sleeper(
    ctx: &Ctx,
    name: Option<&str>,
    tweak: impl FnOnce(&mut Value),
) -> Result<String, Problem> {
    let mut c = ctx.probe_config(&["sleep", "60"])?;
    tweak(&mut c);
    let id = ctx.create(c, name)?;
    if let Err(e) = ctx.start(&id) {
        ctx.remove(&id);
        return Err(e);
    }
    Ok(id)
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// dockerd's default MAC for an IPv4 address: 02:42 and its four bytes.
fn mac_of(ip: &str) -> Option<String> {
    let ip: std::net::Ipv4Addr = ip.parse().ok()?;
    let o = ip.octets();
    Some(format!(
        "02:42:{:02x}:{:02x}:{:02x}:{:02x}",
        o[0], o[1], o[2], o[3]
    ))
}

fn mac_address(ctx: &Ctx) -> Outcome {
    let mut made = Vec::new();
    let mut nets = Vec::new();
    let res = (|| {
        // Given, on the default bridge.
        let mut c = ctx.probe_config(&["sleep", "60"])?;
        c["MacAddress"] = json!(GIVEN_MAC);
        let id = ctx.create(c, None)?;
        made.push(id.clone());
        let created = ctx.inspect(&id)?;
        if str_of(&created["Config"]["MacAddress"]) != GIVEN_MAC
            || !str_of(&created["NetworkSettings"]["MacAddress"]).is_empty()
        {
            return Err(fail(format!(
                "created with MacAddress {GIVEN_MAC}: Config.MacAddress {}, NetworkSettings.MacAddress {}; dockerd: {GIVEN_MAC:?} and \"\"",
                created["Config"]["MacAddress"], created["NetworkSettings"]["MacAddress"]
            )));
        }
        ctx.start(&id)?;
        let i = ctx.inspect(&id)?;
        let eth0 = exec_output(ctx, &id, &["read", "/sys/class/net/eth0/address"])?;
        let shown = (
            str_of(&i["NetworkSettings"]["MacAddress"]),
            str_of(&i["NetworkSettings"]["Networks"]["bridge"]["MacAddress"]),
            eth0.trim(),
        );
        if shown != (GIVEN_MAC, GIVEN_MAC, GIVEN_MAC) {
            return Err(fail(format!(
                "started with MacAddress {GIVEN_MAC}: NetworkSettings.MacAddress, Networks.bridge.MacAddress and eth0's are {shown:?}; dockerd: all {GIVEN_MAC}"
            )));
        }
        // Not given: derived from the address.
        let id = start_sleeper(ctx, None, |_| {})?;
        made.push(id.clone());
        let i = ctx.inspect(&id)?;
        let ip = str_of(&i["NetworkSettings"]["IPAddress"]);
        let want = mac_of(ip).ok_or_else(|| fail(format!("no IPAddress in inspect: {ip:?}")))?;
        let eth0 = exec_output(ctx, &id, &["read", "/sys/class/net/eth0/address"])?;
        let shown = (str_of(&i["NetworkSettings"]["MacAddress"]), eth0.trim());
        if shown != (want.as_str(), want.as_str()) {
            return Err(fail(format!(
                "default MAC at {ip}: inspect and eth0 show {shown:?}; dockerd: {want} (02:42 and the address)"
            )));
        }
        // Given, on a user network: shown there only.
        let net = create_network(ctx, "mac-net")?;
        nets.push(net.clone());
        let id = start_sleeper(ctx, None, |c| {
            c["MacAddress"] = json!(GIVEN_MAC);
            c["HostConfig"] = json!({ "NetworkMode": net });
        })?;
        made.push(id.clone());
        let i = ctx.inspect(&id)?;
        let eth0 = exec_output(ctx, &id, &["read", "/sys/class/net/eth0/address"])?;
        let shown = (
            str_of(&i["NetworkSettings"]["Networks"][&net]["MacAddress"]),
            str_of(&i["NetworkSettings"]["MacAddress"]),
            eth0.trim(),
        );
        if shown != (GIVEN_MAC, "", GIVEN_MAC) {
            return Err(fail(format!(
                "on a user network with MacAddress {GIVEN_MAC}: Networks[net].MacAddress, NetworkSettings.MacAddress and eth0's are {shown:?}; dockerd: ({GIVEN_MAC:?}, \"\", {GIVEN_MAC:?})"
            )));
        }
        // One that does not parse: accepted, then the start fails.
        let mut c = ctx.probe_config(&["exit", "0"])?;
        c["MacAddress"] = json!("zz:42");
        let id = ctx.create(c, None)?;
        made.push(id.clone());
        let resp = ctx.send(Req::post(format!("/containers/{}/start", enc(&id))))?;
        let msg = resp.message();
        if resp.status != 500 || msg.as_deref() != Some("address zz:42: invalid MAC address") {
            return Err(fail_at(
                &resp,
                "start with MacAddress \"zz:42\": dockerd answers 500 \"address zz:42: invalid MAC address\"",
            ));
        }
        Ok(())
    })();
    for id in made {
        ctx.remove(&id);
    }
    for n in nets {
        remove_network(ctx, &n);
    }
    res
}

/// The network names of container `id` in the list and in inspect.
fn listed_and_inspected(
    ctx: &Ctx,
    id: &str,
) -> Result<(BTreeSet<String>, BTreeSet<String>), Problem> {
    let filters = json!({ "id": [id] }).to_string();
    let resp = ctx.send(Req::get(format!(
        "/containers/json?all=1&filters={}",
        enc(&filters)
    )))?;
    expect_status(&resp, 200, "listing containers")?;
    let list = json_body(&resp, "container list")?;
    let keys = |v: &Value| -> BTreeSet<String> {
        v.as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    let listed = list
        .as_array()
        .and_then(|a| a.first())
        .map(|c| keys(&c["NetworkSettings"]["Networks"]))
        .ok_or_else(|| fail_at(&resp, "the container is not in the list"))?;
    let inspected = keys(&ctx.inspect(id)?["NetworkSettings"]["Networks"]);
    Ok((listed, inspected))
}

fn expect_networks(ctx: &Ctx, id: &str, want: &[&str], when: &str) -> Outcome {
    let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
    let (listed, inspected) = listed_and_inspected(ctx, id)?;
    if listed != want || inspected != want {
        return Err(fail(format!(
            "{when}: the list shows networks {listed:?}, inspect {inspected:?}; dockerd: both {want:?}"
        )));
    }
    Ok(())
}

fn connection(ctx: &Ctx, net: &str, action: &str, id: &str) -> Outcome {
    let resp = ctx.send(
        Req::post(format!("/networks/{}/{action}", enc(net))).json(json!({ "Container": id })),
    )?;
    expect_status(&resp, 200, &format!("network {action}"))
}

const HOSTNAME: &str = "hostsconn";

fn hosts_after_connect(ctx: &Ctx) -> Outcome {
    let mut made = None;
    let mut nets = Vec::new();
    let res = (|| {
        let id = start_sleeper(ctx, None, |c| c["Hostname"] = json!(HOSTNAME))?;
        made = Some(id.clone());
        let net = create_network(ctx, "hosts-net")?;
        nets.push(net.clone());
        let bridge_ip = str_of(&ctx.inspect(&id)?["NetworkSettings"]["IPAddress"]).to_string();
        connection(ctx, &net, "connect", &id)?;
        let net_ip = str_of(&ctx.inspect(&id)?["NetworkSettings"]["Networks"][&net]["IPAddress"])
            .to_string();
        let hosts = exec_output(ctx, &id, &["read", "/etc/hosts"])?;
        let own: Vec<&str> = hosts
            .lines()
            .filter(|l| l.ends_with(&format!("\t{HOSTNAME}")))
            .collect();
        let want = [
            format!("{bridge_ip}\t{HOSTNAME}"),
            format!("{net_ip}\t{HOSTNAME}"),
        ];
        if own != want {
            return Err(fail(format!(
                "/etc/hosts after a live connect names the container in {own:?}; dockerd: {want:?} (a line appended for the new address)"
            )));
        }
        expect_networks(ctx, &id, &["bridge", &net], "after connect")?;
        connection(ctx, &net, "disconnect", &id)?;
        let hosts = exec_output(ctx, &id, &["read", "/etc/hosts"])?;
        if hosts.lines().any(|l| l.ends_with(&format!("\t{HOSTNAME}"))) {
            return Err(fail(format!(
                "/etc/hosts after disconnect is {hosts:?}; dockerd removes every line ending in \\t{HOSTNAME}"
            )));
        }
        expect_networks(ctx, &id, &["bridge"], "after disconnect")?;
        connection(ctx, "bridge", "disconnect", &id)?;
        expect_networks(ctx, &id, &[], "after leaving the default bridge too")
    })();
    if let Some(id) = made {
        ctx.remove(&id);
    }
    for n in nets {
        remove_network(ctx, &n);
    }
    res
}

/// What dockerd gives a container linking `ip` as `alias`, with ports 53/udp,
/// 53/tcp and 7000-7002/tcp exposed, and the target's extra `env`.
fn link_env(alias: &str, link_name: &str, ip: &str, env: &[(&str, &str)]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    out.insert(format!("{alias}_NAME={link_name}"));
    out.insert(format!("{alias}_PORT=tcp://{ip}:53"));
    for (port, proto) in [
        (53, "tcp"),
        (53, "udp"),
        (7000, "tcp"),
        (7001, "tcp"),
        (7002, "tcp"),
    ] {
        let p = format!("{alias}_PORT_{port}_{}", proto.to_uppercase());
        out.insert(format!("{p}={proto}://{ip}:{port}"));
        out.insert(format!("{p}_ADDR={ip}"));
        out.insert(format!("{p}_PORT={port}"));
        out.insert(format!("{p}_PROTO={proto}"));
    }
    let p = format!("{alias}_PORT_7000_TCP");
    out.insert(format!("{p}_START=tcp://{ip}:7000"));
    out.insert(format!("{p}_END=tcp://{ip}:7002"));
    out.insert(format!("{p}_PORT_START=7000"));
    out.insert(format!("{p}_PORT_END=7002"));
    for (k, v) in env {
        out.insert(format!("{alias}_ENV_{k}={v}"));
    }
    out
}

fn legacy_links(ctx: &Ctx) -> Outcome {
    let mut made = Vec::new();
    let res = (|| {
        let target_name = ctx.unique_name("link-db");
        let target = start_sleeper(ctx, Some(&target_name), |c| {
            c["Env"] = json!(["FOO=bar", "X=a=b"]);
            c["ExposedPorts"] =
                json!({"53/udp": {}, "53/tcp": {}, "7000/tcp": {}, "7001/tcp": {}, "7002/tcp": {}});
        })?;
        made.push(target.clone());
        let t = ctx.inspect(&target)?;
        let ip = str_of(&t["NetworkSettings"]["IPAddress"]).to_string();
        let hostname = str_of(&t["Config"]["Hostname"]).to_string();
        let env: Vec<(String, String)> = t["Config"]["Env"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| {
                e.as_str()?
                    .split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .filter(|(k, _)| k != "HOME" && k != "PATH")
            .collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let app_name = ctx.unique_name("link-app");
        let mut c = ctx.probe_config(&["env", "--", "read", "/etc/hosts"])?;
        c["HostConfig"] = json!({ "Links": [format!("{target_name}:data"), target_name] });
        let app = ctx.create(c, Some(&app_name))?;
        made.push(app.clone());
        ctx.start(&app)?;
        let code = ctx.wait(&app)?;
        let out = ctx.logs(&app)?.stdout_text();
        if code != 0 {
            return Err(fail(format!("the linking probe exited {code}")));
        }
        let upper = target_name.to_uppercase().replace('-', "_");
        for (alias, link) in [("DATA", "data"), (upper.as_str(), target_name.as_str())] {
            let prefix = format!("{alias}_");
            let got: BTreeSet<String> = out
                .lines()
                .filter(|l| l.starts_with(&prefix) && l.contains('='))
                .map(String::from)
                .collect();
            let want = link_env(alias, &format!("/{app_name}/{link}"), &ip, &env);
            if got != want {
                let missing: Vec<_> = want.difference(&got).collect();
                let extra: Vec<_> = got.difference(&want).collect();
                return Err(fail(format!(
                    "the link {link:?}'s variables: missing {missing:?}, unexpected {extra:?}; dockerd sets exactly {want:?}"
                )));
            }
        }
        let lines = [
            format!("{ip}\tdata {hostname} {target_name}"),
            format!("{ip}\t{target_name} {hostname}"),
        ];
        for want in &lines {
            if !out.lines().any(|l| l == want) {
                return Err(fail(format!(
                    "the linking container's output (env, then /etc/hosts) has no line {want:?}: {out:?}"
                )));
            }
        }
        // A link to a container that is not running fails the start.
        let idle_name = ctx.unique_name("link-idle");
        let idle = ctx.create(ctx.probe_config(&["sleep", "60"])?, Some(&idle_name))?;
        made.push(idle);
        let late_name = ctx.unique_name("link-late");
        let mut c = ctx.probe_config(&["exit", "0"])?;
        c["HostConfig"] = json!({ "Links": [format!("{idle_name}:x")] });
        let late = ctx.create(c, Some(&late_name))?;
        made.push(late.clone());
        let resp = ctx.send(Req::post(format!("/containers/{}/start", enc(&late))))?;
        let want =
            format!("Cannot link to a non running container: /{idle_name} AS /{late_name}/x");
        if resp.status != 500 || resp.message().as_deref() != Some(want.as_str()) {
            return Err(fail_at(&resp, format!("dockerd answers 500 {want:?}")));
        }
        Ok(())
    })();
    for id in made.iter().rev() {
        ctx.remove(id);
    }
    res
}

fn links_target_restart(ctx: &Ctx) -> Outcome {
    let mut made = Vec::new();
    let res = (|| {
        let target_name = ctx.unique_name("relink-db");
        let target = start_sleeper(ctx, Some(&target_name), |c| {
            c["ExposedPorts"] = json!({"80/tcp": {}});
        })?;
        made.push(target.clone());
        let app_name = ctx.unique_name("relink-app");
        let app = start_sleeper(ctx, Some(&app_name), |c| {
            c["HostConfig"] = json!({ "Links": [format!("{target_name}:db")] });
        })?;
        made.push(app.clone());
        let t = ctx.inspect(&target)?;
        let old = str_of(&t["NetworkSettings"]["IPAddress"]).to_string();
        let hostname = str_of(&t["Config"]["Hostname"]).to_string();
        let resp = ctx.stop(&target, 0)?;
        expect_status(&resp, 204, "stopping the link's target")?;
        let resp = ctx.send(
            Req::post(format!("/containers/{}/exec", enc(&app)))
                .json(json!({"Cmd": [crate::fixture::PROBE_PATH, "env"], "AttachStdout": true})),
        )?;
        let want =
            format!("Cannot link to a non running container: /{target_name} AS /{app_name}/db");
        if resp.status != 500 || resp.message().as_deref() != Some(want.as_str()) {
            return Err(fail_at(
                &resp,
                format!("an exec create in the linking container while the target is stopped; dockerd answers 500 {want:?}"),
            ));
        }
        // Another container takes the old address (as it does on dockerd,
        // which hands the lowest free one out), so the target gets a new one.
        let filler = start_sleeper(ctx, None, |_| {})?;
        made.push(filler);
        ctx.start(&target)?;
        let new = str_of(&ctx.inspect(&target)?["NetworkSettings"]["IPAddress"]).to_string();
        let hosts = exec_output(ctx, &app, &["read", "/etc/hosts"])?;
        let line = format!("{new}\tdb {hostname} {target_name}");
        let alias_lines: Vec<&str> = hosts.lines().filter(|l| l.contains("\tdb ")).collect();
        if alias_lines != [line.as_str()] {
            return Err(fail(format!(
                "after the target came back at {new} (was {old}) the linking container's \
                 /etc/hosts has {alias_lines:?} for the alias; dockerd: [{line:?}]"
            )));
        }
        let env = exec_output(ctx, &app, &["env"])?;
        let want = format!("DB_PORT=tcp://{new}:80");
        if !env.lines().any(|l| l == want) {
            return Err(fail(format!(
                "an exec created after the target came back has {:?}; dockerd: {want:?}",
                env.lines()
                    .filter(|l| l.starts_with("DB_PORT="))
                    .collect::<Vec<_>>()
            )));
        }
        let first = exec_output(ctx, &app, &["read", "/proc/1/environ"])?;
        let want = format!("DB_PORT=tcp://{old}:80");
        if !first.split(['\0', '\n']).any(|l| l == want) {
            return Err(fail(format!(
                "the linking container's main process has {:?}; dockerd keeps what it \
                 started with: {want:?}",
                first
                    .split(['\0', '\n'])
                    .filter(|l| l.starts_with("DB_PORT="))
                    .collect::<Vec<_>>()
            )));
        }
        Ok(())
    })();
    for id in made.iter().rev() {
        ctx.remove(id);
    }
    res
}

/// The lines of container `id`'s /etc/hosts naming `hostname`, and its
/// /etc/resolv.conf.
fn own_files(ctx: &Ctx, id: &str, hostname: &str) -> Result<(Vec<String>, String), Problem> {
    let hosts = exec_output(ctx, id, &["read", "/etc/hosts"])?;
    let own = hosts
        .lines()
        .filter(|l| l.ends_with(&format!("\t{hostname}")))
        .map(String::from)
        .collect();
    Ok((own, exec_output(ctx, id, &["read", "/etc/resolv.conf"])?))
}

fn ip_on(info: &Value, net: &str) -> String {
    str_of(&info["NetworkSettings"]["Networks"][net]["IPAddress"]).to_string()
}

fn bridge_beside_user_network(ctx: &Ctx) -> Outcome {
    let mut made = Vec::new();
    let mut nets = Vec::new();
    let res = (|| {
        let net = create_network(ctx, "beside-net")?;
        nets.push(net.clone());
        let (code, bridge_resolv, err) =
            super::network_dns::run_on(ctx, "bridge", &["read", "/etc/resolv.conf"])?;
        if code != 0 {
            return Err(fail(format!(
                "reading resolv.conf on the default bridge: exit {code}, {err:?}"
            )));
        }
        // Connected to the default bridge before its start.
        let mut c = ctx.probe_config(&["sleep", "60"])?;
        c["Hostname"] = json!("besidea");
        c["HostConfig"] = json!({ "NetworkMode": net });
        let a = ctx.create(c, None)?;
        made.push(a.clone());
        connection(ctx, "bridge", "connect", &a)?;
        ctx.start(&a)?;
        let info = ctx.inspect(&a)?;
        let want = vec![
            format!("{}\tbesidea", ip_on(&info, "bridge")),
            format!("{}\tbesidea", ip_on(&info, &net)),
        ];
        let (own, _) = own_files(ctx, &a, "besidea")?;
        if own != want {
            return Err(fail(format!(
                "a container created on {net} and connected to bridge before its start names \
                 itself in /etc/hosts as {own:?}; dockerd: {want:?} (the default bridge's first)"
            )));
        }
        let eth0 = exec_output(ctx, &a, &["read", "/sys/class/net/eth0/address"])?;
        let bridge_mac = str_of(&info["NetworkSettings"]["Networks"]["bridge"]["MacAddress"]);
        let routes = exec_output(ctx, &a, &["read", "/proc/net/route"])?;
        let default_dev: Vec<&str> = routes
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.get(1) == Some(&"00000000")).then(|| f[0])
            })
            .collect();
        if eth0.trim() != bridge_mac || default_dev != ["eth0"] {
            return Err(fail(format!(
                "created on {net} and connected to bridge before its start: eth0 has MAC {:?}, \
                 default routes via {default_dev:?}; dockerd: eth0 is the default bridge's \
                 endpoint ({bridge_mac}) and the one default route goes through it",
                eth0.trim()
            )));
        }
        // Connected to the default bridge while running.
        let mut c = ctx.probe_config(&["sleep", "60"])?;
        c["Hostname"] = json!("besideb");
        c["HostConfig"] = json!({ "NetworkMode": net });
        let b = ctx.create(c, None)?;
        made.push(b.clone());
        ctx.start(&b)?;
        let (_, resolv_before) = own_files(ctx, &b, "besideb")?;
        connection(ctx, "bridge", "connect", &b)?;
        let info = ctx.inspect(&b)?;
        let want = vec![
            format!("{}\tbesideb", ip_on(&info, &net)),
            format!("{}\tbesideb", ip_on(&info, "bridge")),
        ];
        let (own, resolv) = own_files(ctx, &b, "besideb")?;
        if own != want || resolv != resolv_before || !resolv.contains("nameserver 127.0.0.11\n") {
            return Err(fail(format!(
                "after a live connect to bridge: own hosts lines {own:?}, resolv.conf {resolv:?} \
                 (before: {resolv_before:?}); dockerd: {want:?} and resolv.conf unchanged \
                 (nameserver 127.0.0.11)"
            )));
        }
        // Off its user network, then restarted.
        connection(ctx, &net, "disconnect", &b)?;
        let resp = ctx.send(Req::post(format!("/containers/{}/restart?t=0", enc(&b))))?;
        expect_status(&resp, 204, "restarting the container")?;
        let info = ctx.inspect(&b)?;
        let want = vec![format!("{}\tbesideb", ip_on(&info, "bridge"))];
        let (own, resolv) = own_files(ctx, &b, "besideb")?;
        if own != want || resolv != bridge_resolv {
            return Err(fail(format!(
                "restarted after leaving {net} (on bridge only): own hosts lines {own:?}, \
                 resolv.conf {resolv:?}; dockerd: {want:?} and a default-bridge container's \
                 resolv.conf {bridge_resolv:?}"
            )));
        }
        // Off its own user network before the first start.
        let mut c = ctx.probe_config(&["sleep", "60"])?;
        c["HostConfig"] = json!({ "NetworkMode": net });
        let lone = ctx.create(c, None)?;
        made.push(lone.clone());
        connection(ctx, &net, "disconnect", &lone)?;
        ctx.start(&lone)?;
        let resolv = exec_output(ctx, &lone, &["read", "/etc/resolv.conf"])?;
        if resolv != bridge_resolv {
            return Err(fail(format!(
                "started after leaving its own network {net}: resolv.conf {resolv:?}; dockerd: \
                 a default-bridge container's {bridge_resolv:?} (no embedded resolver)"
            )));
        }
        Ok(())
    })();
    for id in made.iter().rev() {
        ctx.remove(id);
    }
    for n in nets {
        remove_network(ctx, &n);
    }
    res
}

fn check_duplicate(ctx: &Ctx) -> Outcome {
    // `CheckDuplicate` is API 1.41's (dockerd 20.10); from 1.44 the field
    // is gone and a taken name is always refused.
    let v144 = crate::client::ApiVersion {
        major: 1,
        minor: 44,
    };
    if ctx.negotiation.api_version >= v144 {
        return Err(Problem::Skip(
            "CheckDuplicate is an API below 1.44 option (checked at 1.41 against dockerd 20.10)"
                .into(),
        ));
    }
    let name = ctx.unique_name("dup-net");
    let mut ids: Vec<String> = Vec::new();
    let res = (|| {
        let create = |check: Option<bool>| {
            let mut body = json!({ "Name": name, "Labels": ctx.labels() });
            if let Some(c) = check {
                body["CheckDuplicate"] = json!(c);
            }
            ctx.send(Req::post("/networks/create").json(body))
        };
        let mut created = |resp: &crate::client::Response| -> Result<String, Problem> {
            expect_status(resp, 201, "creating a network")?;
            let body = json_body(resp, "network create")?;
            let id = str_of(&body["Id"]).to_string();
            ids.push(id);
            Ok(str_of(&body["Warning"]).to_string())
        };
        let resp = create(Some(true))?;
        created(&resp)?;
        let resp = create(Some(true))?;
        let want = format!("network with name {name} already exists");
        if resp.status != 409 || resp.message().as_deref() != Some(want.as_str()) {
            return Err(fail_at(
                &resp,
                format!("CheckDuplicate on a taken name: dockerd answers 409 {want:?}"),
            ));
        }
        for check in [None, Some(false)] {
            let resp = create(check)?;
            let warning = created(&resp)?;
            let (head, tail) = (
                format!("Network with name {name} (id : "),
                ") already exists",
            );
            if !warning.starts_with(&head) || !warning.ends_with(tail) {
                return Err(fail_at(&resp, format!(
                    "a taken name with CheckDuplicate {check:?}: dockerd creates another network and warns \"{head}<id>{tail}\""
                )));
            }
        }
        let resp = ctx.send(Req::delete(format!("/networks/{}", enc(&name))))?;
        let want = format!("network {name} is ambiguous (3 matches found based on name)");
        if resp.status != 400 || resp.message().as_deref() != Some(want.as_str()) {
            return Err(fail_at(
                &resp,
                format!("removing by a name three networks have: dockerd answers 400 {want:?}"),
            ));
        }
        for id in std::mem::take(&mut ids) {
            let resp = ctx.send(Req::delete(format!("/networks/{}", enc(&id))))?;
            expect_status(&resp, 204, "removing a duplicate network by id")?;
        }
        Ok(())
    })();
    for id in ids {
        remove_network(ctx, &id);
    }
    res
}
