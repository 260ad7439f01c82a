//! What changes with the client's API version on container endpoints, as
//! dockerd 20.10.24 answers (read with curl on this host, 2026-12-03; found
//! by moby's own integration tests `TestUpdatePidsLimit` and
//! `TestInspectCpusetInConfigPre120`):
//! - create with `PidsLimit` 0 or less: inspect shows `PidsLimit: null`;
//! - update with `PidsLimit` -2, -1 or 0 lifts the limit and inspect shows 0;
//!   an update sent as API 1.24 leaves PidsLimit as it was;
//! - inspect as 1.19: no `Mounts`; `Volumes` (destination -> source) and
//!   `VolumesRW`; `Config` carries `Cpuset` (HostConfig's CpusetCpus),
//!   `CpuShares`, `Memory`, `MemorySwap`, `MacAddress`, `NetworkDisabled`,
//!   `VolumeDriver`; `NetworkSettings` has no `Networks`;
//! - inspect as 1.20: `Mounts` again, `Config` still has `MacAddress` and
//!   `NetworkDisabled` but not `Cpuset`; no `Networks`;
//! - from 1.21 on: today's shape;
//! - create as API 1.39 with a `HostConfig` that sets no `IpcMode`: inspect
//!   shows `IpcMode: "shareable"` (clients before 1.40 knew it as the
//!   default); with no `HostConfig` at all, or as 1.40 and later,
//!   "private" (moby's `TestIpcModeOlderClient`).
//! - create with `HostConfig: null` (docker-py sends it without a host
//!   config) takes HostConfig fields from the body's top level (`Memory`,
//!   `Privileged`, `Binds`, `Runtime`...: moby's `ContainerConfigWrapper` embeds a
//!   HostConfig); with a `HostConfig` object too, that object wins, but its
//!   zero `Memory`, `MemorySwap`, `CpuShares` and `CpusetCpus` are taken
//!   from the top level (dockerd 20.10.24: top-level Memory 64 MiB,
//!   Privileged true and CpuShares 512 with `HostConfig {"Privileged":
//!   false}` give Memory 67108864, Privileged false, CpuShares 512).

use super::Made;
use crate::client::{enc, Req};
use crate::ground::{expect_status, fail, json_body, Ctx, Outcome, Problem};
use crate::scenarios::{scenario, Scenario};
use serde_json::{json, Value};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        scenario(
            "containers-api",
            "update-pids-limit",
            true,
            update_pids_limit,
        ),
        scenario(
            "containers-api",
            "inspect-old-versions",
            true,
            inspect_old_versions,
        ),
        scenario(
            "containers-api",
            "create-ipc-mode-old-client",
            true,
            ipc_mode_old_client,
        ),
        scenario(
            "containers-api",
            "create-top-level-host-config",
            true,
            top_level_host_config,
        ),
    ]
}

fn pids_limit(ctx: &Ctx, id: &str) -> Result<Value, Problem> {
    Ok(ctx.inspect(id)?["HostConfig"]["PidsLimit"].clone())
}

fn update_pids_limit(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    for given in [-1, 0] {
        let mut cfg = ctx.probe_config(&["sleep", "300"])?;
        cfg["HostConfig"] = json!({"PidsLimit": given});
        let id = made.create(cfg, None)?;
        let got = pids_limit(ctx, &id)?;
        if got != Value::Null {
            return Err(fail(format!(
                "created with PidsLimit {given}: dockerd shows null, got {got}"
            )));
        }
    }
    let mut cfg = ctx.probe_config(&["sleep", "300"])?;
    cfg["HostConfig"] = json!({"PidsLimit": 32});
    let id = made.create(cfg, None)?;
    ctx.start(&id)?;
    let path = format!("/containers/{}/update", enc(&id));
    let update = |req: Req, limit: i64| -> Outcome {
        let resp = ctx.send(req.json(json!({"PidsLimit": limit})))?;
        expect_status(&resp, 200, "updating PidsLimit")
    };
    update(Req::post(format!("/v1.24{path}")).unversioned(), 16)?;
    let got = pids_limit(ctx, &id)?;
    if got != json!(32) {
        return Err(fail(format!(
            "an update as API 1.24 set PidsLimit to {got}; dockerd ignores it there (32 stays)"
        )));
    }
    for (limit, want) in [
        (16, json!(16)),
        (-1, json!(0)),
        (7, json!(7)),
        (-2, json!(0)),
    ] {
        update(Req::post(path.clone()), limit)?;
        let got = pids_limit(ctx, &id)?;
        if got != want {
            return Err(fail(format!(
                "after an update with PidsLimit {limit} inspect shows {got}; dockerd shows {want}"
            )));
        }
    }
    Ok(())
}

fn inspect_as(ctx: &Ctx, version: &str, id: &str) -> Result<Value, Problem> {
    let resp =
        ctx.send(Req::get(format!("/v{version}/containers/{}/json", enc(id))).unversioned())?;
    expect_status(&resp, 200, &format!("inspect as API {version}"))?;
    json_body(&resp, "inspect")
}

