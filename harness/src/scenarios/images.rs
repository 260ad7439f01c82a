//! Loading, tagging, inspecting and listing the fixture image.

use super::{scenario, Scenario};
use crate::client::{enc, Req};
use crate::fixture;
use crate::ground::spec::expectation;
use crate::ground::{
    expect_status, fail, fail_at, json_body, Ctx, ImageRef, Outcome, FIXTURE_REPO,
};
use serde_json::{json, Value};
use std::time::Duration;

pub fn scenarios() -> Vec<Scenario> {
    vec![
        scenario("images", "load-fixture", false, load_fixture),
        scenario("images", "inspect-fixture", true, inspect_fixture),
        scenario("images", "tag", true, tag_and_untag),
        scenario("images", "list", true, list),
    ]
}

/// Loads the fixture (untagged, so concurrent runs never fight over a tag),
/// then tags it `shipshape-probe:run-<id>` for this run.
fn load_fixture(ctx: &Ctx) -> Outcome {
    let e = expectation("images/load-fixture")?;
    let fx = fixture::build(&[]).map_err(|err| fail(format!("building the fixture: {err}")))?;
    let vars = [("id", fx.image_id.as_str())];
    let pre = ctx.send(Req::get(format!("/images/{}/json", enc(&fx.image_id))))?;
    let preexisting = pre.status == 200;
    let tag = format!("run-{}", ctx.run_id);
    // A concurrent run removing its own last tag can delete the (shared,
    // deterministic) image between our load and our tag; the tag then
    // answers 404 and loading again fixes it.
    let mut attempt = 0;
    let mut wording = None;
    loop {
        attempt += 1;
        let resp = ctx.send(
            Req::post("/images/load?quiet=1")
                .raw(fx.tarball.clone(), "application/x-tar")
                .timeout(Duration::from_secs(180)),
        )?;
        e.check(&resp, &vars)?;
        // The body is a JSON stream; an error inside it still comes with 200.
        let text = resp.text();
        if text.contains("\"errorDetail\"") || text.contains("\"error\"") {
            return Err(e.fail(Some(&resp), "the load stream reports an error", &vars));
        }
        let want = crate::ground::spec::render("Loaded image ID: {id}", &vars);
        if !text.contains(&want) {
            let problem = e.fail(
                Some(&resp),
                format!("the load stream does not say {want:?}"),
                &vars,
            );
            // Some endpoints word the stream differently but do load the
            // image (podman 4.3: "Loaded image: sha256:..."). This scenario
            // still fails, but when the image is there it is tagged and
            // recorded, so the scenarios that need it run (and the cleanup
            // removes it) instead of all being skipped.
            let there = ctx.send(Req::get(format!("/images/{}/json", enc(&fx.image_id))))?;
            if there.status != 200 {
                return Err(problem);
            }
            wording = Some(problem);
        }
        let resp = ctx.send(Req::post(format!(
            "/images/{}/tag?repo={}&tag={}",
            enc(&fx.image_id),
            enc(FIXTURE_REPO),
            enc(&tag)
        )))?;
        if resp.status == 404 && attempt < 3 {
            continue;
        }
        expect_status(&resp, 201, "tagging the loaded image")?;
        break;
    }
    ctx.set_image(ImageRef {
        id: fx.image_id,
        tag: format!("{FIXTURE_REPO}:{tag}"),
        diff_id: fx.diff_id,
        preexisting,
    });
    wording.map_or(Ok(()), Err)
}

