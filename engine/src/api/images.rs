//! Images API group: load, list, inspect, tag, remove, save. Shapes and
//! messages follow dockerd 20.10 (API 1.41), with the fields later API
//! versions dropped left out when the client asks for those versions.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::StatusCode;
use serde_json::{json, Map, Value};
use shipshape_store::{reference, Image, ImageStore, ImageUserView, StoreError};
use tokio::sync::mpsc;

use super::{body, json, ApiVersion, Ctx, Request, Response};
use crate::error::ApiError;

/// `VirtualSize` left the image shapes in API 1.44.
const NO_VIRTUAL_SIZE: ApiVersion = ApiVersion(1, 44);
/// `Container` and `ContainerConfig` left image inspect in API 1.45.
const NO_CONTAINER_CONFIG: ApiVersion = ApiVersion(1, 45);

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::from)
}

// ---------------------------------------------------------------- list

const FILTER_KEYS: &[&str] = &["dangling", "label", "before", "since", "reference"];

fn parse_filters(raw: Option<&str>) -> Result<BTreeMap<String, Vec<String>>, ApiError> {
    super::filters::parse(raw, FILTER_KEYS)
}

/// dockerd's `MatchKVList`: `key` or `key=value`, all must match.
fn labels_match(img: &Image, wanted: &[String]) -> bool {
    let labels = img.labels();
    wanted.iter().all(|w| {
        let (k, v) = match w.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (w.as_str(), None),
        };
        match labels.and_then(|l| l.get(k)) {
            None => false,
            Some(have) => v.is_none_or(|v| have.as_str() == Some(v)),
        }
    })
}

pub async fn list(ctx: &Ctx) -> Result<Response, ApiError> {
    let filters = parse_filters(ctx.query.get("filters"))?;
    let all = ctx.query.flag("all");
    let store = &ctx.daemon.images;

    let dangling = match filters.get("dangling").map(|v| v.as_slice()) {
        None => None,
        Some([one]) if one.eq_ignore_ascii_case("true") || one == "1" => Some(true),
        Some([one]) if one.eq_ignore_ascii_case("false") || one == "0" => Some(false),
        Some(vals) => {
            return Err(ApiError::BadRequest(format!(
                "Invalid filter 'dangling=[{}]'",
                vals.join(" ")
            )))
        }
    };
    // before/since name an image; an unknown one is dockerd's 404.
    let bound = |key: &str| -> Result<Option<i64>, ApiError> {
        match filters.get(key).and_then(|v| v.last()) {
            None => Ok(None),
            Some(r) => Ok(Some(store.get(r)?.created_unix())),
        }
    };
    let before = bound("before")?;
    let since = bound("since")?;
    let patterns = filters.get("reference");
    let labels = filters.get("label");

    let mut images = store.list();
    images.sort_by_key(|i| std::cmp::Reverse(i.created_unix()));
    let mut out = Vec::new();
    for img in images {
        let created = img.created_unix();
        if before.is_some_and(|b| created >= b) || since.is_some_and(|s| created <= s) {
            continue;
        }
        if let Some(d) = dangling {
            if d != img.repo_tags.is_empty() {
                continue;
            }
        }
        if labels.is_some_and(|l| !labels_match(&img, l)) {
            continue;
        }
        // Untagged intermediate images (those with children) show only with `all`.
        if !all && img.repo_tags.is_empty() && !store.children(&img.id).is_empty() {
            continue;
        }
        let mut tags = img.repo_tags.clone();
        if let Some(patterns) = patterns {
            // Only the tags that match stay; an image with none is left out.
            let mut kept = Vec::new();
            for t in &tags {
                let name = t.rsplit_once(':').map(|(n, _)| n).unwrap_or(t);
                for p in patterns {
                    if reference::glob_match(p, t)? || reference::glob_match(p, name)? {
                        kept.push(t.clone());
                        break;
                    }
                }
            }
            if kept.is_empty() {
                continue;
            }
            tags = kept;
        }
        out.push(summary(ctx.version, &img, tags));
    }
    Ok(json(&out))
}

