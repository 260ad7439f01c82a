//! `NetworkMode: container:<name|id>` (issue 15): a container that joins
//! another's network namespace.
//!
//! Every expectation was read off dockerd 20.10.24 (API 1.41), 2026-12-03:
//! - the joiner sees the target's interfaces (its eth0, with the target's
//!   MAC), its hostname, and its /etc/hosts and /etc/resolv.conf (the
//!   target's `<ip>\t<hostname>` line);
//! - inspect of the joiner: `HostConfig.NetworkMode` is
//!   `container:<target's full id>` from create on, `NetworkSettings` has no
//!   address and `Networks` is `{}`; once started, `Config.Hostname` is the
//!   target's hostname and `HostnamePath`, `HostsPath` and `ResolvConfPath`
//!   are the target's files;
//! - refusals at create, 400: `Hostname` "conflicting options: hostname and
//!   the network mode", `MacAddress` "conflicting options: mac-address and
//!   the network mode", `ExposedPorts` "conflicting options: port exposing
//!   and the container type network mode", `HostConfig.Dns` "conflicting
//!   options: dns and the network mode", `ExtraHosts` "conflicting options:
//!   custom host-to-IP mapping and the network mode", `PortBindings` or
//!   `PublishAllPorts` "conflicting options: port publishing and the
//!   container type network mode", `Links` "conflicting options: container
//!   type network can't be used with links. This would result in undefined
//!   behavior" (`Domainname`, `DnsSearch`, `DnsOptions` are accepted);
//! - a target that does not exist: create 201 (NetworkMode keeps the name
//!   as given), start 404 "No such container: <name>"; a target created but
//!   not running: start 409 "cannot join network of a non running
//!   container: <target's full id>";
//! - `POST /networks/{id}/connect` of a running joiner: 400 "container
//!   sharing network namespace with another container or host cannot be
//!   connected to any other network".
//! - `NetworkSettings.SandboxID` / `SandboxKey` (2026-12-04): "" and "" for
//!   a created container and for a started `container:<X>` joiner; a started
//!   container on the default bridge, `none` or `host` has a 64-hex id and
//!   an absolute key path (`/var/run/docker/netns/<first 12 of the id>`,
//!   `.../default` for host: the path itself is the daemon's own, not
//!   checked). After a stop the id stays; the next start has a new one.

use super::Scenario;
use crate::client::{enc, Req};
use crate::ground::{expect_status, fail, fail_at, json_body, Ctx, Outcome, Problem};
use serde_json::{json, Value};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        super::scenario("network", "container-mode-shares-netns", true, shares),
        super::scenario("network", "container-mode-refusals", true, refusals),
        super::scenario("network", "sandbox-id-and-key", true, sandbox),
    ]
}

const TARGET_HOSTNAME: &str = "netshare-target";

/// A running probe (`sleep 60`) on the default bridge with
/// [`TARGET_HOSTNAME`]; its name and id.
fn start_target(ctx: &Ctx, what: &str) -> Result<(String, String), Problem> {
    let name = ctx.unique_name(what);
    let mut c = ctx.probe_config(&["sleep", "60"])?;
    c["Hostname"] = json!(TARGET_HOSTNAME);
    let id = ctx.create(c, Some(&name))?;
    if let Err(e) = ctx.start(&id) {
        ctx.remove(&id);
        return Err(e);
    }
    Ok((name, id))
}

fn joiner_config(ctx: &Ctx, target: &str, args: &[&str]) -> Result<Value, Problem> {
    let mut c = ctx.probe_config(args)?;
    c["HostConfig"] = json!({ "NetworkMode": format!("container:{target}") });
    Ok(c)
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    path.iter().fold(v, |v, k| &v[*k]).as_str().unwrap_or("")
}

