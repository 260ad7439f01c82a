//! Container operations the other scenarios never sent: rename, export,
//! stats, resize, update, pause/unpause conflicts, kill errors and prune by
//! label. Every status and message below is dockerd 20.10.24's answer,
//! read from it with curl on this host.

use super::{expect_error, Made};
use crate::client::{enc, Req};
use crate::ground::{expect_status, fail, fail_at, json_body, Ctx, Outcome, RUN_LABEL};
use crate::scenarios::{scenario, Scenario};
use serde_json::{json, Value};

const AREA: &str = "containers-api";

pub fn scenarios() -> Vec<Scenario> {
    vec![
        scenario(AREA, "rename-answers", true, rename_answers),
        scenario(AREA, "export-tar", true, export_tar),
        scenario(AREA, "stats-keys", true, stats_keys),
        scenario(AREA, "resize-update-pause", true, resize_update_pause),
        scenario(AREA, "prune-by-label", true, prune_by_label),
    ]
}

fn post(ctx: &Ctx, path: String) -> Result<crate::client::Response, crate::ground::Problem> {
    ctx.send(Req::post(path))
}

/// 204 and the new Name; 409 for a taken name, 400 for an empty, the same
/// or an invalid name, 404 for an unknown container.
fn rename_answers(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let a = ctx.unique_name("ren-a");
    let b = ctx.unique_name("ren-b");
    let c = ctx.unique_name("ren-c");
    let ida = made.create(ctx.probe_config(&["exit", "0"])?, Some(&a))?;
    let idb = made.create(ctx.probe_config(&["exit", "0"])?, Some(&b))?;
    let rename = |who: &str, to: Option<&str>| {
        let q = to.map(|t| format!("?name={}", enc(t))).unwrap_or_default();
        post(ctx, format!("/containers/{}/rename{q}", enc(who)))
    };
    let resp = rename(&a, Some(&b))?;
    expect_error(
        &resp,
        409,
        &format!("Error when allocating new name: Conflict. The container name \"/{b}\" is already in use by container \"{idb}\". You have to remove (or rename) that container to be able to reuse that name."),
        "rename to a taken name",
    )?;
    for to in [Some(""), None] {
        expect_error(
            &rename(&a, to)?,
            400,
            "Neither old nor new names may be empty",
            "rename without a new name",
        )?;
    }
    expect_error(
        &rename(&a, Some(&a))?,
        400,
        "Renaming a container with the same name as its current name",
        "rename to the same name",
    )?;
    expect_error(
        &rename(&a, Some("a b"))?,
        400,
        "Error when allocating new name: Invalid container name (/a b), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
        "rename to an invalid name",
    )?;
    let missing = ctx.unique_name("missing");
    expect_error(
        &rename(&missing, Some("x"))?,
        404,
        &format!("No such container: {missing}"),
        "rename of an unknown container",
    )?;
    let resp = rename(&ida, Some(&c))?;
    expect_status(&resp, 204, "renaming a container")?;
    let name = ctx.inspect(&ida)?["Name"].clone();
    if name != json!(format!("/{c}")) {
        return Err(fail(format!(
            "after the rename Name is {name}, dockerd: \"/{c}\""
        )));
    }
    Ok(())
}

/// 200 application/octet-stream: the container's whole filesystem as a tar
/// (with /.dockerenv and the image's /data); 404 for an unknown container.
fn export_tar(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let id = made.create(ctx.probe_config(&["exit", "0"])?, None)?;
    let resp = ctx.send(Req::get(format!("/containers/{}/export", enc(&id))))?;
    expect_status(&resp, 200, "exporting a container")?;
    if resp.header("Content-Type") != Some("application/octet-stream") {
        return Err(fail_at(
            &resp,
            "export's Content-Type is not application/octet-stream (dockerd's)",
        ));
    }
    let mut names = Vec::new();
    let mut ar = tar::Archive::new(&resp.body[..]);
    let entries = ar
        .entries()
        .map_err(|e| fail_at(&resp, format!("export is not a tar: {e}")))?;
    for e in entries {
        let e = e.map_err(|e| fail_at(&resp, format!("export is not a tar: {e}")))?;
        let p = e
            .path()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        names.push(p.trim_end_matches('/').trim_start_matches("./").to_string());
    }
    for want in [".dockerenv", "probe", "data/alpha", "etc/passwd"] {
        if !names.iter().any(|n| n == want) {
            return Err(fail_at(
                &resp,
                format!("the export lacks {want}; it holds {names:?}"),
            ));
        }
    }
    let missing = ctx.unique_name("missing");
    let resp = ctx.send(Req::get(format!("/containers/{missing}/export")))?;
    expect_error(
        &resp,
        404,
        &format!("No such container: {missing}"),
        "export of an unknown container",
    )
}