fn summary(version: ApiVersion, img: &Image, tags: Vec<String>) -> Value {
    let (repo_tags, repo_digests) = if tags.is_empty() {
        if version < NO_VIRTUAL_SIZE {
            (json!(["<none>:<none>"]), json!(["<none>@<none>"]))
        } else {
            (json!([]), json!([]))
        }
    } else if version < NO_VIRTUAL_SIZE {
        // dockerd 20.10 sends null when there are tags but no digests.
        (json!(tags), Value::Null)
    } else {
        (json!(tags), json!(img.repo_digests))
    };
    let mut m = Map::new();
    m.insert("Containers".into(), json!(-1));
    m.insert("Created".into(), json!(img.created_unix()));
    m.insert("Id".into(), json!(img.id));
    m.insert(
        "Labels".into(),
        img.labels()
            .map(|l| Value::Object(l.clone()))
            .unwrap_or(Value::Null),
    );
    m.insert("ParentId".into(), json!(img.parent));
    m.insert("RepoDigests".into(), repo_digests);
    m.insert("RepoTags".into(), repo_tags);
    m.insert("SharedSize".into(), json!(-1));
    m.insert("Size".into(), json!(img.size));
    if version < NO_VIRTUAL_SIZE {
        m.insert("VirtualSize".into(), json!(img.size));
    }
    Value::Object(m)
}

// ---------------------------------------------------------------- inspect

/// Go's `container.Config` as dockerd serialises it: every field present
/// (zero values included), in its order; `omitempty` ones only when set.
fn go_container_config(v: Option<&Value>) -> Value {
    let empty = Map::new();
    let c = v.and_then(|v| v.as_object()).unwrap_or(&empty);
    let s = |k: &str| c.get(k).cloned().unwrap_or_else(|| json!(""));
    let b = |k: &str| c.get(k).cloned().unwrap_or(json!(false));
    let n = |k: &str| c.get(k).cloned().unwrap_or(Value::Null);
    let mut m = Map::new();
    let opt = |m: &mut Map<String, Value>, k: &str| {
        if let Some(v) = c.get(k) {
            let set = match v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::String(s) => !s.is_empty(),
                Value::Array(a) => !a.is_empty(),
                Value::Object(o) => !o.is_empty(),
                Value::Number(_) => true,
            };
            if set {
                m.insert(k.into(), v.clone());
            }
        }
    };
    m.insert("Hostname".into(), s("Hostname"));
    m.insert("Domainname".into(), s("Domainname"));
    m.insert("User".into(), s("User"));
    m.insert("AttachStdin".into(), b("AttachStdin"));
    m.insert("AttachStdout".into(), b("AttachStdout"));
    m.insert("AttachStderr".into(), b("AttachStderr"));
    opt(&mut m, "ExposedPorts");
    m.insert("Tty".into(), b("Tty"));
    m.insert("OpenStdin".into(), b("OpenStdin"));
    m.insert("StdinOnce".into(), b("StdinOnce"));
    m.insert("Env".into(), n("Env"));
    m.insert("Cmd".into(), n("Cmd"));
    opt(&mut m, "Healthcheck");
    opt(&mut m, "ArgsEscaped");
    m.insert("Image".into(), s("Image"));
    m.insert("Volumes".into(), n("Volumes"));
    m.insert("WorkingDir".into(), s("WorkingDir"));
    m.insert("Entrypoint".into(), n("Entrypoint"));
    opt(&mut m, "NetworkDisabled");
    opt(&mut m, "MacAddress");
    m.insert("OnBuild".into(), n("OnBuild"));
    m.insert("Labels".into(), n("Labels"));
    opt(&mut m, "StopSignal");
    opt(&mut m, "StopTimeout");
    opt(&mut m, "Shell");
    Value::Object(m)
}