fn inspect_fixture(ctx: &Ctx) -> Outcome {
    let image = ctx.image()?;
    let e = expectation("images/inspect-fixture")?;
    let resp = ctx.send(Req::get(format!("/images/{}/json", enc(&image.tag))))?;
    e.check(&resp, &[])?;
    let body = json_body(&resp, "image inspect")?;
    let check = |ok: bool, what: String| {
        if ok {
            Ok(())
        } else {
            Err(e.fail(Some(&resp), what, &[]))
        }
    };
    let id = body.get("Id").and_then(Value::as_str).unwrap_or("");
    check(
        id == image.id,
        format!("Id {id:?}, expected {:?} (sha256 of the config)", image.id),
    )?;
    let rootfs = body.get("RootFS").cloned().unwrap_or(Value::Null);
    check(
        rootfs.get("Type") == Some(&json!("layers"))
            && rootfs.get("Layers") == Some(&json!([image.diff_id])),
        format!("RootFS {rootfs}, expected layers [{}]", image.diff_id),
    )?;
    let cmd = body.pointer("/Config/Cmd").cloned().unwrap_or(Value::Null);
    check(
        cmd == json!(fixture::DEFAULT_CMD),
        format!("Config.Cmd {cmd}, expected {:?}", fixture::DEFAULT_CMD),
    )?;
    let env = body.pointer("/Config/Env").cloned().unwrap_or(Value::Null);
    check(
        env.as_array()
            .is_some_and(|a| a.contains(&json!(fixture::DEFAULT_PATH))),
        format!("Config.Env {env} lacks {}", fixture::DEFAULT_PATH),
    )?;
    let arch = body
        .get("Architecture")
        .and_then(Value::as_str)
        .unwrap_or("");
    check(
        arch == fixture::docker_arch(),
        format!(
            "Architecture {arch:?}, expected {:?}",
            fixture::docker_arch()
        ),
    )?;
    let tags = body.get("RepoTags").cloned().unwrap_or(Value::Null);
    check(
        tags.as_array()
            .is_some_and(|a| a.contains(&json!(image.tag))),
        format!("RepoTags {tags} lacks {}", image.tag),
    )
}

fn list(ctx: &Ctx) -> Outcome {
    let image = ctx.image()?;
    let e = expectation("images/list")?;
    let resp = ctx.send(Req::get("/images/json"))?;
    expect_status(&resp, e.status, "listing images")?;
    let body = json_body(&resp, "image list")?;
    let items = body
        .as_array()
        .ok_or_else(|| fail_at(&resp, "the image list is not a JSON array"))?;
    let ours = items
        .iter()
        .find(|i| i.get("Id").and_then(Value::as_str) == Some(image.id.as_str()))
        .ok_or_else(|| e.fail(Some(&resp), format!("{} is not listed", image.id), &[]))?;
    e.check_fields(ours)
        .map_err(|m| e.fail(Some(&resp), format!("the fixture's entry: {m}"), &[]))?;
    let tags = ours.get("RepoTags").cloned().unwrap_or(Value::Null);
    if !tags
        .as_array()
        .is_some_and(|a| a.contains(&json!(image.tag)))
    {
        return Err(e.fail(
            Some(&resp),
            format!("RepoTags {tags} lacks {}", image.tag),
            &[],
        ));
    }
    Ok(())
}

/// A second tag: 201, listed in RepoTags; removing it only untags (the run's
/// own tag still holds the image).
fn tag_and_untag(ctx: &Ctx) -> Outcome {
    let image = ctx.image()?;
    let e = expectation("images/tag")?;
    let extra_tag = format!("extra-{}", ctx.run_id);
    let extra = format!("{FIXTURE_REPO}:{extra_tag}");
    let resp = ctx.send(Req::post(format!(
        "/images/{}/tag?repo={}&tag={}",
        enc(&image.tag),
        enc(FIXTURE_REPO),
        enc(&extra_tag)
    )))?;
    if resp.status == 201 {
        ctx.record_created_image(extra.clone());
    }
    e.check(&resp, &[])?;
    let v = ctx.inspect_image(&extra)?;
    let tags = v.get("RepoTags").cloned().unwrap_or(Value::Null);
    let has = |t: &str| tags.as_array().is_some_and(|a| a.contains(&json!(t)));
    if v.get("Id") != Some(&json!(image.id)) || !has(&extra) || !has(&image.tag) {
        return Err(e.fail(
            None,
            format!(
                "after tagging, {extra} is {:?} with RepoTags {tags}",
                v.get("Id")
            ),
            &[],
        ));
    }
    let resp = ctx.send(Req::delete(format!("/images/{}", enc(&extra))))?;
    expect_status(&resp, 200, "removing the extra tag")?;
    ctx.forget_created_image(&extra);
    let body = json_body(&resp, "image delete response")?;
    if body != json!([{ "Untagged": extra }]) {
        return Err(e.fail(
            Some(&resp),
            format!(
                "removing a second tag should only untag it (the image keeps {}), got {body}",
                image.tag
            ),
            &[],
        ));
    }
    let still = ctx.inspect_image(&image.tag)?;
    if still.get("Id") != Some(&json!(image.id)) {
        return Err(fail(format!(
            "{} no longer resolves to {}",
            image.tag, image.id
        )));
    }
    Ok(())
}