fn shares(ctx: &Ctx) -> Outcome {
    let (name, target) = start_target(ctx, "netshare-target")?;
    let mut joiner = None;
    let res = (|| {
        let t = ctx.inspect(&target)?;
        let ip = str_at(&t, &["NetworkSettings", "IPAddress"]).to_string();
        let mac = str_at(&t, &["NetworkSettings", "MacAddress"]).to_string();
        let args = [
            "hostname",
            "--",
            "read",
            "/sys/class/net/eth0/address",
            "--",
            "read",
            "/etc/hosts",
        ];
        let id = ctx.create(joiner_config(ctx, &name, &args)?, None)?;
        joiner = Some(id.clone());
        let created = ctx.inspect(&id)?;
        let want_mode = format!("container:{target}");
        if created["HostConfig"]["NetworkMode"] != json!(want_mode)
            || created["NetworkSettings"]["Networks"] != json!({})
            || !str_at(&created, &["NetworkSettings", "IPAddress"]).is_empty()
        {
            return Err(fail(format!(
                "inspect of the created joiner: NetworkMode {}, Networks {}, IPAddress {}; dockerd: {want_mode:?} (the target's full id), {{}}, \"\"",
                created["HostConfig"]["NetworkMode"],
                created["NetworkSettings"]["Networks"],
                created["NetworkSettings"]["IPAddress"]
            )));
        }
        ctx.start(&id)?;
        let code = ctx.wait(&id)?;
        let logs = ctx.logs(&id)?;
        if code != 0 {
            return Err(fail(format!(
                "the joiner exited {code}: {}",
                logs.stderr_text().trim()
            )));
        }
        let out = logs.stdout_text();
        let mut lines = out.lines();
        let (host, eth0) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""));
        let hosts_line = format!("{ip}\t{TARGET_HOSTNAME}");
        if host != TARGET_HOSTNAME || eth0 != mac || !lines.any(|l| l == hosts_line) {
            return Err(fail(format!(
                "the joiner printed hostname, eth0's MAC and /etc/hosts as {out:?}; dockerd: the target's hostname {TARGET_HOSTNAME:?}, its eth0 (MAC {mac}) and its hosts file (with {hosts_line:?})"
            )));
        }
        let j = ctx.inspect(&id)?;
        if str_at(&j, &["Config", "Hostname"]) != TARGET_HOSTNAME {
            return Err(fail(format!(
                "the started joiner's Config.Hostname is {}; dockerd: the target's, {TARGET_HOSTNAME:?}",
                j["Config"]["Hostname"]
            )));
        }
        for k in ["HostnamePath", "HostsPath", "ResolvConfPath"] {
            if j[k] != t[k] || str_at(&t, &[k]).is_empty() {
                return Err(fail(format!(
                    "the started joiner's {k} is {}, the target's {}; dockerd: the target's file",
                    j[k], t[k]
                )));
            }
        }
        if j["NetworkSettings"]["Networks"] != json!({}) {
            return Err(fail(format!(
                "the started joiner's NetworkSettings.Networks is {}; dockerd: {{}}",
                j["NetworkSettings"]["Networks"]
            )));
        }
        Ok(())
    })();
    if let Some(id) = joiner {
        ctx.remove(&id);
    }
    ctx.remove(&target);
    res
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

/// Creates `config`, removing whatever was made; the response.
fn try_create(ctx: &Ctx, config: Value) -> Result<crate::client::Response, Problem> {
    let resp = ctx.send(Req::post("/containers/create").json(config))?;
    if let Some(id) = resp
        .json()
        .ok()
        .and_then(|b| b["Id"].as_str().map(String::from))
    {
        ctx.remove(&id);
    }
    Ok(resp)
}

/// A joiner of `target` created (201 expected) then started: the start's
/// answer.
fn create_and_start(ctx: &Ctx, target: &str) -> Result<crate::client::Response, Problem> {
    let id = ctx.create(joiner_config(ctx, target, &["exit", "0"])?, None)?;
    let resp = ctx.send(Req::post(format!("/containers/{}/start", enc(&id))));
    ctx.remove(&id);
    resp
}

fn refusals(ctx: &Ctx) -> Outcome {
    let (name, target) = start_target(ctx, "netshare-refusals")?;
    let mut made = Vec::new();
    let res = (|| {
        let conflict = "conflicting options: ";
        let cases: [(&str, Value, bool, &str); 8] = [
            ("Hostname", json!("other"), false, "hostname and the network mode"),
            ("MacAddress", json!("02:42:ac:11:00:63"), false, "mac-address and the network mode"),
            ("ExposedPorts", json!({"80/tcp": {}}), false, "port exposing and the container type network mode"),
            ("Dns", json!(["192.0.2.1"]), true, "dns and the network mode"),
            ("ExtraHosts", json!(["a:192.0.2.1"]), true, "custom host-to-IP mapping and the network mode"),
            ("PortBindings", json!({"80/tcp": [{"HostPort": ""}]}), true, "port publishing and the container type network mode"),
            ("PublishAllPorts", json!(true), true, "port publishing and the container type network mode"),
            ("Links", json!([format!("{name}:peer")]), true, "container type network can't be used with links. This would result in undefined behavior"),
        ];
        for (key, value, in_host_config, message) in cases {
            let mut c = joiner_config(ctx, &name, &["exit", "0"])?;
            if in_host_config {
                c["HostConfig"][key] = value;
            } else {
                c[key] = value;
            }
            let resp = try_create(ctx, c)?;
            expect_error(
                &resp,
                400,
                &format!("{conflict}{message}"),
                &format!("create with NetworkMode container:X and {key}"),
            )?;
        }
        // A target that does not exist is found missing at start only.
        let missing = ctx.unique_name("netshare-missing");
        let resp = create_and_start(ctx, &missing)?;
        expect_error(
            &resp,
            404,
            &format!("No such container: {missing}"),
            "start of a joiner whose target does not exist",
        )?;
        // A target that is not running.
        let idle = ctx.create(ctx.probe_config(&["sleep", "60"])?, None)?;
        made.push(idle.clone());
        let resp = create_and_start(ctx, &idle)?;
        expect_error(
            &resp,
            409,
            &format!("cannot join network of a non running container: {idle}"),
            "start of a joiner whose target is created, not running",
        )?;
        // A running joiner cannot be connected to a network.
        let id = ctx.create(joiner_config(ctx, &name, &["sleep", "60"])?, None)?;
        made.push(id.clone());
        ctx.start(&id)?;
        let resp =
            ctx.send(Req::post("/networks/bridge/connect").json(json!({ "Container": id })))?;
        expect_error(
            &resp,
            400,
            "container sharing network namespace with another container or host cannot be connected to any other network",
            "connecting a running container:X joiner to a network",
        )?;
        let resp = ctx.send(Req::get(format!("/containers/{}/json", enc(&id))))?;
        expect_status(&resp, 200, "inspecting the joiner")?;
        Ok(())
    })();
    for id in made {
        ctx.remove(&id);
    }
    ctx.remove(&target);
    res
}