fn inspect_json(ctx: &Ctx, store: &ImageStore, img: &Image) -> Value {
    let cfg = &img.config;
    let text = |k: &str| {
        cfg.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let mut m = Map::new();
    m.insert("Id".into(), json!(img.id));
    m.insert("RepoTags".into(), json!(img.repo_tags));
    m.insert("RepoDigests".into(), json!(img.repo_digests));
    m.insert("Parent".into(), json!(img.parent));
    m.insert("Comment".into(), json!(text("comment")));
    m.insert("Created".into(), json!(img.created));
    if ctx.version < NO_CONTAINER_CONFIG {
        m.insert("Container".into(), json!(text("container")));
        m.insert(
            "ContainerConfig".into(),
            go_container_config(cfg.get("container_config")),
        );
    }
    m.insert("DockerVersion".into(), json!(text("docker_version")));
    m.insert("Author".into(), json!(text("author")));
    m.insert(
        "Config".into(),
        match cfg.get("config") {
            Some(c) if c.is_object() => go_container_config(Some(c)),
            _ => Value::Null,
        },
    );
    m.insert("Architecture".into(), json!(text("architecture")));
    if let Some(v) = cfg
        .get("variant")
        .and_then(|v| v.as_str())
        .filter(|v| !v.is_empty())
    {
        m.insert("Variant".into(), json!(v));
    }
    m.insert("Os".into(), json!(text("os")));
    if let Some(v) = cfg
        .get("os.version")
        .and_then(|v| v.as_str())
        .filter(|v| !v.is_empty())
    {
        m.insert("OsVersion".into(), json!(v));
    }
    m.insert("Size".into(), json!(img.size));
    if ctx.version < NO_VIRTUAL_SIZE {
        m.insert("VirtualSize".into(), json!(img.size));
    }
    // Where the layers live: the top one as UpperDir, the rest (top first)
    // as LowerDir, like overlay2 reports an image.
    let dirs = store.layer_dirs(&img.id).unwrap_or_default();
    let data = match dirs.split_last() {
        None => Value::Null,
        Some((top, rest)) => {
            let mut d = Map::new();
            if !rest.is_empty() {
                let lower: Vec<String> =
                    rest.iter().rev().map(|p| p.display().to_string()).collect();
                d.insert("LowerDir".into(), json!(lower.join(":")));
            }
            d.insert("UpperDir".into(), json!(top.display().to_string()));
            Value::Object(d)
        }
    };
    m.insert(
        "GraphDriver".into(),
        json!({"Data": data, "Name": "overlay2"}),
    );
    let mut rootfs = Map::new();
    rootfs.insert(
        "Type".into(),
        json!(cfg
            .get("rootfs")
            .and_then(|r| r.get("type"))
            .and_then(|t| t.as_str())
            .unwrap_or("layers")),
    );
    if !img.layers.is_empty() {
        rootfs.insert("Layers".into(), json!(img.layers));
    }
    m.insert("RootFS".into(), Value::Object(rootfs));
    m.insert("Metadata".into(), json!({"LastTagTime": img.last_tag_time}));
    Value::Object(m)
}

pub async fn inspect(ctx: &Ctx, name: &str) -> Result<Response, ApiError> {
    let store = &ctx.daemon.images;
    // dockerd wraps the lookup error: "no such image: <name>: <cause>".
    let img = store.get(name).map_err(|e| {
        let msg = format!("no such image: {name}: {e}");
        match ApiError::from(e) {
            ApiError::NotFound(_) => ApiError::NotFound(msg),
            ApiError::BadRequest(_) => ApiError::BadRequest(msg),
            ApiError::Conflict(_) => ApiError::Conflict(msg),
            _ => ApiError::Internal(msg),
        }
    })?;
    Ok(json(&inspect_json(ctx, store, &img)))
}

// ---------------------------------------------------------------- tag

pub async fn tag(ctx: &Ctx, name: &str) -> Result<Response, ApiError> {
    let repo = ctx.query.get("repo").unwrap_or("");
    let tag = ctx.query.get("tag");
    ctx.daemon.images.tag(name, repo, tag)?;
    crate::daemon::events::image_tagged(&ctx.daemon, name, repo, tag);
    Ok(body::status_only(StatusCode::CREATED))
}

// ---------------------------------------------------------------- remove

pub async fn remove(ctx: &Ctx, name: &str) -> Result<Response, ApiError> {
    let force = ctx.query.flag("force");
    let noprune = ctx.query.flag("noprune");
    let daemon = ctx.daemon.clone();
    let name = name.to_string();
    let items = blocking(move || {
        let users = |id: &str| {
            daemon
                .containers_using_image(id)
                .into_iter()
                .map(|u| ImageUserView {
                    container_id: u.container_id,
                    running: u.running,
                })
                .collect()
        };
        let id = daemon.images.get(&name).map(|i| i.id).ok();
        let items = daemon.images.remove(&name, force, noprune, &users);
        if let (Some(id), Ok(items)) = (id, &items) {
            crate::daemon::events::image_removed(&id, items);
        }
        items
    })
    .await?;
    Ok(json(&items))
}

// ---------------------------------------------------------------- load

fn stream_line(msg: &str) -> Bytes {
    let mut v = serde_json::to_vec(&json!({ "stream": format!("{msg}\n") })).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

fn error_line(msg: &str) -> Bytes {
    let mut v = serde_json::to_vec(&json!({"errorDetail": {"message": msg}, "error": msg}))
        .unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

/// Deletes the spooled upload however the load ends.
struct SpoolFile(std::path::PathBuf);

impl Drop for SpoolFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub async fn load(ctx: &Ctx, req: Request) -> Result<Response, ApiError> {
    // Spool the upload to disk first: bounded memory, and the store wants a
    // plain reader it can drive from a blocking thread.
    let tmp = ctx.daemon.tmp_dir();
    let path = tmp.join(format!("load-{:016x}.tar", rand::random::<u64>()));
    let spool = SpoolFile(path.clone());
    // The upload is written by a blocking thread fed through a small channel,
    // so a slow disk never stalls the runtime and memory stays bounded.
    let (chunks_tx, mut chunks_rx) = mpsc::channel::<Bytes>(16);
    let writer_path = path.clone();
    let writer = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        std::fs::create_dir_all(tmp)?;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&writer_path)?);
        while let Some(chunk) = chunks_rx.blocking_recv() {
            f.write_all(&chunk)?;
        }
        f.flush()
    });
    let mut body = req.into_body();
    let mut upload_err = None;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Ok(data) = frame.into_data() {
                    if chunks_tx.send(data).await.is_err() {
                        break; // the writer failed; its error is reported below
                    }
                }
            }
            Err(e) => {
                upload_err = Some(ApiError::BadRequest(format!("reading upload: {e}")));
                break;
            }
        }
    }
    drop(chunks_tx);
    writer.await.map_err(ApiError::internal)??;
    if let Some(e) = upload_err {
        return Err(e);
    }

    // dockerd answers 200 at once and reports failures inside the stream.
    let (tx, resp) = body::channel(StatusCode::OK, "application/json");
    let store = ctx.daemon.images.clone();
    tokio::task::spawn_blocking(move || {
        let _spool = spool;
        let result = std::fs::File::open(&path)
            .map_err(StoreError::from)
            .and_then(|f| {
                store.load(std::io::BufReader::new(f), &mut |line| {
                    let _ = tx.blocking_send(stream_line(line));
                })
            });
        for id in result.iter().flatten() {
            crate::daemon::events::image(id, id, "load");
        }
        if let Err(e) = result {
            tracing::info!(error = %e, "image load failed");
            let _ = tx.blocking_send(error_line(&e.to_string()));
        }
    });
    Ok(resp)
}

