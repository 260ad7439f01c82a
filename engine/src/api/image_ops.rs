//! More of the images API group: history, prune, and `POST /images/create`
//! (import from an uploaded tar, and pull — which fails as dockerd's does
//! when no registry is reachable). Shapes follow dockerd 20.10 (API 1.41).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::StatusCode;
use serde_json::{json, Value};
use shipshape_store::{reference, DeleteItem, Image, ImageStore, ImageUserView, StoreError};
use tokio::sync::mpsc;

use super::{body, json, Ctx, Request, Response};
use crate::daemon::{images::dockerfile, images::import, Daemon};
use crate::error::ApiError;

// ---------------------------------------------------------------- history

/// `GET /images/{name}/history`: one entry per history record, newest first.
/// Entries of images that are in the store carry the image ID and its tags;
/// the rest are `<missing>` (layers that came from elsewhere), as dockerd.
pub async fn history(ctx: &Ctx, name: &str) -> Result<Response, ApiError> {
    let store = &ctx.daemon.images;
    let img = store.get(name)?;
    let mut items = history_items(store, &img)?;
    // Walk the parent chain to name the entries we have images for.
    let mut cur = Some(img);
    for item in items.iter_mut() {
        let Some(i) = cur.take() else { break };
        item["Id"] = json!(i.id);
        item["Tags"] = if i.repo_tags.is_empty() {
            Value::Null
        } else {
            json!(i.repo_tags)
        };
        if !i.parent.is_empty() {
            cur = store.get(&i.parent).ok();
        }
    }
    Ok(json(&items))
}

fn history_items(store: &ImageStore, img: &Image) -> Result<Vec<Value>, ApiError> {
    let entries = img
        .config
        .get("history")
        .and_then(|h| h.as_array())
        .cloned()
        .unwrap_or_default();
    let mut layer = 0usize;
    let mut out = Vec::with_capacity(entries.len());
    for h in &entries {
        let empty = h
            .get("empty_layer")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        let mut size = 0u64;
        if !empty {
            let Some(diff) = img.layers.get(layer) else {
                return Err(ApiError::Internal(
                    "too many non-empty layers in History section".into(),
                ));
            };
            size = store.layer_size(diff).unwrap_or(0);
            layer += 1;
        }
        let text = |k: &str| h.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
        let created = shipshape_store::parse_time_unix(&text("created"));
        out.push(json!({
            "Comment": text("comment"),
            "Created": created,
            "CreatedBy": text("created_by"),
            "Id": "<missing>",
            "Size": size,
            "Tags": null,
        }));
    }
    out.reverse();
    Ok(out)
}

// ---------------------------------------------------------------- prune

const PRUNE_FILTERS: &[&str] = &["dangling", "label", "label!", "until"];

/// Docker's `GetTimestamp`: unix seconds (optionally fractional), RFC3339
/// (with or without zone), a date, or a Go duration meaning "that long ago".
pub fn parse_until(v: &str, now: i64) -> Result<i64, ApiError> {
    let err = || ApiError::Internal(format!("failed to parse value as time or duration: {v:?}"));
    if let Some(d) = parse_go_duration(v) {
        return Ok(now - d.as_secs() as i64);
    }
    if let Ok(f) = v.parse::<f64>() {
        return Ok(f as i64);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Ok(t.timestamp());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(v, fmt) {
            return Ok(t.and_utc().timestamp());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp())
            .ok_or_else(err);
    }
    Err(err())
}

/// Go's `time.ParseDuration` for the units people use (h, m, s, ms).
fn parse_go_duration(s: &str) -> Option<Duration> {
    if s.is_empty() || s.parse::<f64>().is_ok() {
        return None;
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|&n| n > 0)?;
        let num: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let mult = match &rest[..u] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            "ns" => 0.000_000_001,
            _ => return None,
        };
        total += num * mult;
        rest = &rest[u..];
    }
    Some(Duration::from_secs_f64(total))
}

