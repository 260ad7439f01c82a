//! Volumes as containers use them: the lifecycle's shapes (inspect,
//! `/system/df`), removal while in use, anonymous volumes going with
//! `DELETE /containers/{id}?v=1`, and prune (empty and not, `label`,
//! `label!`, `SpaceReclaimed`). Prune is sent at API 1.41, whose semantics
//! (every unused volume, no `all` filter) are dockerd 20.10.24's, and always
//! with a label only this scenario's volumes carry: other clients' volumes
//! on the same daemon are never touched. Every expected answer below was
//! read from dockerd 20.10.24.

use super::{expect_error, Made};
use crate::client::{enc, Req};
use crate::ground::{expect_status, fail, fail_at, json_body, Ctx, Outcome, Problem};
use crate::scenarios::{scenario, Scenario};
use serde_json::{json, Value};

const AREA: &str = "containers-api";

pub fn scenarios() -> Vec<Scenario> {
    vec![
        scenario(AREA, "volume-prune-empty", false, prune_empty),
        scenario(AREA, "volume-prune-labels", true, prune_labels),
        scenario(AREA, "volume-lifecycle-shapes", true, lifecycle_shapes),
        scenario(
            AREA,
            "volume-list-filters-and-options",
            false,
            list_filters_options,
        ),
        scenario(
            AREA,
            "volume-local-options-mount",
            true,
            local_options_mount,
        ),
    ]
}

const MARK: &str = "io.shipshape.a2-volume";

fn prune(ctx: &Ctx, filters: Value) -> Result<crate::client::Response, Problem> {
    ctx.send(
        Req::post(format!(
            "/v1.41/volumes/prune?filters={}",
            enc(&filters.to_string())
        ))
        .unversioned(),
    )
}

fn create_volume(ctx: &Ctx, made: &mut Made, labels: Value) -> Result<(String, Value), Problem> {
    let name = ctx.unique_name("vol");
    let resp =
        ctx.send(Req::post("/volumes/create").json(json!({"Name": name, "Labels": labels})))?;
    expect_status(&resp, 201, "creating a volume")?;
    made.volumes.push(name.clone());
    Ok((name, json_body(&resp, "volume create")?))
}

/// dockerd answers an empty list, not null: {"VolumesDeleted":[],"SpaceReclaimed":0}.
fn prune_empty(ctx: &Ctx) -> Outcome {
    let resp = prune(
        ctx,
        json!({"label": [format!("{MARK}={}", ctx.unique_name("none"))]}),
    )?;
    expect_status(&resp, 200, "pruning nothing")?;
    let v = json_body(&resp, "prune")?;
    if v != json!({"VolumesDeleted": [], "SpaceReclaimed": 0}) {
        return Err(fail_at(
            &resp,
            format!("prune of nothing answered {v}; dockerd answers {{\"VolumesDeleted\":[],\"SpaceReclaimed\":0}}"),
        ));
    }
    Ok(())
}

/// `label` and `label!` pick what goes; the answer names it and counts the
/// bytes of its files; 1.41 knows no `all` filter.
fn prune_labels(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let mark = ctx.unique_name("mark");
    let labels = |keep: bool| {
        let mut l = json!({ MARK: mark, crate::ground::RUN_LABEL: ctx.run_id });
        if keep {
            l["keep"] = json!("1");
        }
        l
    };
    let (gone, _) = create_volume(ctx, &mut made, labels(false))?;
    let (kept, _) = create_volume(ctx, &mut made, labels(true))?;
    // Three bytes in the volume that goes.
    let mut cfg = ctx.probe_config(&["write", "/mnt/a2v/f", "abc"])?;
    cfg["HostConfig"] = json!({"Binds": [format!("{gone}:/mnt/a2v")]});
    let id = made.create(cfg, None)?;
    ctx.start(&id)?;
    if ctx.wait(&id)? != 0 {
        return Err(fail("the probe could not write into the volume"));
    }
    let resp = ctx.send(Req::delete(format!("/containers/{}", enc(&id))))?;
    expect_status(&resp, 204, "removing the writer")?;
    made.ids.clear();
    let resp = prune(
        ctx,
        json!({"label": [format!("{MARK}={mark}")], "label!": ["keep"]}),
    )?;
    expect_status(&resp, 200, "pruning by label")?;
    let v = json_body(&resp, "prune")?;
    let want = json!({"VolumesDeleted": [gone], "SpaceReclaimed": 3});
    if v != want {
        return Err(fail_at(
            &resp,
            format!("prune answered {v}; dockerd answers {want}"),
        ));
    }
    let resp = ctx.send(Req::get(format!("/volumes/{}", enc(&kept))))?;
    expect_status(&resp, 200, "the volume label! kept")?;
    let resp = prune(
        ctx,
        json!({"all": ["true"], "label": [format!("{MARK}={mark}")]}),
    )?;
    expect_error(
        &resp,
        400,
        "Invalid filter 'all'",
        "prune with all at API 1.41",
    )
}