// ---------------------------------------------------------------- save

/// Feeds a blocking writer into a streamed response in 64 KiB chunks.
struct ChannelWriter {
    tx: mpsc::Sender<Bytes>,
    buf: Vec<u8>,
}

const CHUNK: usize = 64 * 1024;

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(chunk)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

pub async fn save(ctx: &Ctx, names: Vec<String>) -> Result<Response, ApiError> {
    let store: Arc<ImageStore> = ctx.daemon.images.clone();
    // Resolve first, so a bad name is a proper error status, not a broken tar.
    let plan = store.plan_save(&names)?;
    let (tx, resp) = body::channel(StatusCode::OK, "application/x-tar");
    tokio::task::spawn_blocking(move || {
        let mut w = ChannelWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
        };
        // Once streaming has started there is no status left to change; a
        // failure truncates the tar, which `docker load` then rejects.
        if let Err(e) = store.write_save(&plan, &mut w) {
            tracing::warn!(error = %e, "image save failed mid-stream");
        }
    });
    Ok(resp)
}

/// `POST /commit?container=&repo=&tag=&comment=&author=`: a new image from a
/// container's changes. The body, if any, is a container config whose fields
/// override the container's in the new image.
pub async fn commit(ctx: &Ctx, req: Request) -> Result<Response, ApiError> {
    let q = &ctx.query;
    let key = q.get("container").unwrap_or("").to_string();
    let c = ctx.daemon.container(&key)?;
    let changes = crate::daemon::images::dockerfile::parse_changes(&q.all("changes"))?;
    let tag = q.get("repo").filter(|r| !r.is_empty()).map(|repo| {
        match q.get("tag").filter(|t| !t.is_empty()) {
            Some(t) => format!("{repo}:{t}"),
            None => repo.to_string(),
        }
    });
    let body = super::containers::read_json_body(req).await?;
    let config = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let v: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
        (!v.is_null()).then_some(v)
    };
    let opts = crate::daemon::images::commit::CommitOptions {
        tag,
        comment: q.get("comment").unwrap_or("").to_string(),
        author: q.get("author").unwrap_or("").to_string(),
        config,
        changes,
    };
    let d = ctx.daemon.clone();
    let id =
        tokio::task::spawn_blocking(move || crate::daemon::images::commit::commit(&d, &c, opts))
            .await
            .map_err(ApiError::internal)??;
    Ok(super::json_status(
        StatusCode::CREATED,
        &json!({ "Id": id }),
    ))
}
