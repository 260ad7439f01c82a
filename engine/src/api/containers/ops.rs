//! The rest of the containers group: archive (`docker cp`), export, rename,
//! top, prune, and `GET /system/df`.

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::header::HeaderValue;
use hyper::StatusCode;
use serde_json::{json, Value};

use crate::api::{body, json, no_content, Ctx, Request, Response};
use crate::daemon::archive::{self, ChannelReader, PutOptions};
use crate::daemon::containers::record::Record;
use crate::daemon::{containers::names, volumes, Daemon};
use crate::errdefs::EngineError;
use crate::filters::{self, time::until_filter};

const STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

/// inspect's and list's `Mounts`.
pub fn mounts_json(d: &Daemon, r: &Record) -> Value {
    Value::Array(
        r.mount_points
            .iter()
            .filter(|m| m.listed)
            .map(|m| m.render(d))
            .collect(),
    )
}

fn path_param(ctx: &Ctx) -> Result<String, EngineError> {
    match ctx.query.get("path") {
        Some(p) if !p.is_empty() => Ok(p.to_string()),
        // dockerd's message, missing space included.
        _ => Err(EngineError::InvalidParameter(
            "bad parameter: pathcannot be empty".into(),
        )),
    }
}

fn with_stat(mut resp: Response, stat: &archive::PathStat) -> Response {
    if let Ok(v) = HeaderValue::from_str(&stat.header_value()) {
        resp.headers_mut().insert(STAT_HEADER, v);
    }
    resp
}

/// `HEAD /containers/{id}/archive`.
pub async fn archive_head(ctx: &Ctx, key: &str) -> Result<Response, EngineError> {
    let c = ctx.daemon.container(key)?;
    let path = path_param(ctx)?;
    let stat = archive::stat(&ctx.daemon, &c, &path, key).await?;
    Ok(with_stat(body::status_only(StatusCode::OK), &stat))
}

/// `GET /containers/{id}/archive`.
pub async fn archive_get(ctx: &Ctx, key: &str) -> Result<Response, EngineError> {
    let c = ctx.daemon.container(key)?;
    let path = path_param(ctx)?;
    let (tx, resp) = body::channel(StatusCode::OK, "application/x-tar");
    let stat = archive::get(&ctx.daemon, &c, &path, key, tx).await?;
    Ok(with_stat(resp, &stat))
}

/// `PUT /containers/{id}/archive`.
pub async fn archive_put(ctx: &Ctx, key: &str, req: Request) -> Result<Response, EngineError> {
    let c = ctx.daemon.container(key)?;
    let path = path_param(ctx)?;
    let opts = PutOptions {
        path,
        key: key.to_string(),
        no_overwrite_dir_non_dir: ctx.query.flag("noOverwriteDirNonDir"),
        copy_uid_gid: ctx.query.flag("copyUIDGID"),
    };
    // The body flows to the extracting thread through a small channel, so a
    // large archive is never held in memory.
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    let mut incoming = req.into_body();
    let feeder = tokio::spawn(async move {
        let mut forwarding = true;
        let mut discarded = 0usize;
        while let Some(frame) = incoming.frame().await {
            let Ok(frame) = frame else { break };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if forwarding {
                // The extraction is over (done, or failed).
                forwarding = tx.send(data).await.is_ok();
            } else {
                discarded += data.len();
                if discarded > PUT_DISCARD_MAX {
                    break;
                }
            }
        }
    });
    let res = archive::put(&ctx.daemon, &c, opts, ChannelReader::new(rx)).await;
    // What the extraction left unread (the tar's last zero blocks, the final
    // chunk) is read and dropped before the answer, as Go's server does:
    // closing on a client still sending would fail its write ("broken
    // pipe") instead of showing it the answer.
    let mut feeder = feeder;
    if tokio::time::timeout(PUT_DISCARD_WITHIN, &mut feeder)
        .await
        .is_err()
    {
        feeder.abort();
    }
    res?;
    Ok(body::status_only(StatusCode::OK))
}

/// How much of an archive PUT's body is read and dropped after the
/// extraction ended, and for how long, before the connection is given up.
const PUT_DISCARD_MAX: usize = 1024 * 1024;
const PUT_DISCARD_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

/// `GET /containers/{id}/export`.
pub async fn export(ctx: &Ctx, key: &str) -> Result<Response, EngineError> {
    let c = ctx.daemon.container(key)?;
    // dockerd 20.10.24 sends the export as application/octet-stream.
    let (tx, resp) = body::channel(StatusCode::OK, "application/octet-stream");
    archive::export(&ctx.daemon, &c, tx);
    Ok(resp)
}