/// dockerd's label filters: `label=k`/`label=k=v` must all match,
/// `label!=...` must all not match.
fn prune_labels_match(img: &Image, filters: &BTreeMap<String, Vec<String>>) -> bool {
    let labels = img.labels();
    let has = |w: &str| {
        let (k, v) = match w.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (w, None),
        };
        match labels.and_then(|l| l.get(k)) {
            None => false,
            Some(have) => v.is_none_or(|v| have.as_str() == Some(v)),
        }
    };
    let pos = filters
        .get("label")
        .map(|v| v.iter().all(|w| has(w)))
        .unwrap_or(true);
    let neg = filters
        .get("label!")
        .map(|v| v.iter().all(|w| !has(w)))
        .unwrap_or(true);
    pos && neg
}

/// `POST /images/prune`: removes dangling images (or, with `dangling=false`,
/// all images no container uses), skipping those still in use.
pub async fn prune(ctx: &Ctx) -> Result<Response, ApiError> {
    let filters = super::filters::parse(ctx.query.get("filters"), PRUNE_FILTERS)?;
    let dangling_only = match filters.get("dangling").and_then(|v| v.last()) {
        None => true,
        Some(v) if v.eq_ignore_ascii_case("true") || v == "1" => true,
        Some(v) if v.eq_ignore_ascii_case("false") || v == "0" => false,
        Some(v) => {
            return Err(ApiError::BadRequest(format!(
                "Invalid filter 'dangling={v}'"
            )))
        }
    };
    let now = chrono::Utc::now().timestamp();
    let until = match filters.get("until").and_then(|v| v.last()) {
        Some(v) => Some(parse_until(v, now)?),
        None => None,
    };
    let daemon = ctx.daemon.clone();
    let report = tokio::task::spawn_blocking(move || {
        prune_blocking(&daemon, dangling_only, until, &filters)
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(json(&report))
}

fn prune_blocking(
    d: &Daemon,
    dangling_only: bool,
    until: Option<i64>,
    filters: &BTreeMap<String, Vec<String>>,
) -> Result<Value, ApiError> {
    let store = &d.images;
    // Layer sizes by chain ID, taken before anything goes, so the space a
    // deleted layer held can be counted.
    let mut chain_sizes: HashMap<String, u64> = HashMap::new();
    let all = store.list();
    for img in &all {
        let chains = ImageStore::chain_ids(&img.layers);
        for (chain, diff) in chains.into_iter().zip(&img.layers) {
            chain_sizes.insert(chain, store.layer_size(diff).unwrap_or(0));
        }
    }
    let mut candidates = Vec::new();
    for img in all {
        let children = store.children(&img.id);
        // An image a container uses is never pruned (not even untagged).
        if !d.containers_using_image(&img.id).is_empty() {
            continue;
        }
        // "Heads" only when pruning dangling images: images with children are
        // layers of others.
        if dangling_only && !children.is_empty() {
            continue;
        }
        if img.repo_tags.is_empty() && !children.is_empty() {
            continue;
        }
        if until.is_some_and(|u| img.created_unix() > u) {
            continue;
        }
        if !prune_labels_match(&img, filters) {
            continue;
        }
        candidates.push(img);
    }
    let users = |id: &str| {
        d.containers_using_image(id)
            .into_iter()
            .map(|u| ImageUserView {
                container_id: u.container_id,
                running: u.running,
            })
            .collect::<Vec<_>>()
    };
    let mut deleted: Vec<DeleteItem> = Vec::new();
    for img in candidates {
        let result: Result<Vec<DeleteItem>, StoreError> = if !img.repo_tags.is_empty() {
            // Tagged images go only when not pruning dangling ones.
            if dangling_only {
                continue;
            }
            let mut items = Vec::new();
            let mut failed = None;
            for t in &img.repo_tags {
                match store.remove(t, false, false, &users) {
                    Ok(mut i) => items.append(&mut i),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            match failed {
                Some(e) => Err(e),
                None => Ok(items),
            }
        } else {
            let hex = img.id.trim_start_matches("sha256:").to_string();
            store.remove(&hex, false, false, &users)
        };
        match result {
            Ok(mut items) => deleted.append(&mut items),
            // In use, or already gone with a parent: dockerd skips these quietly.
            Err(e) => tracing::debug!(image = %img.id, error = %e, "prune skipped image"),
        }
    }
    let mut reclaimed = 0u64;
    let mut items = Vec::new();
    for item in &deleted {
        match item {
            DeleteItem::Deleted(id) => {
                reclaimed += chain_sizes.get(id).copied().unwrap_or(0);
                items.push(json!({ "Deleted": id }));
            }
            DeleteItem::Untagged(t) => items.push(json!({ "Untagged": t })),
        }
    }
    Ok(json!({
        "ImagesDeleted": if items.is_empty() { Value::Null } else { Value::Array(items) },
        "SpaceReclaimed": reclaimed,
    }))
}

// ---------------------------------------------------------------- create

/// `POST /images/create`: `fromSrc=-` imports the request body; `fromImage`
/// pulls, which fails the way dockerd fails without a reachable registry.
pub async fn create(ctx: &Ctx, req: Request) -> Result<Response, ApiError> {
    let q = &ctx.query;
    if let Some(image) = q.get("fromImage").filter(|s| !s.is_empty()) {
        return pull(image, q.get("tag").unwrap_or("")).await;
    }
    let Some(src) = q.get("fromSrc").filter(|s| !s.is_empty()) else {
        return Err(ApiError::BadRequest("no image specified".into()));
    };
    if src != "-" {
        return Err(ApiError::NotImplemented(
            "importing from a URL is not supported by this engine; upload the tar (fromSrc=-)"
                .into(),
        ));
    }
    // Check everything that can be refused before storing the upload.
    let checked = (|| -> Result<_, ApiError> {
        let changes = dockerfile::parse_changes(&q.all("changes"))?;
        let mut tags = Vec::new();
        if let Some(repo) = q.get("repo").filter(|r| !r.is_empty()) {
            let mut r = reference::parse_normalized_named(repo)?;
            if let Some(t) = q.get("tag").filter(|t| !t.is_empty()) {
                r = r.with_tag(t)?;
            }
            tags.push(r.with_default_tag().familiar());
        }
        Ok((changes, tags))
    })();
    let (changes, tags) = match checked {
        Ok(v) => v,
        Err(e) => {
            drain(req).await;
            return Err(e);
        }
    };
    let spool = spool_body(&ctx.daemon, req).await?;
    let opts = import::ImportOptions {
        tags,
        message: q.get("message").unwrap_or("").to_string(),
        changes,
    };
    let d = ctx.daemon.clone();
    let id = tokio::task::spawn_blocking(move || {
        let r = import::import(&d, spool.path(), opts);
        drop(spool);
        r
    })
    .await
    .map_err(ApiError::internal)??;
    // dockerd writes nothing until the import is done, so every failure
    // above is a plain error status; success is one status line.
    let (tx, resp) = body::channel(StatusCode::OK, "application/json");
    let _ = tx.send(json_line(&json!({ "status": id }))).await;
    Ok(resp)
}

/// Reads and discards the request body, so a refusal reaches a client that
/// is still sending (closing early would break its pipe and hide the message).
pub async fn drain(req: Request) {
    let mut body = req.into_body();
    while let Some(frame) = body.frame().await {
        if frame.is_err() {
            break;
        }
    }
}

pub fn json_line(v: &Value) -> Bytes {
    let mut out = serde_json::to_vec(v).unwrap_or_default();
    out.push(b'\n');
    Bytes::from(out)
}

/// Writes the request body to a temp file under the daemon's tmp dir (deleted
/// when the returned handle drops), through a blocking writer so a slow disk
/// never stalls the runtime.
pub async fn spool_body(d: &Daemon, req: Request) -> Result<tempfile::NamedTempFile, ApiError> {
    let dir = d.tmp_dir();
    let file = tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&dir)?;
        tempfile::NamedTempFile::new_in(&dir)
    })
    .await
    .map_err(ApiError::internal)??;
    let (tx, mut rx) = mpsc::channel::<Bytes>(16);
    let handle = file.reopen()?;
    let writer = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut w = std::io::BufWriter::new(handle);
        while let Some(chunk) = rx.blocking_recv() {
            w.write_all(&chunk)?;
        }
        w.flush()?;
        w.get_ref().sync_all()
    });
    let mut body = req.into_body();
    let mut upload_err = None;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Ok(data) = frame.into_data() {
                    if tx.send(data).await.is_err() {
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
    drop(tx);
    writer.await.map_err(ApiError::internal)??;
    if let Some(e) = upload_err {
        return Err(e);
    }
    Ok(file)
}

// ---------------------------------------------------------------- pull

/// The registry host dockerd contacts for a reference.
fn registry_host(domain: &str) -> &str {
    if domain == "docker.io" {
        "registry-1.docker.io"
    } else {
        domain
    }
}

/// The resolver Go's `net` package would name in a lookup error.
fn nameserver() -> String {
    let conf = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let ns = conf.lines().find_map(|l| {
        let mut w = l.split_whitespace();
        (w.next() == Some("nameserver")).then(|| w.next().map(str::to_string))?
    });
    match ns {
        Some(ip) if ip.contains(':') => format!("[{ip}]:53"),
        Some(ip) => format!("{ip}:53"),
        None => "127.0.0.1:53".into(),
    }
}

/// This engine has no registry client. A pull therefore fails; when the
/// registry's name does not resolve (the usual offline case) the message is
/// dockerd's word for word, so `docker pull`/`docker run` print the same.
pub async fn pull(image: &str, tag: &str) -> Result<Response, ApiError> {
    Err(pull_error(image, tag).await)
}

/// The error a pull of `image[:tag]` ends with (also used by build's FROM).
pub async fn pull_error(image: &str, tag: &str) -> ApiError {
    match pull_message(image, tag).await {
        Ok(msg) => ApiError::Internal(msg),
        Err(e) => e,
    }
}

async fn pull_message(image: &str, tag: &str) -> Result<String, ApiError> {
    let mut r = reference::parse_normalized_named(image)?;
    if !tag.is_empty() {
        r = if tag.starts_with("sha256:") {
            reference::parse_normalized_named(&format!("{image}@{tag}"))?
        } else {
            r.with_tag(tag)?
        };
    }
    let domain = r.domain.clone();
    let host = registry_host(&domain).to_string();
    let url = format!("https://{host}/v2/");
    let lookup_target = if host.contains(':') {
        host.clone()
    } else {
        format!("{host}:443")
    };
    let lookup = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::net::lookup_host(lookup_target),
    )
    .await;
    let name_only = host.split(':').next().unwrap_or(&host).to_string();
    let resolved = match lookup {
        Ok(Ok(addrs)) => Ok(addrs.count() > 0),
        Ok(Err(_)) => Ok(false),
        Err(timeout) => Err(timeout),
    };
    let msg = match resolved {
        Ok(true) => format!(
            "Get {url:?}: this engine cannot pull images from a registry (pull of {} refused)",
            r.familiar()
        ),
        Ok(_) => format!(
            "Get {url:?}: dial tcp: lookup {name_only} on {}: no such host",
            nameserver()
        ),
        Err(_) => format!(
            "Get {url:?}: dial tcp: lookup {name_only} on {}: i/o timeout",
            nameserver()
        ),
    };
    tracing::info!(image = %r.familiar(), "pull refused: {msg}");
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn until_values() {
        assert_eq!(parse_until("10m", 1000).unwrap(), 400);
        assert_eq!(parse_until("1h30m", 10000).unwrap(), 10000 - 5400);
        assert_eq!(parse_until("1700000000", 0).unwrap(), 1700000000);
        assert_eq!(parse_until("2024-01-01T00:00:00Z", 0).unwrap(), 1704067200);
        assert_eq!(parse_until("2024-01-01", 0).unwrap(), 1704067200);
        assert!(parse_until("xx", 0).is_err());
    }
}
