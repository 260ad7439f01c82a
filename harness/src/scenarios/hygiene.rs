//! Cleanup, and the check that nothing this run created is left behind.
//!
//! Only objects carrying this run's label or tags are touched: dockerd may be
//! shared with other users and other concurrent runs.

use super::{scenario, Scenario};
use crate::client::{enc, Req};
use crate::ground::{fail, fail_at, json_body, Ctx, Outcome, Problem, RUN_LABEL};
use serde_json::{json, Value};

pub fn scenarios() -> Vec<Scenario> {
    vec![scenario("hygiene", "nothing-left", false, nothing_left)]
}

fn label_filter(ctx: &Ctx) -> String {
    enc(&json!({"label": [format!("{RUN_LABEL}={}", ctx.run_id)]}).to_string())
}

/// IDs of this run's containers (by label), running or not.
fn our_containers(ctx: &Ctx) -> Result<Vec<String>, Problem> {
    let resp = ctx.send(Req::get(format!(
        "/containers/json?all=1&filters={}",
        label_filter(ctx)
    )))?;
    crate::ground::expect_status(&resp, 200, "listing this run's containers")?;
    ids(&json_body(&resp, "container list")?).map_err(|m| fail_at(&resp, m))
}

/// IDs of images carrying this run's label (committed from our containers).
fn our_labelled_images(ctx: &Ctx) -> Result<Vec<String>, Problem> {
    let resp = ctx.send(Req::get(format!(
        "/images/json?filters={}",
        label_filter(ctx)
    )))?;
    crate::ground::expect_status(&resp, 200, "listing this run's images")?;
    ids(&json_body(&resp, "image list")?).map_err(|m| fail_at(&resp, m))
}

fn ids(list: &Value) -> Result<Vec<String>, String> {
    let items = list.as_array().ok_or("expected a JSON array")?;
    Ok(items
        .iter()
        .filter_map(|i| i.get("Id").and_then(Value::as_str).map(str::to_string))
        .collect())
}

/// Removes everything this run created: containers (forced), committed
/// images, then the run's fixture tag (which deletes the fixture image only
/// if no other tag, e.g. of a concurrent run, still holds it). Best effort:
/// [`nothing_left`] reports whatever survives.
pub fn cleanup(ctx: &Ctx) {
    if let Ok(ids) = our_containers(ctx) {
        for id in ids {
            ctx.remove(&id);
        }
    }
    for reference in ctx.created_images() {
        let _ = ctx
            .client
            .send(Req::delete(format!("/images/{}", enc(&reference))));
        ctx.forget_created_image(&reference);
    }
    if let Ok(ids) = our_labelled_images(ctx) {
        for id in ids {
            let _ = ctx
                .client
                .send(Req::delete(format!("/images/{}?force=1", enc(&id))));
        }
    }
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