/// Inspect and /system/df shapes, 409 on removal in use, and `v=1`
/// removing the anonymous volume but not the named one.
fn lifecycle_shapes(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let (name, created) = create_volume(ctx, &mut made, json!({ MARK: "shape" }))?;
    let resp = ctx.send(Req::get(format!("/volumes/{}", enc(&name))))?;
    expect_status(&resp, 200, "inspecting the volume")?;
    let v = json_body(&resp, "volume inspect")?;
    if v != created {
        return Err(fail_at(
            &resp,
            format!("inspect {v} differs from create's answer {created}"),
        ));
    }
    let mut keys: Vec<&str> = v
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    keys.sort_unstable();
    let want_keys = [
        "CreatedAt",
        "Driver",
        "Labels",
        "Mountpoint",
        "Name",
        "Options",
        "Scope",
    ];
    let mountpoint = v["Mountpoint"].as_str().unwrap_or("");
    if keys != want_keys
        || v["Driver"] != "local"
        || v["Scope"] != "local"
        || v["Options"] != Value::Null
        || v["Labels"] != json!({ MARK: "shape" })
        || !mountpoint.ends_with(&format!("/volumes/{name}/_data"))
    {
        return Err(fail_at(
            &resp,
            format!("volume {v}; dockerd: keys {want_keys:?}, Driver and Scope \"local\", Options null, the labels given, Mountpoint <root>/volumes/<name>/_data"),
        ));
    }
    let mut cfg = ctx.probe_config(&["exit", "0"])?;
    cfg["Volumes"] = json!({"/anon": {}});
    cfg["HostConfig"] = json!({"Binds": [format!("{name}:/mnt/a2v")]});
    let id = made.create(cfg, None)?;
    let resp = ctx.send(Req::delete(format!("/volumes/{}", enc(&name))))?;
    expect_error(
        &resp,
        409,
        &format!("remove {name}: volume is in use - [{id}]"),
        "removing a volume in use",
    )?;
    let resp = ctx.send(Req::delete(format!("/volumes/{}?force=1", enc(&name))))?;
    expect_error(
        &resp,
        409,
        &format!("remove {name}: volume is in use - [{id}]"),
        "force-removing a volume in use",
    )?;
    let ins = ctx.inspect(&id)?;
    let anon = ins["Mounts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["Destination"] == "/anon")
        .and_then(|m| m["Name"].as_str())
        .map(str::to_string)
        .ok_or_else(|| fail("inspect lists no volume mount at /anon"))?;
    made.volumes.push(anon.clone());
    // /system/df: each volume with UsageData {RefCount, Size}.
    let resp = ctx.send(Req::get("/system/df"))?;
    expect_status(&resp, 200, "system df")?;
    let df = json_body(&resp, "system df")?;
    // dockerd 20.10.24's top-level keys (curl .../system/df, 2026-12-03;
    // BuildCache null with no build cache, 2026-12-04).
    let kinds = [
        ("LayersSize", df["LayersSize"].is_i64()),
        ("Images", df["Images"].is_array()),
        ("Containers", df["Containers"].is_array()),
        ("Volumes", df["Volumes"].is_array()),
        ("BuilderSize", df["BuilderSize"].is_i64()),
        // Present always: null while the build cache is empty (as on a
        // daemon that never built with BuildKit), else an array.
        (
            "BuildCache",
            df.get("BuildCache")
                .is_some_and(|b| b.is_null() || b.is_array()),
        ),
    ];
    if let Some((k, _)) = kinds.iter().find(|(_, ok)| !ok) {
        return Err(fail_at(
            &resp,
            format!("/system/df {k}: {}; dockerd: LayersSize and BuilderSize integers, Images, Containers and Volumes arrays, BuildCache null or an array", df[*k]),
        ));
    }
    for (vol, size) in [(&name, 0), (&anon, 0)] {
        let entry = df["Volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["Name"] == json!(vol));
        let want = json!({"RefCount": 1, "Size": size});
        match entry {
            Some(e) if e["UsageData"] == want && e["Scope"] == "local" => {}
            other => {
                return Err(fail_at(
                    &resp,
                    format!("/system/df lists {vol} as {other:?}; dockerd: Scope \"local\", UsageData {want}"),
                ))
            }
        }
    }
    let resp = ctx.send(Req::delete(format!("/containers/{}?v=1", enc(&id))))?;
    expect_status(&resp, 204, "removing the container with v=1")?;
    made.ids.clear();
    let resp = ctx.send(Req::get(format!("/volumes/{}", enc(&anon))))?;
    expect_error(
        &resp,
        404,
        &format!("get {anon}: no such volume"),
        "the anonymous volume after rm -v",
    )?;
    let resp = ctx.send(Req::get(format!("/volumes/{}", enc(&name))))?;
    expect_status(&resp, 200, "the named volume survives rm -v")?;
    let resp = ctx.send(Req::delete(format!("/volumes/{}", enc(&name))))?;
    expect_status(&resp, 204, "removing the volume once unused")?;
    Ok(())
}

/// `Driver` and `DriverOpts` on create, `GET /volumes?filters=` by label,
/// name (alone too, and as a regexp) and driver, and the errors (dockerd
/// 20.10.24): a tmpfs volume of the local driver is 201 with `Options` as given; an unknown driver 404
/// `create N: error looking up volume plugin D: plugin "D" not found`; an
/// option the local driver lacks 400 `create N: invalid option: "bogus"`;
/// an unknown filter 400 `Invalid filter 'bogus'`, a bad `dangling` 400
/// `Invalid filter 'dangling=[maybe]'`; removing an unknown volume 404
/// `get N: no such volume`.
fn list_filters_options(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let name = ctx.unique_name("vol-opts");
    let mark = format!("{MARK}={name}");
    let mut labels = ctx.labels();
    labels[MARK] = json!(name);
    let opts = json!({"type": "tmpfs", "device": "tmpfs", "o": "size=1m"});
    let resp = ctx
        .send(Req::post("/volumes/create").json(
            json!({"Name": name, "Driver": "local", "DriverOpts": opts, "Labels": labels}),
        ))?;
    expect_status(&resp, 201, "creating a tmpfs volume")?;
    made.volumes.push(name.clone());
    let v = json_body(&resp, "volume create")?;
    if v["Options"] != opts || v["Driver"] != "local" {
        return Err(fail_at(
            &resp,
            format!("create gave {v}; dockerd: Driver local, Options {opts}"),
        ));
    }
    // `name` alone too, and as the regular expression dockerd takes it for
    // (an anchored pattern matches the whole name). A second volume of
    // this scenario (with the MARK label too) must not be listed: on an
    // otherwise empty daemon a list that ignored `name` would still look
    // right without it.
    let decoy = ctx.unique_name("vol-decoy");
    let mut decoy_labels = ctx.labels();
    decoy_labels[MARK] = json!(decoy);
    let resp = ctx
        .send(Req::post("/volumes/create").json(json!({"Name": decoy, "Labels": decoy_labels})))?;
    expect_status(&resp, 201, "creating a second volume")?;
    made.volumes.push(decoy);
    let queries = [
        json!({"label": [mark]}),
        json!({"name": [name], "driver": ["local"], "label": [MARK]}),
        json!({"name": [name]}),
        json!({"name": [format!("^{name}$")]}),
    ];
    for f in queries {
        let resp = ctx.send(Req::get(format!(
            "/volumes?filters={}",
            enc(&f.to_string())
        )))?;
        expect_status(&resp, 200, &format!("volume list with {f}"))?;
        let v = json_body(&resp, "volume list")?;
        let names: Vec<&str> = v["Volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x["Name"].as_str())
            .collect();
        if names != [name.as_str()] {
            return Err(fail_at(
                &resp,
                format!("filters {f} listed {names:?}; dockerd: [{name:?}]"),
            ));
        }
    }
    for (f, message) in [
        (json!({"bogus": ["x"]}), "Invalid filter 'bogus'"),
        (
            json!({"dangling": ["maybe"]}),
            "Invalid filter 'dangling=[maybe]'",
        ),
    ] {
        let resp = ctx.send(Req::get(format!(
            "/volumes?filters={}",
            enc(&f.to_string())
        )))?;
        expect_error(&resp, 400, message, &format!("volume list with {f}"))?;
    }
    let other = ctx.unique_name("vol-bad");
    let driver = format!("shipshape-{}-no-such-driver", ctx.run_id);
    let resp =
        ctx.send(Req::post("/volumes/create").json(json!({"Name": other, "Driver": driver})))?;
    if resp.status == 201 {
        made.volumes.push(other.clone());
    }
    expect_error(
        &resp,
        404,
        &format!("create {other}: error looking up volume plugin {driver}: plugin \"{driver}\" not found"),
        "a volume of an unknown driver",
    )?;
    let resp = ctx.send(
        Req::post("/volumes/create").json(json!({"Name": other, "DriverOpts": {"bogus": "1"}})),
    )?;
    if resp.status == 201 {
        made.volumes.push(other.clone());
    }
    expect_error(
        &resp,
        400,
        &format!("create {other}: invalid option: \"bogus\""),
        "an unknown option",
    )?;
    let resp = ctx.send(Req::delete(format!("/volumes/{}", enc(&other))))?;
    expect_error(
        &resp,
        404,
        &format!("get {other}: no such volume"),
        "removing an unknown volume",
    )
}

/// The local driver's options at work (dockerd 20.10.24, read with the
/// docker CLI and curl): a tmpfs volume (`type=tmpfs device=tmpfs
/// o=size=1m,uid=1000`) is mounted when a container using it starts
/// (`/proc/mounts` in the container: `tmpfs /mnt/opts tmpfs
/// rw,relatime,size=1024k,uid=1000 0 0`) and unmounted when it stops: a
/// file written by one container is gone for the next. Options that cannot
/// be mounted fail the start with 500: an empty device `error while
/// mounting volume '<Mountpoint>': missing device in volume options`; a
/// filesystem type the kernel lacks `... failed to mount local volume:
/// mount x:<Mountpoint>, data: bogusopt: no such device`.
fn local_options_mount(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let mut volume = |opts: Value| -> Result<(String, String), Problem> {
        let name = ctx.unique_name("vol-mnt");
        let resp = ctx.send(
            Req::post("/volumes/create")
                .json(json!({"Name": name, "DriverOpts": opts, "Labels": ctx.labels()})),
        )?;
        expect_status(
            &resp,
            201,
            &format!("creating a volume with options {opts}"),
        )?;
        made.volumes.push(name.clone());
        let v = json_body(&resp, "volume create")?;
        Ok((name, v["Mountpoint"].as_str().unwrap_or("").to_string()))
    };
    let (tmpfs, _) = volume(json!({"type": "tmpfs", "device": "tmpfs", "o": "size=1m,uid=1000"}))?;
    let (nodev, nodev_at) = volume(json!({"type": "tmpfs", "device": "", "o": "size=1m"}))?;
    let (bogus, bogus_at) =
        volume(json!({"type": "shipshape-bogusfs", "device": "x", "o": "bogusopt"}))?;
    let with = |vol: &str, args: &[&str]| -> Result<Value, Problem> {
        let mut cfg = ctx.probe_config(args)?;
        cfg["HostConfig"] = json!({"Binds": [format!("{vol}:/mnt/opts")]});
        Ok(cfg)
    };
    let out = ctx.config_output(with(
        &tmpfs,
        &[
            "read",
            "/proc/mounts",
            "--",
            "write",
            "/mnt/opts/f",
            "x",
            "--",
            "ls",
            "/mnt/opts",
        ],
    )?)?;
    let line = out.lines().find(|l| l.contains(" /mnt/opts "));
    let mounted = line.is_some_and(|l| {
        l.starts_with("tmpfs /mnt/opts tmpfs ")
            && l.contains("size=1024k")
            && l.contains("uid=1000")
    });
    if !mounted || !out.lines().any(|l| l == "f") {
        return Err(fail(format!(
            "the container saw {line:?} at /mnt/opts and listed {:?}; dockerd: a tmpfs \
             (`tmpfs /mnt/opts tmpfs rw,relatime,size=1024k,uid=1000 0 0`) holding the file written",
            out.lines().filter(|l| !l.contains(' ')).collect::<Vec<_>>()
        )));
    }
    let out = ctx.config_output(with(&tmpfs, &["ls", "/mnt/opts"])?)?;
    if !out.trim().is_empty() {
        return Err(fail(format!(
            "the next container found {out:?} in the tmpfs volume; dockerd: empty (unmounted \
             when the first stopped)"
        )));
    }
    for (vol, message) in [
        (
            &nodev,
            format!("error while mounting volume '{nodev_at}': missing device in volume options"),
        ),
        (
            &bogus,
            format!(
                "error while mounting volume '{bogus_at}': failed to mount local volume: mount \
                 x:{bogus_at}, data: bogusopt: no such device"
            ),
        ),
    ] {
        let id = made.create(with(vol, &["exit", "0"])?, None)?;
        let resp = ctx.send(Req::post(format!("/containers/{}/start", enc(&id))))?;
        expect_error(
            &resp,
            500,
            &message,
            &format!("starting a container on {vol}"),
        )?;
    }
    Ok(())
}
