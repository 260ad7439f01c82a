//! Images API group: list, inspect, tag, remove, history, prune and commit
//! here; uploads and downloads (load, save, import and pull through
//! `POST /images/create`) in [`transfer`]; the JSON shapes in [`render`].
//! The rules are the daemon's (`daemon::images`).

mod render;
mod transfer;

use hyper::StatusCode;
use serde_json::json;

pub use transfer::{create, load, save};

use super::body::request::read_json_body;
use super::{body, json, json_status, Ctx, Request, Response};
use crate::daemon::images::{self as daemon_images, commit, dockerfile, history, prune};
use crate::errdefs::EngineError;
use crate::filters;

pub async fn list(ctx: &Ctx) -> Result<Response, EngineError> {
    let filters = filters::parse(ctx.query.get("filters"), daemon_images::LIST_FILTER_KEYS)?;
    let images = ctx.daemon.list_images(&filters, ctx.query.flag("all"))?;
    let out: Vec<_> = images
        .iter()
        .map(|(img, tags)| render::summary(ctx.version, img, tags.clone()))
        .collect();
    Ok(json(&out))
}

pub async fn inspect(ctx: &Ctx, name: &str) -> Result<Response, EngineError> {
    let img = ctx.daemon.inspect_image(name)?;
    let dirs = ctx.daemon.image_layer_dirs(&img.id);
    Ok(json(&render::inspect(ctx.version, &img, &dirs)))
}

pub async fn tag(ctx: &Ctx, name: &str) -> Result<Response, EngineError> {
    let repo = ctx.query.get("repo").unwrap_or("");
    ctx.daemon.tag_image(name, repo, ctx.query.get("tag"))?;
    Ok(body::status_only(StatusCode::CREATED))
}

pub async fn remove(ctx: &Ctx, name: &str) -> Result<Response, EngineError> {
    let force = ctx.query.flag("force");
    let noprune = ctx.query.flag("noprune");
    let daemon = ctx.daemon.clone();
    let name = name.to_string();
    let items = tokio::task::spawn_blocking(move || daemon.remove_image(&name, force, noprune))
        .await
        .map_err(EngineError::system)??;
    Ok(json(&items))
}

/// `GET /images/{name}/history`.
pub async fn history(ctx: &Ctx, name: &str) -> Result<Response, EngineError> {
    Ok(json(&history::history(&ctx.daemon, name)?))
}

/// `POST /images/prune`.
pub async fn prune(ctx: &Ctx) -> Result<Response, EngineError> {
    let filters = filters::parse(ctx.query.get("filters"), prune::FILTER_KEYS)?;
    let now = filters::time::now_ns();
    let daemon = ctx.daemon.clone();
    let report = tokio::task::spawn_blocking(move || prune::prune(&daemon, &filters, now))
        .await
        .map_err(EngineError::system)??;
    Ok(json(&report))
}

/// `POST /commit?container=&repo=&tag=&comment=&author=`: a new image from a
/// container's changes. The body, if any, is a container config whose fields
/// override the container's in the new image.
pub async fn commit(ctx: &Ctx, req: Request) -> Result<Response, EngineError> {
    let q = &ctx.query;
    let key = q.get("container").unwrap_or("").to_string();
    // dockerd decodes the config before it looks the container up, and
    // answers 500 to one it cannot decode; no body is no config.
    let body = read_json_body(req).await?;
    let config = match crate::api::body::json::decode_or_default::<serde_json::Value>(&body) {
        Ok(v) => (!v.is_null()).then_some(v),
        Err(e) => return Err(e.internal()),
    };
    let c = ctx.daemon.container(&key)?;
    let changes = dockerfile::parse_changes(&q.all("changes"))?;
    let tag = q.get("repo").filter(|r| !r.is_empty()).map(|repo| {
        match q.get("tag").filter(|t| !t.is_empty()) {
            Some(t) => format!("{repo}:{t}"),
            None => repo.to_string(),
        }
    });
    let opts = commit::CommitOptions {
        tag,
        comment: q.get("comment").unwrap_or("").to_string(),
        author: q.get("author").unwrap_or("").to_string(),
        config,
        changes,
    };
    let d = ctx.daemon.clone();
    let id = tokio::task::spawn_blocking(move || commit::commit(&d, &c, opts))
        .await
        .map_err(EngineError::system)??;
    Ok(json_status(StatusCode::CREATED, &json!({ "Id": id })))
}
