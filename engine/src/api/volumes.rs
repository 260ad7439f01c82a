//! Volumes API group (the `local` driver): create, list, inspect, remove,
//! prune. The store and the in-use rules are in `daemon::volumes`.

use std::collections::BTreeMap;

use hyper::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

use super::body::request::read_json_body;
use super::{json, json_status, no_content, Ctx, Request, Response};
use crate::daemon::volumes;
use crate::errdefs::EngineError;
use crate::filters;
use crate::version::ApiVersion;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct CreateRequest {
    name: String,
    driver: String,
    driver_opts: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
}

/// `POST /volumes/create`.
pub async fn create(ctx: &Ctx, req: Request) -> Result<Response, EngineError> {
    let bytes = read_json_body(req).await?;
    // Required: none is dockerd's 400 "got EOF while reading request body".
    let r: CreateRequest = super::body::json::decode_required(&bytes)?;
    let shown = if r.name.is_empty() {
        ""
    } else {
        r.name.as_str()
    };
    if !matches!(r.driver.as_str(), "" | "local") {
        return Err(EngineError::NotFound(format!(
            "create {shown}: error looking up volume plugin {0}: plugin \"{0}\" not found",
            r.driver
        )));
    }
    let d = ctx.daemon.clone();
    let v = tokio::task::spawn_blocking(move || {
        d.volumes
            .create(Some(&r.name), r.labels, r.driver_opts, false)
    })
    .await
    .map_err(EngineError::system)??;
    Ok(json_status(
        StatusCode::CREATED,
        &ctx.daemon.volumes.render(&v),
    ))
}

/// `GET /volumes`, with filters dangling, name, label, driver.
pub async fn list(ctx: &Ctx) -> Result<Response, EngineError> {
    let f = filters::parse(
        ctx.query.get("filters"),
        &["dangling", "name", "label", "driver"],
    )?;
    let dangling = match f
        .get("dangling")
        .and_then(|v| v.first())
        .map(String::as_str)
    {
        None => None,
        Some("true" | "1") => Some(true),
        Some("false" | "0") => Some(false),
        Some(other) => {
            return Err(EngineError::InvalidParameter(format!(
                "Invalid filter 'dangling=[{other}]'"
            )))
        }
    };
    let d = &ctx.daemon;
    let out: Vec<Value> = d
        .volumes
        .list()
        .into_iter()
        .filter(|v| dangling.is_none_or(|want| volumes::users(d, &v.name).is_empty() == want))
        // dockerd matches `name` as a regular expression (Go's
        // regexp.MatchString, unanchored); one that does not compile
        // matches nothing.
        .filter(|v| {
            f.get("name").is_none_or(|ns| {
                ns.iter()
                    .any(|n| regex::Regex::new(n).is_ok_and(|re| re.is_match(&v.name)))
            })
        })
        .filter(|_| {
            f.get("driver")
                .is_none_or(|ds| ds.iter().any(|x| x == "local"))
        })
        .filter(|v| {
            f.get("label")
                .is_none_or(|ls| filters::labels_match(&v.labels.as_ref(), ls))
        })
        .map(|v| d.volumes.render(&v))
        .collect();
    Ok(json(&json!({ "Volumes": out, "Warnings": null })))
}

/// `GET /volumes/{name}`.
pub async fn inspect(ctx: &Ctx, name: &str) -> Result<Response, EngineError> {
    let v = ctx.daemon.volumes.get(name)?;
    Ok(json(&ctx.daemon.volumes.render(&v)))
}

/// `DELETE /volumes/{name}`.
pub async fn remove(ctx: &Ctx, name: &str) -> Result<Response, EngineError> {
    let (d, name, force) = (
        ctx.daemon.clone(),
        name.to_string(),
        ctx.query.flag("force"),
    );
    tokio::task::spawn_blocking(move || volumes::remove(&d, &name, force))
        .await
        .map_err(EngineError::system)??;
    Ok(no_content())
}

/// `POST /volumes/prune`. From API 1.42 only anonymous volumes go, unless
/// the `all` filter says otherwise (as dockerd); before 1.42 there is no
/// `all` filter (dockerd 20.10.24: 400 "Invalid filter 'all'").
pub async fn prune(ctx: &Ctx) -> Result<Response, EngineError> {
    let keys: &[&str] = if ctx.version < ApiVersion(1, 42) {
        &["label", "label!"]
    } else {
        &["label", "label!", "all"]
    };
    let f = filters::parse(ctx.query.get("filters"), keys)?;
    let all = match f.get("all").and_then(|v| v.first()).map(String::as_str) {
        Some("true" | "1") => true,
        Some("false" | "0") | None => ctx.version < ApiVersion(1, 42),
        Some(other) => {
            return Err(EngineError::InvalidParameter(format!(
                "invalid filter 'all={other}'"
            )))
        }
    };
    let d = ctx.daemon.clone();
    let (names, space) = tokio::task::spawn_blocking(move || {
        volumes::prune(&d, |v| {
            (all || v.anonymous) && filters::label_filters_match(&f, &v.labels.as_ref())
        })
    })
    .await
    .map_err(EngineError::system)?;
    Ok(json(&json!({
        // A list even when empty: dockerd 20.10.24 answers [], not null.
        "VolumesDeleted": names,
        "SpaceReclaimed": space,
    })))
}
