//! Swarm routes on a node outside any swarm. Nothing here may make the
//! endpoint join or init one: init and join are only sent without a body,
//! which every endpoint refuses before looking at the swarm.

use crate::client::Req;
use serde_json::json;

use crate::ground::{Ctx, Outcome};

/// Each route of the swarm API answers 503 "not a swarm manager" (the
/// updates need a `version` to get that far).
pub fn inactive(ctx: &Ctx) -> Outcome {
    let x = ctx.unique_name("swarm");
    let mut reqs = vec![
        Req::get("/swarm"),
        Req::get("/swarm/unlockkey"),
        Req::post("/swarm/unlock").json(json!({})),
        Req::post("/swarm/update?version=1").json(json!({})),
    ];
    for kind in ["services", "nodes", "tasks", "secrets", "configs"] {
        reqs.push(Req::get(format!("/{kind}")));
        reqs.push(Req::get(format!("/{kind}/{x}")));
        if kind != "tasks" {
            reqs.push(Req::post(format!("/{kind}/{x}/update?version=1")).json(json!({})));
        }
        if kind != "tasks" && kind != "nodes" {
            reqs.push(Req::post(format!("/{kind}/create")).json(json!({})));
        }
        if kind != "tasks" {
            reqs.push(Req::delete(format!("/{kind}/{x}")));
        }
        if kind == "services" || kind == "tasks" {
            reqs.push(Req::get(format!("/{kind}/{x}/logs?stdout=1")));
        }
    }
    super::each_answers(ctx, "api/swarm-inactive", reqs, &[])
}

pub fn leave_inactive(ctx: &Ctx) -> Outcome {
    super::each_answers(
        ctx,
        "api/swarm-leave-inactive",
        vec![Req::post("/swarm/leave?force=1")],
        &[],
    )
}

/// The routes that take a body refuse an empty one with 400 before
/// anything else (init and join included, so they are safe to send).
pub fn empty_body(ctx: &Ctx) -> Outcome {
    let x = ctx.unique_name("swarm");
    let mut reqs: Vec<Req> = ["init", "join", "unlock", "update"]
        .iter()
        .map(|r| Req::post(format!("/swarm/{r}")))
        .collect();
    for kind in ["services", "secrets", "configs"] {
        reqs.push(Req::post(format!("/{kind}/create")));
    }
    reqs.push(Req::post(format!("/nodes/{x}/update")));
    super::each_answers(ctx, "api/swarm-empty-body", reqs, &[])
}
