//! Swarm API group: `/swarm`, `/services`, `/nodes`, `/tasks`, `/secrets`
//! and `/configs`. The daemon is never part of a swarm ([`swarm`]); the
//! handlers check what dockerd checks before it asks the cluster (the
//! body, an update's `version`, a log stream choice), in its order, and
//! then answer with the daemon's refusal.

use hyper::Method;
use serde_json::{Map, Value};

use super::body::json::decode_required;
use super::body::request::read_json_body;
use super::{Ctx, Request, Response};
use crate::daemon::swarm;
use crate::errdefs::EngineError;

/// The object kinds of the swarm API and the word dockerd's update
/// messages use for each.
const KINDS: &[(&str, &str)] = &[
    ("services", "service"),
    ("nodes", "node"),
    ("tasks", "task"),
    ("secrets", "secret"),
    ("configs", "config"),
];

/// Routes a swarm request, or `None` when the path is not one of its routes.
pub async fn route(
    ctx: &Ctx,
    req: Request,
    method: &Method,
    segs: &[&str],
) -> Option<Result<Response, EngineError>> {
    // GET routes only: dockerd answers HEAD on them 404 (see api::route).
    let is_get = method == Method::GET;
    let is_post = method == Method::POST;
    let is_delete = method == Method::DELETE;
    let r = match segs {
        ["swarm"] | ["swarm", "unlockkey"] if is_get => Err(swarm::not_a_manager()),
        ["swarm", "leave"] if is_post => Err(swarm::not_a_member()),
        ["swarm", op @ ("init" | "join")] if is_post => {
            body(req).await.and(Err(swarm::unsupported(op)))
        }
        ["swarm", "unlock"] if is_post => body(req).await.and(Err(swarm::not_a_manager())),
        ["swarm", "update"] if is_post => update(ctx, req, "swarm").await,
        [kind, rest @ ..] => {
            let (_, word) = KINDS.iter().find(|(k, _)| k == kind)?;
            match rest {
                [] if is_get => Err(swarm::not_a_manager()),
                ["create"] if is_post && *kind != "nodes" && *kind != "tasks" => {
                    body(req).await.and(Err(swarm::not_a_manager()))
                }
                [_id] if is_get => Err(swarm::not_a_manager()),
                [_id] if is_delete && *kind != "tasks" => Err(swarm::not_a_manager()),
                [_id, "update"] if is_post && *kind != "tasks" => update(ctx, req, word).await,
                [_id, "logs"] if is_get && (*kind == "services" || *kind == "tasks") => logs(ctx),
                _ => return None,
            }
        }
        _ => return None,
    };
    Some(r)
}

/// The JSON body every swarm write requires (its content is not looked at:
/// the request is refused right after).
async fn body(req: Request) -> Result<(), EngineError> {
    let bytes = read_json_body(req).await?;
    decode_required::<Map<String, Value>>(&bytes).map(drop)
}

/// An update: the body, then the object's `version`, then the refusal.
/// dockerd words a bad version with strconv's error for the swarm, services
/// and nodes, and without it for secrets and configs.
async fn update(ctx: &Ctx, req: Request, word: &str) -> Result<Response, EngineError> {
    body(req).await?;
    let raw = ctx.query.get("version").unwrap_or("");
    if raw.parse::<u64>().is_err() {
        return Err(EngineError::InvalidParameter(match word {
            "secret" | "config" => format!("invalid {word} version"),
            _ => format!(
                "invalid {word} version '{raw}': strconv.ParseUint: parsing \"{raw}\": invalid syntax"
            ),
        }));
    }
    Err(swarm::not_a_manager())
}

/// Service and task logs: a stream must be chosen before anything else.
fn logs(ctx: &Ctx) -> Result<Response, EngineError> {
    if !ctx.query.flag("stdout") && !ctx.query.flag("stderr") {
        return Err(EngineError::System(
            "Bad parameters: you must choose at least one stream".into(),
        ));
    }
    Err(swarm::not_a_manager())
}