fn inspect_old_versions(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let mut cfg = ctx.probe_config(&["exit", "0"])?;
    cfg["HostConfig"] = json!({"CpusetCpus": "0"});
    cfg["Volumes"] = json!({"/anon": {}});
    let id = made.create(cfg, None)?;
    let has = |v: &Value, k: &str| v.get(k).is_some();
    let v19 = inspect_as(ctx, "1.19", &id)?;
    let cfg19 = &v19["Config"];
    let problems: Vec<String> = [
        (has(&v19, "Mounts"), "has Mounts (dockerd: none before 1.20)"),
        (!v19["Volumes"].get("/anon").is_some_and(Value::is_string), "has no Volumes[\"/anon\"] source"),
        (v19["VolumesRW"].get("/anon") != Some(&json!(true)), "has no VolumesRW[\"/anon\"]: true"),
        (cfg19["Cpuset"] != json!("0"), "Config.Cpuset is not HostConfig's CpusetCpus \"0\""),
        (!["CpuShares", "Memory", "MemorySwap", "MacAddress", "NetworkDisabled", "VolumeDriver"]
            .iter()
            .all(|k| has(cfg19, k)), "Config lacks one of CpuShares, Memory, MemorySwap, MacAddress, NetworkDisabled, VolumeDriver"),
        (has(&v19["NetworkSettings"], "Networks"), "NetworkSettings has Networks"),
    ]
    .into_iter()
    .filter(|(bad, _)| *bad)
    .map(|(_, what)| format!("as 1.19 inspect {what}"))
    .collect();
    if let Some(p) = problems.first() {
        return Err(fail(p.clone()));
    }
    let v20 = inspect_as(ctx, "1.20", &id)?;
    if !has(&v20, "Mounts")
        || has(&v20["Config"], "Cpuset")
        || !has(&v20["Config"], "NetworkDisabled")
        || has(&v20["NetworkSettings"], "Networks")
    {
        return Err(fail(format!(
            "as 1.20 dockerd has Mounts, Config.NetworkDisabled, no Config.Cpuset and no NetworkSettings.Networks; got Config keys {:?}",
            v20["Config"].as_object().map(|o| o.keys().cloned().collect::<Vec<_>>())
        )));
    }
    let v21 = inspect_as(ctx, "1.21", &id)?;
    if has(&v21["Config"], "NetworkDisabled") || !has(&v21["NetworkSettings"], "Networks") {
        return Err(fail("as 1.21 dockerd shows today's shape (no Config.NetworkDisabled, NetworkSettings.Networks)"));
    }
    Ok(())
}

fn ipc_mode_old_client(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    for (version, host_config, want) in [
        ("1.39", Some(json!({"AutoRemove": false})), "shareable"),
        ("1.39", Some(json!({"IpcMode": ""})), "shareable"),
        ("1.39", None, "private"),
        ("1.39", Some(json!({"IpcMode": "private"})), "private"),
        ("1.40", Some(json!({"AutoRemove": false})), "private"),
    ] {
        let mut cfg = ctx.probe_config(&["exit", "0"])?;
        if let Some(hc) = &host_config {
            cfg["HostConfig"] = hc.clone();
        }
        let resp = ctx.send(
            Req::post(format!("/v{version}/containers/create"))
                .unversioned()
                .json(cfg),
        )?;
        expect_status(&resp, 201, &format!("create as API {version}"))?;
        let id = json_body(&resp, "create")?["Id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        made.ids.push(id.clone());
        let got = inspect_as(ctx, version, &id)?["HostConfig"]["IpcMode"].clone();
        if got != json!(want) {
            return Err(fail(format!(
                "created as API {version} with HostConfig {host_config:?}: IpcMode {got}; dockerd: {want:?}"
            )));
        }
    }
    Ok(())
}

fn top_level_host_config(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let mut cfg = ctx.probe_config(&["exit", "0"])?;
    cfg["HostConfig"] = Value::Null;
    cfg["Memory"] = json!(67108864);
    cfg["Privileged"] = json!(true);
    cfg["Binds"] = json!(["/tmp:/shipshape-bind"]);
    // docker-py's create_container(runtime=...) sends it this way.
    cfg["Runtime"] = json!("runc");
    let id = made.create(cfg, None)?;
    let hc = ctx.inspect(&id)?["HostConfig"].clone();
    let got = (
        &hc["Memory"],
        &hc["Privileged"],
        &hc["Binds"],
        &hc["Runtime"],
    );
    let want_binds = json!(["/tmp:/shipshape-bind"]);
    if got != (&json!(67108864), &json!(true), &want_binds, &json!("runc")) {
        return Err(fail(format!(
            "created with HostConfig null and top-level Memory, Privileged, Binds, Runtime: inspect shows Memory {}, Privileged {}, Binds {}, Runtime {}; dockerd takes the top-level fields (67108864, true, [\"/tmp:/shipshape-bind\"], \"runc\")",
            got.0, got.1, got.2, got.3
        )));
    }
    let mut cfg = ctx.probe_config(&["exit", "0"])?;
    cfg["HostConfig"] = json!({ "Privileged": false });
    cfg["Memory"] = json!(67108864);
    cfg["Privileged"] = json!(true);
    cfg["CpuShares"] = json!(512);
    let id = made.create(cfg, None)?;
    let hc = ctx.inspect(&id)?["HostConfig"].clone();
    let got = (&hc["Memory"], &hc["Privileged"], &hc["CpuShares"]);
    if got != (&json!(67108864), &json!(false), &json!(512)) {
        return Err(fail(format!(
            "created with HostConfig {{\"Privileged\": false}} and top-level Memory, Privileged true, CpuShares 512: inspect shows Memory {}, Privileged {}, CpuShares {}; dockerd: 67108864, false (the HostConfig object wins), 512",
            got.0, got.1, got.2
        )));
    }
    Ok(())
}
