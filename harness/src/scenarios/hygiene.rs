//! Cleanup, and the check that nothing this run created is left behind.
//!
//! Only objects carrying this run's label or tags are touched: dockerd may be
//! shared with other users and other concurrent runs.

use super::{scenario, Scenario};
use crate::client::{enc, Client, Req};
use crate::ground::{
    fail, fail_at, json_body, Ctx, Outcome, Problem, COMMIT_REPO, FIXTURE_REPO, RUN_LABEL,
};
use serde_json::{json, Value};

pub fn scenarios() -> Vec<Scenario> {
    vec![scenario("hygiene", "nothing-left", false, nothing_left)]
}

fn label_filter(run_id: &str) -> String {
    enc(&json!({"label": [format!("{RUN_LABEL}={run_id}")]}).to_string())
}

/// The run's objects of one kind: `list` is the listing path (filtered by
/// the run's label), `key` the field naming them. Only items that really
/// carry the label count: an endpoint that ignored the filter must not
/// have anyone else's objects removed.
fn labelled(client: &Client, list: &str, key: &str, run_id: &str) -> Result<Vec<String>, Problem> {
    let sep = if list.contains('?') { '&' } else { '?' };
    let resp = client.send(Req::get(format!(
        "{list}{sep}filters={}",
        label_filter(run_id)
    )))?;
    crate::ground::expect_status(&resp, 200, "listing this run's objects")?;
    let body = json_body(&resp, "list")?;
    // /volumes answers {"Volumes": [...]}, the others a plain array.
    let items = body
        .get("Volumes")
        .unwrap_or(&body)
        .as_array()
        .ok_or_else(|| fail_at(&resp, "expected a JSON array"))?;
    Ok(items
        .iter()
        .filter(|i| {
            i.pointer(&format!("/Labels/{}", RUN_LABEL.replace('/', "~1"))) == Some(&json!(run_id))
        })
        .filter_map(|i| i.get(key).and_then(Value::as_str).map(str::to_string))
        .collect())
}

/// IDs of this run's containers (by label), running or not.
fn our_containers(ctx: &Ctx) -> Result<Vec<String>, Problem> {
    labelled(ctx.client, "/containers/json?all=1", "Id", &ctx.run_id)
}

/// IDs of images carrying this run's label (committed from our containers).
fn our_labelled_images(ctx: &Ctx) -> Result<Vec<String>, Problem> {
    labelled(ctx.client, "/images/json", "Id", &ctx.run_id)
}

/// Removes what run `run_id` left on the endpoint, by its label and tags
/// only: containers (forced, with their anonymous volumes), networks,
/// volumes, labelled images, and the run's fixture and commit tags. Best
/// effort; used at the end of every run and after runs that did not get to
/// their end (`shipshape mutants`).
pub fn sweep(client: &Client, run_id: &str) {
    let remove = |path: String| {
        let _ = client.send(Req::delete(path));
    };
    for id in labelled(client, "/containers/json?all=1", "Id", run_id).unwrap_or_default() {
        remove(format!("/containers/{}?force=1&v=1", enc(&id)));
    }
    for id in labelled(client, "/networks", "Id", run_id).unwrap_or_default() {
        remove(format!("/networks/{}", enc(&id)));
    }
    for name in labelled(client, "/volumes", "Name", run_id).unwrap_or_default() {
        remove(format!("/volumes/{}?force=1", enc(&name)));
    }
    for id in labelled(client, "/images/json", "Id", run_id).unwrap_or_default() {
        remove(format!("/images/{}?force=1", enc(&id)));
    }
    // A repository named by `unique_name` (possibly behind a registry
    // host: `127.0.0.1:5000/shipshape-<run>-4-push:1`) is the run's too.
    let named = crate::ground::run_name_prefix(run_id);
    let ours = |tag: &str| {
        tag == format!("{FIXTURE_REPO}:run-{run_id}")
            || tag.starts_with(&format!("{COMMIT_REPO}:{run_id}-"))
            || tag
                .rsplit('/')
                .next()
                .is_some_and(|r| r.starts_with(&named))
    };
    if let Ok(resp) = client.send(Req::get("/images/json")) {
        let tags: Vec<String> = serde_json::from_slice::<Value>(&resp.body)
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|i| i.get("RepoTags").and_then(Value::as_array).cloned())
            .flatten()
            .filter_map(|t| t.as_str().map(str::to_string))
            .filter(|t| ours(t))
            .collect();
        for t in tags {
            remove(format!("/images/{}", enc(&t)));
        }
    }
}

/// Removes everything this run created: containers (forced), networks,
/// volumes, committed images, then the run's fixture tag (which deletes the
/// fixture image only if no other tag, e.g. of a concurrent run, still
/// holds it). Best effort: [`nothing_left`] reports whatever survives.
pub fn cleanup(ctx: &Ctx) {
    for id in our_containers(ctx).unwrap_or_default() {
        ctx.remove(&id);
    }
    for reference in ctx.created_images() {
        let _ = ctx
            .client
            .send(Req::delete(format!("/images/{}", enc(&reference))));
        ctx.forget_created_image(&reference);
    }
    sweep(ctx.client, &ctx.run_id);
    if let Some(image) = ctx.loaded_image() {
        let _ = ctx
            .client
            .send(Req::delete(format!("/images/{}", enc(&image.tag))));
    }
}

fn nothing_left(ctx: &Ctx) -> Outcome {
    let containers = our_containers(ctx)?;
    if !containers.is_empty() {
        return Err(fail(format!(
            "containers labelled {RUN_LABEL}={} remain: {containers:?}",
            ctx.run_id
        )));
    }
    let images = our_labelled_images(ctx)?;
    if !images.is_empty() {
        return Err(fail(format!(
            "images labelled {RUN_LABEL}={} remain: {images:?}",
            ctx.run_id
        )));
    }
    for (what, list, key) in [
        ("networks", "/networks", "Id"),
        ("volumes", "/volumes", "Name"),
    ] {
        let left = labelled(ctx.client, list, key, &ctx.run_id)?;
        if !left.is_empty() {
            return Err(fail(format!(
                "{what} labelled {RUN_LABEL}={} remain: {left:?}",
                ctx.run_id
            )));
        }
    }
    if let Some(image) = ctx.loaded_image() {
        let resp = ctx.send(Req::get(format!("/images/{}/json", enc(&image.tag))))?;
        if resp.status != 404 {
            return Err(fail_at(
                &resp,
                format!(
                    "the run's tag {} still resolves ({})",
                    image.tag, resp.status
                ),
            ));
        }
    }
    Ok(())
}