const STATS_KEYS: [&str; 11] = [
    "blkio_stats",
    "cpu_stats",
    "id",
    "memory_stats",
    "name",
    "num_procs",
    "pids_stats",
    "precpu_stats",
    "preread",
    "read",
    "storage_stats",
];

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

/// `stream=0`: one JSON object. A created container: the eleven keys of
/// STATS_KEYS; running, `networks` too (bridge). `one-shot=1` leaves
/// precpu_stats zero. `name` is "/<name>", `id` the full id.
fn stats_keys(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let name = ctx.unique_name("stats");
    let id = made.create(ctx.probe_config(&["sleep", "300"])?, Some(&name))?;
    let stats = |q: &str| -> Result<(crate::client::Response, Value), crate::ground::Problem> {
        let resp = ctx.send(Req::get(format!("/containers/{}/stats?{q}", enc(&id))))?;
        expect_status(&resp, 200, &format!("stats?{q}"))?;
        let v = json_body(&resp, "stats")?;
        Ok((resp, v))
    };
    let (resp, v) = stats("stream=0")?;
    let want: Vec<String> = STATS_KEYS.iter().map(|s| s.to_string()).collect();
    if keys(&v) != want || v["id"] != json!(id) || v["name"] != json!(format!("/{name}")) {
        return Err(fail_at(
            &resp,
            format!("stats of a created container: keys {:?}, id {}, name {}; dockerd: keys {want:?}, the full id, \"/<name>\"", keys(&v), v["id"], v["name"]),
        ));
    }
    ctx.start(&id)?;
    let mut want_running = want.clone();
    want_running.push("networks".into());
    want_running.sort();
    let (resp, v) = stats("stream=0&one-shot=1")?;
    let zero = json!({"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0}, "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}});
    if keys(&v) != want_running || v["precpu_stats"] != zero || !v["networks"].is_object() {
        return Err(fail_at(
            &resp,
            format!("one-shot stats of a running container: keys {:?}, precpu_stats {}; dockerd: keys {want_running:?}, precpu_stats {zero}, networks an object", keys(&v), v["precpu_stats"]),
        ));
    }
    let missing = ctx.unique_name("missing");
    let resp = ctx.send(Req::get(format!("/containers/{missing}/stats?stream=0")))?;
    expect_error(
        &resp,
        404,
        &format!("No such container: {missing}"),
        "stats of an unknown container",
    )
}

