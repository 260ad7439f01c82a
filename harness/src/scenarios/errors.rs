//! Error paths: each checks the status and Docker's `{"message": ...}`.

use super::{scenario, Scenario};
use crate::client::{enc, Req};
use crate::ground::spec::expectation;
use crate::ground::{expect_status, Ctx, Outcome};
use serde_json::json;

pub fn scenarios() -> Vec<Scenario> {
    vec![
        scenario("errors", "unknown-container", false, unknown_container),
        scenario("errors", "unknown-container-start", false, unknown_start),
        scenario("errors", "unknown-container-stop", false, unknown_stop),
        scenario("errors", "unknown-container-remove", false, unknown_remove),
        scenario("errors", "unknown-container-logs", false, unknown_logs),
        scenario("errors", "unknown-container-wait", false, unknown_wait),
        scenario("errors", "create-empty-config", false, create_empty),
        scenario(
            "errors",
            "create-unknown-image",
            false,
            create_unknown_image,
        ),
        scenario("errors", "create-invalid-name", true, create_invalid_name),
        scenario(
            "errors",
            "create-duplicate-name",
            true,
            create_duplicate_name,
        ),
        scenario(
            "errors",
            "create-wrong-content-type",
            true,
            create_wrong_content_type,
        ),
        scenario("errors", "start-twice", true, start_twice),
        scenario("errors", "stop-created", true, stop_created),
        scenario("errors", "stop-exited", true, stop_exited),
        scenario("errors", "kill-stopped", true, kill_stopped),
        scenario("errors", "remove-running", true, remove_running),
        scenario("errors", "unknown-route", false, unknown_route),
        scenario(
            "errors",
            "image-inspect-unknown",
            false,
            image_inspect_unknown,
        ),
        scenario(
            "errors",
            "image-remove-unknown",
            false,
            image_remove_unknown,
        ),
        scenario("errors", "commit-unknown-container", false, commit_unknown),
    ]
}

/// A container name no one uses.
fn missing_name(ctx: &Ctx) -> String {
    ctx.unique_name("missing")
}

/// A missing image reference (unique, so it cannot exist).
fn missing_image(ctx: &Ctx) -> String {
    format!("shipshape-missing-{}:latest", ctx.run_id)
}

fn unknown_with(ctx: &Ctx, spec: &str, req: impl FnOnce(&str) -> Req) -> Outcome {
    let name = missing_name(ctx);
    let resp = ctx.send(req(&name))?;
    expectation(spec)?.check(&resp, &[("name", &name)])
}

fn unknown_container(ctx: &Ctx) -> Outcome {
    unknown_with(ctx, "errors/unknown-container", |n| {
        Req::get(format!("/containers/{}/json", enc(n)))
    })
}

fn unknown_start(ctx: &Ctx) -> Outcome {
    unknown_with(ctx, "errors/unknown-container-start", |n| {
        Req::post(format!("/containers/{}/start", enc(n)))
    })
}

fn unknown_stop(ctx: &Ctx) -> Outcome {
    unknown_with(ctx, "errors/unknown-container-stop", |n| {
        Req::post(format!("/containers/{}/stop", enc(n)))
    })
}

fn unknown_remove(ctx: &Ctx) -> Outcome {
    unknown_with(ctx, "errors/unknown-container-remove", |n| {
        Req::delete(format!("/containers/{}", enc(n)))
    })
}

fn unknown_logs(ctx: &Ctx) -> Outcome {
    unknown_with(ctx, "errors/unknown-container-logs", |n| {
        Req::get(format!("/containers/{}/logs?stdout=1", enc(n)))
    })
}

fn unknown_wait(ctx: &Ctx) -> Outcome {
    unknown_with(ctx, "errors/unknown-container-wait", |n| {
        Req::post(format!("/containers/{}/wait", enc(n)))
    })
}

fn commit_unknown(ctx: &Ctx) -> Outcome {
    unknown_with(ctx, "errors/commit-unknown-container", |n| {
        Req::post(format!("/commit?container={}", enc(n)))
    })
}

fn create_empty(ctx: &Ctx) -> Outcome {
    let resp = ctx.send(Req::post("/containers/create").json(json!({})))?;
    let result = expectation("errors/create-empty-config")?.check(&resp, &[]);
    remove_if_created(ctx, &resp);
    result
}

/// If a create that should have failed succeeded, do not leak the container.
fn remove_if_created(ctx: &Ctx, resp: &crate::client::Response) {
    if resp.status == 201 {
        if let Some(id) = resp
            .json()
            .ok()
            .and_then(|v| v.get("Id")?.as_str().map(str::to_string))
        {
            ctx.remove(&id);
        }
    }
}

fn create_unknown_image(ctx: &Ctx) -> Outcome {
    let image = missing_image(ctx);
    let resp = ctx.send(Req::post("/containers/create").json(json!({
        "Image": image, "Cmd": ["/probe", "exit", "0"], "Labels": ctx.labels()
    })))?;
    let result = expectation("errors/create-unknown-image")?.check(&resp, &[("image", &image)]);
    remove_if_created(ctx, &resp);
    result
}