/// `(SandboxID, SandboxKey)` of an inspect.
fn sandbox_of(v: &Value) -> (String, String) {
    (
        str_at(v, &["NetworkSettings", "SandboxID"]).to_string(),
        str_at(v, &["NetworkSettings", "SandboxKey"]).to_string(),
    )
}

fn is_sandbox_id(id: &str) -> bool {
    id.len() == 64
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

fn sandbox(ctx: &Ctx) -> Outcome {
    let mut made = Vec::new();
    let res = (|| {
        // Created, not started: no sandbox yet.
        let id = ctx.create(ctx.probe_config(&["sleep", "60"])?, None)?;
        made.push(id.clone());
        let (sid, key) = sandbox_of(&ctx.inspect(&id)?);
        if !sid.is_empty() || !key.is_empty() {
            return Err(fail(format!(
                "a created container shows SandboxID {sid:?}, SandboxKey {key:?}; dockerd: \"\" and \"\""
            )));
        }
        ctx.start(&id)?;
        let mut first = String::new();
        for (mode, cid) in [
            ("default", Some(id.clone())),
            ("none", None),
            ("host", None),
        ] {
            let cid = match cid {
                Some(c) => c,
                None => {
                    let mut c = ctx.probe_config(&["sleep", "60"])?;
                    c["HostConfig"] = json!({ "NetworkMode": mode });
                    let c = ctx.create(c, None)?;
                    made.push(c.clone());
                    ctx.start(&c)?;
                    c
                }
            };
            let (sid, key) = sandbox_of(&ctx.inspect(&cid)?);
            if !is_sandbox_id(&sid) || !key.starts_with('/') {
                return Err(fail(format!(
                    "a started container on network mode {mode} shows SandboxID {sid:?}, SandboxKey {key:?}; dockerd: 64 lower-case hex and an absolute path"
                )));
            }
            if first.is_empty() {
                first = sid;
            }
        }
        // A container:<X> joiner has no sandbox of its own.
        let j = ctx.create(joiner_config(ctx, &id, &["sleep", "60"])?, None)?;
        made.push(j.clone());
        ctx.start(&j)?;
        let (sid, key) = sandbox_of(&ctx.inspect(&j)?);
        if !sid.is_empty() || !key.is_empty() {
            return Err(fail(format!(
                "a started container:<X> joiner shows SandboxID {sid:?}, SandboxKey {key:?}; dockerd: \"\" and \"\""
            )));
        }
        ctx.stop(&j, 0)?;
        ctx.stop(&id, 0)?;
        let (sid, _) = sandbox_of(&ctx.inspect(&id)?);
        if sid != first {
            return Err(fail(format!(
                "after a stop SandboxID is {sid:?}; dockerd: the run's, {first:?}"
            )));
        }
        ctx.start(&id)?;
        let (sid, _) = sandbox_of(&ctx.inspect(&id)?);
        if !is_sandbox_id(&sid) || sid == first {
            return Err(fail(format!(
                "after a new start SandboxID is {sid:?} (the last run's {first:?}); dockerd: a new 64-hex id"
            )));
        }
        Ok(())
    })();
    for id in made.iter().rev() {
        ctx.remove(id);
    }
    res
}
