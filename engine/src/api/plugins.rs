//! Plugins API group: `/plugins` and its sub-routes, answered as dockerd
//! answers with no plugin installed ([`plugins`]). Query and body checks
//! come first, in dockerd's order.

use hyper::Method;
use serde_json::Value;

use super::body::json::{self as json_body, decode_required};
use super::body::request::read_json_body;
use super::{json, no_content, Ctx, Request, Response};
use crate::daemon::plugins;
use crate::errdefs::EngineError;

/// Routes a plugin request, or `None` when the path is not one of its routes.
pub async fn route(
    ctx: &Ctx,
    req: Request,
    method: &Method,
    segs: &[&str],
) -> Option<Result<Response, EngineError>> {
    // GET routes only: dockerd answers HEAD on them 404 (see api::route).
    let is_get = method == Method::GET;
    let is_post = method == Method::POST;
    let q = |k| ctx.query.get(k).unwrap_or("");
    let r = match segs {
        ["plugins"] if is_get => plugins::list(ctx.query.get("filters")).map(|l| json(&l)),
        ["plugins", "privileges"] if is_get => plugins::privileges(q("remote")).map(|p| json(&p)),
        ["plugins", "pull"] if is_post => match privileges_body(req).await {
            Ok(()) => plugins::pull(q("remote")).map(|()| no_content()),
            Err(e) => Err(e),
        },
        ["plugins", "create"] if is_post => plugins::create(q("name")).map(|()| no_content()),
        ["plugins", name, "json"] if is_get => plugins::get(name).map(|p| json(&p)),
        ["plugins", name, "enable"] if is_post => {
            // dockerd parses the timeout with Go's strconv.Atoi first.
            let t = q("timeout");
            match t.parse::<i64>() {
                Ok(_) => plugins::get(name).map(|_| no_content()),
                Err(_) => Err(EngineError::System(format!(
                    "strconv.Atoi: parsing \"{t}\": invalid syntax"
                ))),
            }
        }
        ["plugins", name, "disable" | "push"] if is_post => {
            plugins::get(name).map(|_| no_content())
        }
        ["plugins", name] if method == Method::DELETE => plugins::get(name).map(|_| no_content()),
        ["plugins", name, "set"] if is_post => match read_json_body(req).await {
            Ok(bytes) => decode_required::<Vec<String>>(&bytes)
                .and_then(|_| plugins::get(name))
                .map(|_| no_content()),
            Err(e) => Err(e),
        },
        ["plugins", name, "upgrade"] if is_post => match privileges_body(req).await {
            Ok(()) => plugins::upgrade(name, q("remote")).map(|()| no_content()),
            Err(e) => Err(e),
        },
        _ => return None,
    };
    Some(r)
}

/// The privileges a pull or upgrade grants: a JSON array, required. dockerd
/// wraps its decoder's error (a 500, not a 400).
async fn privileges_body(req: Request) -> Result<(), EngineError> {
    let bytes = read_json_body(req).await?;
    json_body::decode::<Vec<Value>>(&bytes)
        .map(drop)
        .map_err(|e| EngineError::System(format!("failed to parse privileges: {e}")))
}
