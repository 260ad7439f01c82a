//! API versions below the current one: dockerd 20.10 serves 1.12 to 1.41
//! and keeps the older behaviours where a version asks for them.

use crate::client::{enc, Req};
use crate::ground::spec::expectation;
use crate::ground::{fail_at, Ctx, Outcome};
use serde_json::Value;

/// The oldest version dockerd 20.10.24 serves (its MinAPIVersion).
const OLDEST: &str = "1.12";

/// Old prefixes are served, down to 1.12; 1.11 is refused.
pub fn old_versions_served(ctx: &Ctx) -> Outcome {
    let e = expectation("api/old-versions-served")?;
    for v in [OLDEST, "1.18", "1.23"] {
        for route in ["version", "info", "containers/json?all=1", "images/json"] {
            let path = format!("/v{v}/{route}");
            let resp = ctx.send(Req::get(path.clone()).unversioned())?;
            e.check(&resp, &[])
                .map_err(|p| p.note(format!("GET {path}")))?;
        }
    }
    let resp = ctx.send(Req::get(format!("/v{OLDEST}/version")).unversioned())?;
    let body = resp.json().map_err(|m| fail_at(&resp, m))?;
    let min = body.get("MinAPIVersion").and_then(Value::as_str);
    if min != Some(OLDEST) {
        return Err(fail_at(
            &resp,
            format!("MinAPIVersion {min:?}, expected {OLDEST:?}"),
        ));
    }
    let resp = ctx.send(Req::get("/v1.11/version").unversioned())?;
    expectation("system/version-too-old")?.check(&resp, &[("version", "1.11"), ("min", OLDEST)])
}

/// Before 1.25, /info carries `ExecutionDriver` ("<not supported>" since
/// dockerd dropped execution drivers); from 1.25 on it is gone.
pub fn old_info_execution_driver(ctx: &Ctx) -> Outcome {
    let e = expectation("api/old-info-execution-driver")?;
    let resp = ctx.send(Req::get("/v1.24/info").unversioned())?;
    e.check(&resp, &[])?;
    let resp = ctx.send(Req::get("/v1.25/info").unversioned())?;
    let body = resp.json().map_err(|m| fail_at(&resp, m))?;
    if body.get("ExecutionDriver").is_some() {
        return Err(fail_at(&resp, "/v1.25/info has ExecutionDriver"));
    }
    Ok(())
}

/// Before 1.20, killing a container that is not running is not an error.
pub fn kill_stopped_before_1_20(ctx: &Ctx) -> Outcome {
    let e = expectation("api/kill-stopped-before-1.20")?;
    let id = ctx.create(ctx.probe_config(&["exit", "0"])?, None)?;
    let resp = ctx.send(Req::post(format!("/v1.19/containers/{}/kill", enc(&id))).unversioned());
    ctx.remove(&id);
    e.check(&resp?, &[])
}
