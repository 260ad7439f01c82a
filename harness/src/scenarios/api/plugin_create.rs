//! A plugin's life on one host, without a registry: `POST /plugins/create`
//! from a tar (config.json and an empty rootfs/), then inspect, set, list
//! filters, a failing enable, disable and delete, as dockerd 20.10.24
//! answers (read with curl on this host):
//!
//! * create: 204; the same name again 409 `plugin N already exists`; no
//!   name 500 `failed to parse reference : invalid reference format`;
//! * inspect: `Enabled` false, `Settings.Env` ["DEBUG=0"] from the config;
//! * set `["DEBUG=1"]`: 204 and the setting changes; an unknown setting
//!   500 `setting "NOPE" not found in the plugin configuration`;
//! * enable: 500 (the rootfs has no entrypoint; the wording is the
//!   runtime's), and the plugin stays disabled;
//! * disable of a disabled plugin: 409 `plugin is already disabled:
//!   plugin N found but disabled`;
//! * list with `capability` volumedriver includes it, `enabled=true` not;
//! * delete: 200, then 404 `plugin "N" not found`.
//!
//! The name is derived from the run id without containing it, so
//! `api/plugins-list-empty` (no plugin named after the run) holds while
//! this runs beside it; the plugin is removed whatever happens.

use crate::client::{enc, Req};
use crate::ground::{expect_status, fail_at, json_body, Ctx, Outcome, Problem};
use crate::scenarios::containers_api::expect_error;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

fn context() -> Vec<u8> {
    let config = json!({"Description": "shipshape test plugin",
        "Documentation": "https://example.invalid",
        "Interface": {"Types": ["docker.volumedriver/1.0"], "Socket": "p.sock"},
        "Entrypoint": ["/probe", "sleep", "100"], "WorkDir": "",
        "Env": [{"Name": "DEBUG", "Description": "", "Settable": ["value"], "Value": "0"}],
        "Network": {"Type": "none"},
        "Linux": {"Capabilities": null, "AllowAllDevices": false, "Devices": null},
        "Mounts": null, "PropagatedMount": "", "User": {},
        "Args": {"Name": "", "Description": "", "Settable": null, "Value": null}})
    .to_string();
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(config.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(1_700_000_000);
    let _ = b.append_data(&mut h, "config.json", config.as_bytes());
    let mut d = tar::Header::new_gnu();
    d.set_entry_type(tar::EntryType::Directory);
    d.set_mode(0o755);
    d.set_size(0);
    d.set_mtime(1_700_000_000);
    let _ = b.append_data(&mut d, "rootfs/", &[][..]);
    b.into_inner().unwrap_or_default()
}

fn create(ctx: &Ctx, query: &str) -> Result<crate::client::Response, Problem> {
    ctx.send(Req::post(format!("/plugins/create{query}")).raw(context(), "application/x-tar"))
}

fn inspect(ctx: &Ctx, name: &str) -> Result<Value, Problem> {
    let resp = ctx.send(Req::get(format!("/plugins/{}/json", enc(name))))?;
    expect_status(&resp, 200, "plugin inspect")?;
    json_body(&resp, "plugin inspect")
}

pub fn lifecycle(ctx: &Ctx) -> Outcome {
    let h = Sha256::digest(format!("shipshape-plugin:{}", ctx.run_id).as_bytes());
    let name = format!("shipshape-plugin-{}:1", hex::encode(&h[..6]));
    let resp = create(ctx, &format!("?name={}", enc(&name)))?;
    expect_status(&resp, 204, "plugin create")?;
    let res = steps(ctx, &name);
    let _ = ctx.send(Req::delete(format!("/plugins/{}?force=1", enc(&name))));
    res
}

fn steps(ctx: &Ctx, name: &str) -> Outcome {
    let resp = create(ctx, &format!("?name={}", enc(name)))?;
    expect_error(
        &resp,
        409,
        &format!("plugin {name} already exists"),
        "creating it again",
    )?;
    let resp = create(ctx, "")?;
    expect_error(
        &resp,
        500,
        "failed to parse reference : invalid reference format",
        "plugin create without a name",
    )?;
    let v = inspect(ctx, name)?;
    if v["Name"] != json!(name)
        || v["Enabled"] != false
        || v["Settings"]["Env"] != json!(["DEBUG=0"])
    {
        return Err(crate::ground::fail(format!(
            "plugin inspect gave Name {} Enabled {} Settings.Env {}; dockerd: {name}, false, [\"DEBUG=0\"]",
            v["Name"], v["Enabled"], v["Settings"]["Env"]
        )));
    }
    let set = format!("/plugins/{}/set", enc(name));
    let resp = ctx.send(Req::post(set.clone()).json(json!(["DEBUG=1"])))?;
    expect_status(&resp, 204, "plugin set")?;
    let env = inspect(ctx, name)?["Settings"]["Env"].clone();
    if env != json!(["DEBUG=1"]) {
        return Err(crate::ground::fail(format!(
            "after set DEBUG=1 Settings.Env is {env}; dockerd: [\"DEBUG=1\"]"
        )));
    }
    let resp = ctx.send(Req::post(set).json(json!(["NOPE=1"])))?;
    expect_error(
        &resp,
        500,
        "setting \"NOPE\" not found in the plugin configuration",
        "setting an unknown variable",
    )?;
    let resp = ctx.send(Req::post(format!(
        "/plugins/{}/enable?timeout=5",
        enc(name)
    )))?;
    expect_status(
        &resp,
        500,
        "enabling a plugin whose rootfs has no entrypoint",
    )?;
    if inspect(ctx, name)?["Enabled"] != false {
        return Err(crate::ground::fail(
            "the plugin is enabled after a failed enable",
        ));
    }
    let resp = ctx.send(Req::post(format!("/plugins/{}/disable?force=1", enc(name))))?;
    expect_error(
        &resp,
        409,
        &format!("plugin is already disabled: plugin {name} found but disabled"),
        "disabling a disabled plugin",
    )?;
    for (filter, listed) in [
        (json!({"capability": ["volumedriver"]}), true),
        (json!({"enabled": ["true"]}), false),
    ] {
        let resp = ctx.send(Req::get(format!(
            "/plugins?filters={}",
            enc(&filter.to_string())
        )))?;
        expect_status(&resp, 200, "plugin list")?;
        let v = json_body(&resp, "plugin list")?;
        let has = v
            .as_array()
            .is_some_and(|a| a.iter().any(|p| p["Name"] == json!(name)));
        if has != listed {
            return Err(fail_at(
                &resp,
                format!("plugin list with {filter}: lists {name}: {has}; dockerd: {listed}"),
            ));
        }
    }
    let resp = ctx.send(Req::delete(format!("/plugins/{}", enc(name))))?;
    expect_status(&resp, 200, "plugin delete")?;
    let resp = ctx.send(Req::get(format!("/plugins/{}/json", enc(name))))?;
    expect_error(
        &resp,
        404,
        &format!("plugin \"{name}\" not found"),
        "inspect after delete",
    )
}