fn create_invalid_name(ctx: &Ctx) -> Outcome {
    let name = format!("bad name!{}", ctx.run_id);
    let resp = ctx.send(
        Req::post(format!("/containers/create?name={}", enc(&name)))
            .json(ctx.probe_config(&["exit", "0"])?),
    )?;
    let result = expectation("errors/create-invalid-name")?.check(&resp, &[("name", &name)]);
    remove_if_created(ctx, &resp);
    result
}

fn create_duplicate_name(ctx: &Ctx) -> Outcome {
    let name = ctx.unique_name("dup");
    let id = ctx.create(ctx.probe_config(&["exit", "0"])?, Some(&name))?;
    let resp = ctx.send(
        Req::post(format!("/containers/create?name={}", enc(&name)))
            .json(ctx.probe_config(&["exit", "0"])?),
    )?;
    let result =
        expectation("errors/create-duplicate-name")?.check(&resp, &[("name", &name), ("id", &id)]);
    remove_if_created(ctx, &resp);
    ctx.remove(&id);
    result
}

fn create_wrong_content_type(ctx: &Ctx) -> Outcome {
    let body = serde_json::to_vec(&ctx.probe_config(&["exit", "0"])?).unwrap_or_default();
    let resp = ctx.send(Req::post("/containers/create").raw(body, "text/plain"))?;
    let result = expectation("errors/create-wrong-content-type")?.check(&resp, &[]);
    remove_if_created(ctx, &resp);
    result
}

/// Runs `f` with a fresh container (command `args`), removing it afterwards
/// whatever happens.
fn with_container(ctx: &Ctx, args: &[&str], f: impl FnOnce(&str) -> Outcome) -> Outcome {
    let id = ctx.create(ctx.probe_config(args)?, None)?;
    let result = f(&id);
    ctx.remove(&id);
    result
}

/// Long-running until SIGTERM, so `stop` is quick and graceful.
const WAIT_FOR_TERM: &[&str] = &["trap-term", "0"];

fn start_twice(ctx: &Ctx) -> Outcome {
    with_container(ctx, WAIT_FOR_TERM, |id| {
        ctx.start(id)?;
        let resp = ctx.send(Req::post(format!("/containers/{}/start", enc(id))))?;
        expectation("errors/start-twice")?.check(&resp, &[("id", id)])
    })
}

fn stop_created(ctx: &Ctx) -> Outcome {
    with_container(ctx, WAIT_FOR_TERM, |id| {
        let resp = ctx.stop(id, 5)?;
        expectation("errors/stop-created")?.check(&resp, &[("id", id)])
    })
}

fn stop_exited(ctx: &Ctx) -> Outcome {
    with_container(ctx, &["exit", "0"], |id| {
        ctx.start(id)?;
        ctx.wait(id)?;
        let resp = ctx.stop(id, 5)?;
        expectation("errors/stop-exited")?.check(&resp, &[("id", id)])
    })
}

fn kill_stopped(ctx: &Ctx) -> Outcome {
    let name = ctx.unique_name("kill");
    let id = ctx.create(ctx.probe_config(&["exit", "0"])?, Some(&name))?;
    let result = (|| {
        ctx.start(&id)?;
        ctx.wait(&id)?;
        // By name, as `docker kill NAME` does; the message echoes both.
        let resp = ctx.send(Req::post(format!("/containers/{}/kill", enc(&name))))?;
        expectation("errors/kill-stopped")?.check(&resp, &[("ref", &name), ("id", &id)])
    })();
    ctx.remove(&id);
    result
}

fn remove_running(ctx: &Ctx) -> Outcome {
    with_container(ctx, WAIT_FOR_TERM, |id| {
        ctx.start(id)?;
        let resp = ctx.send(Req::delete(format!("/containers/{}", enc(id))))?;
        expectation("errors/remove-running")?.check(&resp, &[("id", id)])?;
        // Still there and still running: the refused removal changed nothing.
        let state = ctx.inspect(id)?;
        if state.pointer("/State/Running") != Some(&json!(true)) {
            return Err(crate::ground::fail(
                "the container is no longer running after a refused removal",
            ));
        }
        // With force=1 the running container goes: 204 (no body), then
        // inspect finds nothing (dockerd 20.10.24).
        let resp = ctx.send(Req::delete(format!("/containers/{}?force=1", enc(id))))?;
        expect_status(&resp, 204, "removing the running container with force=1")?;
        let resp = ctx.send(Req::get(format!("/containers/{}/json", enc(id))))?;
        expect_status(&resp, 404, "inspecting the force-removed container")
    })
}

fn unknown_route(ctx: &Ctx) -> Outcome {
    let resp = ctx.send(Req::get("/shipshape-no-such-route"))?;
    expectation("errors/unknown-route")?.check(&resp, &[])
}

fn image_inspect_unknown(ctx: &Ctx) -> Outcome {
    let image = missing_image(ctx);
    let resp = ctx.send(Req::get(format!("/images/{}/json", enc(&image))))?;
    expectation("errors/image-inspect-unknown")?.check(&resp, &[("image", &image)])
}

fn image_remove_unknown(ctx: &Ctx) -> Outcome {
    let image = missing_image(ctx);
    let resp = ctx.send(Req::delete(format!("/images/{}", enc(&image))))?;
    expectation("errors/image-remove-unknown")?.check(&resp, &[("image", &image)])
}
