//! Operations an endpoint may not implement, and how the harness finds out
//! (it asks about objects that do not exist and looks for "no such route").

use crate::client::{Req, Response};
use crate::ground::{Ctx, Problem};
use serde_json::json;

/// Operations an endpoint may not implement. Probed once per run
/// ([`sut::probe_support`]); unsupported ones are never generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Support {
    pub pause: bool,
    pub exec: bool,
    pub volumes: bool,
    pub commit: bool,
}

impl Support {
    pub const ALL: Support = Support {
        pause: true,
        exec: true,
        volumes: true,
        commit: true,
    };

    /// Names of the unsupported operation groups.
    pub fn missing(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if !self.pause {
            v.push("pause/unpause");
        }
        if !self.exec {
            v.push("exec");
        }
        if !self.volumes {
            v.push("volumes");
        }
        if !self.commit {
            v.push("commit");
        }
        v
    }
}

/// True when an answer means "this route does not exist here": dockerd's
/// router answers an unknown route 404 {"message":"page not found"}; some
/// endpoints answer 501.
pub fn route_missing(resp: &Response) -> bool {
    resp.status == 501
        || (resp.status == 404 && resp.message().is_some_and(|m| m.trim() == "page not found"))
}

/// Asks harmless questions about a container/volume that does not exist:
/// Docker answers 404 "No such container"/"no such volume"; an endpoint
/// without the route answers 404 "page not found" (or 501).
pub fn probe_support(ctx: &Ctx) -> Result<Support, Problem> {
    let ghost = format!("shipshape-{}-no-such-thing", ctx.run_id);
    let missing = |req: Req| -> Result<bool, Problem> { Ok(route_missing(&ctx.send(req)?)) };
    Ok(Support {
        pause: !missing(Req::post(format!("/containers/{ghost}/pause")))?
            && !missing(Req::post(format!("/containers/{ghost}/unpause")))?,
        exec: !missing(
            Req::post(format!("/containers/{ghost}/exec")).json(json!({"Cmd": ["/probe"]})),
        )? && !missing(Req::get(format!("/exec/{ghost}/json")))?,
        volumes: !missing(Req::get(format!("/volumes/{ghost}")))?,
        commit: !missing(Req::post(format!("/commit?container={ghost}")))?,
    })
}