/// `POST /containers/{id}/rename`.
pub async fn rename(ctx: &Ctx, key: &str) -> Result<Response, EngineError> {
    let c = ctx.daemon.container(key)?;
    let new = ctx.query.get("name").unwrap_or("");
    if new.is_empty() {
        return Err(EngineError::InvalidParameter(
            "Neither old nor new names may be empty".into(),
        ));
    }
    let new = if new.starts_with('/') {
        new.to_string()
    } else {
        format!("/{new}")
    };
    if !names::is_valid_name(new.trim_start_matches('/')) {
        return Err(EngineError::InvalidParameter(format!(
            "Error when allocating new name: Invalid container name ({new}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )));
    }
    if c.name() == new {
        return Err(EngineError::InvalidParameter(
            "Renaming a container with the same name as its current name".into(),
        ));
    }
    let old = c.name();
    ctx.daemon.rename(&c, &new).map_err(|e| match e {
        EngineError::Conflict(m) => {
            EngineError::Conflict(format!("Error when allocating new name: {m}"))
        }
        other => other,
    })?;
    crate::daemon::events::container(
        &c,
        "rename",
        crate::daemon::events::attrs([("oldName", old)]),
    );
    Ok(no_content())
}

/// `GET /containers/{id}/top`: `ps -ef` columns for the container's
/// processes (every process in its pid namespace), read from /proc; or
/// the host's ps with `ps_args`, as dockerd.
pub async fn top(ctx: &Ctx, key: &str) -> Result<Response, EngineError> {
    let c = ctx.daemon.container(key)?;
    let rec = c.snapshot();
    if !rec.state.running() {
        return Err(EngineError::Conflict(format!(
            "Container {} is not running",
            c.id
        )));
    }
    let pid = rec.state.pid;
    // `-ef` (the default) is read from /proc; other options run ps.
    let args = ctx
        .query
        .get("ps_args")
        .filter(|a| !a.is_empty() && *a != "-ef")
        .map(String::from);
    let d = ctx.daemon.clone();
    let (titles, rows) = tokio::task::spawn_blocking(move || match args {
        Some(args) => crate::daemon::containers::top::ps(d.supervisor(), pid, &args),
        None => crate::daemon::containers::top::ps_ef(pid).map(|rows| {
            let titles = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"];
            (titles.iter().map(|t| t.to_string()).collect(), rows)
        }),
    })
    .await
    .map_err(EngineError::system)??;
    crate::daemon::events::container(&c, "top", Default::default());
    Ok(json(&json!({ "Processes": rows, "Titles": titles })))
}

/// `POST /containers/prune`: stopped containers matching `until`/`label`.
pub async fn prune(ctx: &Ctx) -> Result<Response, EngineError> {
    let f = filters::parse(ctx.query.get("filters"), &["until", "label", "label!"])?;
    let until = match f.get("until").and_then(|v| v.first()) {
        Some(v) => Some(until_filter(v, filters::time::now_ns())?.div_euclid(1_000_000_000)),
        None => None,
    };
    let d = &ctx.daemon;
    let mut deleted = Vec::new();
    let mut space = 0u64;
    for c in d.all_containers() {
        let rec = c.snapshot();
        if rec.state.running() {
            continue;
        }
        let created = chrono::DateTime::parse_from_rfc3339(&rec.created)
            .map(|t| t.timestamp())
            .unwrap_or(0);
        if until.is_some_and(|u| created >= u) {
            continue;
        }
        if !filters::label_filters_match(&f, &rec.config.labels.as_ref()) {
            continue;
        }
        let (rw, _) = crate::daemon::containers::container::sizes(d, &c).await;
        match crate::daemon::containers::lifecycle::remove(d, &c, false).await {
            Ok(()) => {
                space += rw;
                deleted.push(c.id.clone());
            }
            Err(e) => tracing::debug!(id = %c.id, error = %e, "prune skipped a container"),
        }
    }
    Ok(json(&json!({
        "ContainersDeleted": if deleted.is_empty() { Value::Null } else { json!(deleted) },
        "SpaceReclaimed": space,
    })))
}

/// `GET /system/df`.
pub async fn system_df(ctx: &Ctx) -> Result<Response, EngineError> {
    let d = &ctx.daemon;
    let containers = d.all_containers();
    let mut cjson = Vec::new();
    for c in &containers {
        let rec = c.snapshot();
        let mut v = super::render::list_entry(&rec, mounts_json(d, &rec));
        let (rw, rootfs) = crate::daemon::containers::container::sizes(d, c).await;
        v["SizeRw"] = json!(rw);
        v["SizeRootFs"] = json!(rootfs);
        cjson.push(v);
    }
    let images = d.all_images();
    let mut layers_size = 0u64;
    let mut ijson = Vec::new();
    for img in &images {
        layers_size += img.size;
        let users = containers
            .iter()
            .filter(|c| c.record().image_id == img.id)
            .count();
        ijson.push(json!({
            "Containers": users,
            "Created": img.created_unix(),
            "Id": img.id,
            "Labels": img.labels(),
            "ParentId": img.parent,
            "RepoDigests": img.repo_digests,
            "RepoTags": img.repo_tags,
            "SharedSize": -1,
            "Size": img.size,
            "VirtualSize": img.size,
        }));
    }
    let vols = d.volumes.list();
    let mut vjson = Vec::new();
    for v in &vols {
        let mut j = d.volumes.render(v);
        let path = d.volumes.mountpoint(&v.name);
        let size = tokio::task::spawn_blocking(move || volumes::dir_size(&path))
            .await
            .unwrap_or(0);
        j["UsageData"] = json!({
            "RefCount": volumes::users(d, &v.name).len(),
            "Size": size,
        });
        vjson.push(j);
    }
    Ok(json(&json!({
        "LayersSize": layers_size,
        "Images": ijson,
        "Containers": cjson,
        "Volumes": vjson,
        // No BuildKit, so no build cache: dockerd 20.10.24 without BuildKit
        // records says null (asked: `GET /v1.41/system/df`).
        "BuildCache": null,
        "BuilderSize": 0,
    })))
}