/// Resize: 409 "Container <id> is not running" before the start, 200 once
/// running (no TTY needed), 400 with strconv's words for a bad height, 404
/// unknown. Update: 200 {"Warnings":null} and inspect shows it. Pause
/// twice: 409 "already paused"; unpause twice: 500 "is not paused". Kill
/// with a bad signal: 400; of an unknown container: 404.
fn resize_update_pause(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let id = made.create(ctx.probe_config(&["sleep", "300"])?, None)?;
    let c = |op: &str| format!("/containers/{}/{op}", enc(&id));
    expect_error(
        &post(ctx, c("resize?h=10&w=20"))?,
        409,
        &format!("Container {id} is not running"),
        "resize of a created container",
    )?;
    ctx.start(&id)?;
    expect_status(
        &post(ctx, c("resize?h=10&w=20"))?,
        200,
        "resize of a running container",
    )?;
    expect_error(
        &post(ctx, c("resize?h=x&w=20"))?,
        400,
        "strconv.Atoi: parsing \"x\": invalid syntax",
        "resize with a bad height",
    )?;
    let missing = ctx.unique_name("missing");
    expect_error(
        &post(ctx, format!("/containers/{missing}/resize?h=1&w=1"))?,
        404,
        &format!("No such container: {missing}"),
        "resize of an unknown container",
    )?;
    let resp = ctx.send(Req::post(c("update")).json(
        json!({"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 2}, "PidsLimit": 50}),
    ))?;
    expect_status(&resp, 200, "updating a container")?;
    let body = json_body(&resp, "update")?;
    if body != json!({"Warnings": null}) {
        return Err(fail_at(
            &resp,
            format!("update answered {body}; dockerd: {{\"Warnings\":null}}"),
        ));
    }
    let hc = ctx.inspect(&id)?["HostConfig"].clone();
    if hc["RestartPolicy"] != json!({"Name": "on-failure", "MaximumRetryCount": 2})
        || hc["PidsLimit"] != json!(50)
    {
        return Err(fail(format!(
            "after the update RestartPolicy {} PidsLimit {}; dockerd shows what was set",
            hc["RestartPolicy"], hc["PidsLimit"]
        )));
    }
    expect_error(
        &ctx.send(Req::post(format!("/containers/{missing}/update")).json(json!({})))?,
        404,
        &format!("No such container: {missing}"),
        "update of an unknown container",
    )?;
    expect_status(&post(ctx, c("pause"))?, 204, "pausing")?;
    expect_error(
        &post(ctx, c("pause"))?,
        409,
        &format!("Container {id} is already paused"),
        "pausing twice",
    )?;
    expect_status(&post(ctx, c("unpause"))?, 204, "unpausing")?;
    expect_error(
        &post(ctx, c("unpause"))?,
        500,
        &format!("Container {id} is not paused"),
        "unpausing twice",
    )?;
    expect_error(
        &post(ctx, c("kill?signal=BOGUS"))?,
        400,
        "Invalid signal: BOGUS",
        "kill with an unknown signal",
    )?;
    expect_error(
        &post(ctx, format!("/containers/{missing}/kill"))?,
        404,
        &format!("Cannot kill container: {missing}: No such container: {missing}"),
        "kill of an unknown container",
    )
}

/// `POST /containers/prune` with a label only this scenario uses: the
/// stopped container goes, the running one stays; nothing matching
/// answers null; an unknown filter is 400 "Invalid filter 'bogus'".
fn prune_by_label(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let mark = ctx.unique_name("prune");
    let labelled = |args: &[&str]| -> Result<Value, crate::ground::Problem> {
        let mut cfg = ctx.probe_config(args)?;
        cfg["Labels"] = json!({ RUN_LABEL: ctx.run_id, "io.shipshape.prune": mark });
        Ok(cfg)
    };
    let stopped = made.create(labelled(&["exit", "0"])?, None)?;
    let running = made.create(labelled(&["sleep", "300"])?, None)?;
    ctx.start(&running)?;
    let prune = |label: &str| {
        let f = json!({"label": [format!("io.shipshape.prune={label}")]}).to_string();
        post(ctx, format!("/containers/prune?filters={}", enc(&f)))
    };
    let resp = prune(&mark)?;
    expect_status(&resp, 200, "pruning by label")?;
    let v = json_body(&resp, "prune")?;
    let want = json!({"ContainersDeleted": [stopped], "SpaceReclaimed": 0});
    if v != want {
        return Err(fail_at(
            &resp,
            format!("prune answered {v}; dockerd: {want}"),
        ));
    }
    ctx.inspect(&running)?;
    let resp = prune(&format!("{mark}-none"))?;
    expect_status(&resp, 200, "pruning nothing")?;
    let v = json_body(&resp, "prune")?;
    let want = json!({"ContainersDeleted": null, "SpaceReclaimed": 0});
    if v != want {
        return Err(fail_at(
            &resp,
            format!("prune of nothing answered {v}; dockerd: {want}"),
        ));
    }
    let f = json!({"bogus": ["x"]}).to_string();
    expect_error(
        &post(ctx, format!("/containers/prune?filters={}", enc(&f)))?,
        400,
        "Invalid filter 'bogus'",
        "prune with an unknown filter",
    )
}
