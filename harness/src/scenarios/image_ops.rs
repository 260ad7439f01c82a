//! Image operations the other scenarios never sent: history, save of one
//! and of several references (`/images/{name}/get`, `/images/get`) and
//! prune filters. Every answer below is dockerd 20.10.24's, read from it
//! with curl on this host.

use crate::client::{enc, Req, Response};
use crate::ground::{expect_status, fail_at, json_body, Ctx, Outcome, Problem};
use crate::scenarios::{scenario, Scenario};
use serde_json::{json, Value};

const AREA: &str = "images";

pub fn scenarios() -> Vec<Scenario> {
    vec![
        scenario(AREA, "history", true, history),
        scenario(AREA, "save-one-and-several", true, save),
        scenario(AREA, "prune-filters", true, prune_filters),
    ]
}

fn expect_message(resp: &Response, status: u16, message: &str, what: &str) -> Outcome {
    if resp.status == status && resp.message().as_deref() == Some(message) {
        return Ok(());
    }
    Err(fail_at(
        resp,
        format!(
            "{what}: dockerd answers {status} {message:?}, got {}",
            crate::ground::describe(resp)
        ),
    ))
}

/// One entry per layer (the fixture has one) with exactly Comment, Created,
/// CreatedBy, Id (the image id), Size and Tags (the image's tags, ours
/// among them); 404 "No such image: <ref>" for an unknown one.
fn history(ctx: &Ctx) -> Outcome {
    let image = ctx.image()?;
    let resp = ctx.send(Req::get(format!("/images/{}/history", enc(&image.tag))))?;
    expect_status(&resp, 200, "image history")?;
    let v = json_body(&resp, "history")?;
    let entries = v.as_array().cloned().unwrap_or_default();
    let ok = entries.len() == 1 && {
        let e = &entries[0];
        let mut k: Vec<&str> = e
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        k.sort();
        k == ["Comment", "Created", "CreatedBy", "Id", "Size", "Tags"]
            && e["Id"] == json!(image.id)
            && e["Created"].is_i64()
            && e["Size"].as_i64().is_some_and(|s| s > 0)
            && e["Tags"]
                .as_array()
                .is_some_and(|t| t.contains(&json!(image.tag)))
    };
    if !ok {
        return Err(fail_at(
            &resp,
            format!("history {v}; dockerd: one entry with keys Comment, Created, CreatedBy, Id (the image id), Size > 0 and Tags including {}", image.tag),
        ));
    }
    let missing = format!("{}:missing", crate::ground::FIXTURE_REPO);
    let resp = ctx.send(Req::get(format!("/images/{}/history", enc(&missing))))?;
    expect_message(
        &resp,
        404,
        &format!("No such image: {missing}"),
        "history of an unknown image",
    )?;
    committed_history(ctx, &image.id)
}

/// A commit of a fixture container has two entries, newest first (dockerd
/// 20.10.24): the commit's (its image ID, its comment, the container's
/// command as CreatedBy), then the fixture's (the fixture's ID).
fn committed_history(ctx: &Ctx, fixture_id: &str) -> Outcome {
    let cid = ctx.create(ctx.probe_config(&["exit", "0"])?, None)?;
    let tag = ctx
        .unique_name("hist")
        .trim_start_matches("shipshape-")
        .to_string();
    let reference = format!("{}:{tag}", crate::ground::COMMIT_REPO);
    ctx.record_created_image(reference.clone());
    let res = (|| {
        let resp = ctx.send(Req::post(format!(
            "/commit?container={}&repo={}&tag={}&comment={}",
            enc(&cid),
            crate::ground::COMMIT_REPO,
            enc(&tag),
            enc(&tag)
        )))?;
        expect_status(&resp, 201, "committing a fixture container")?;
        let new_id = json_body(&resp, "commit")?["Id"].clone();
        let resp = ctx.send(Req::get(format!("/images/{}/history", enc(&reference))))?;
        expect_status(&resp, 200, "history of the commit")?;
        let v = json_body(&resp, "history")?;
        let ids: Vec<&Value> = v
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| &e["Id"])
            .collect();
        if ids != [&new_id, &json!(fixture_id)] || v[0]["Comment"] != json!(tag) {
            return Err(fail_at(
                &resp,
                format!(
                    "history of the commit {v}; dockerd: two entries, newest first: {new_id} with Comment {tag:?}, then {fixture_id}"
                ),
            ));
        }
        Ok(())
    })();
    let _ = ctx.send(Req::delete(format!("/images/{}", enc(&reference))));
    ctx.forget_created_image(&reference);
    ctx.remove(&cid);
    res
}

/// The files of a docker-archive tarball by name.
fn tar_files(resp: &Response) -> Result<Vec<(String, Vec<u8>)>, Problem> {
    let mut out = Vec::new();
    let mut ar = tar::Archive::new(&resp.body[..]);
    let bad = |e: std::io::Error| fail_at(resp, format!("the answer is not a tar: {e}"));
    for e in ar.entries().map_err(bad)? {
        let mut e = e.map_err(bad)?;
        let name = e
            .path()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let mut data = Vec::new();
        if name.ends_with(".json") || name == "repositories" {
            std::io::Read::read_to_end(&mut e, &mut data).map_err(bad)?;
        }
        out.push((name, data));
    }
    Ok(out)
}

fn file_json(files: &[(String, Vec<u8>)], name: &str) -> Option<Value> {
    files
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, d)| serde_json::from_slice(d).ok())
}

/// `GET /images/{name}/get`: application/x-tar whose manifest.json has one
/// entry, RepoTags [the name asked]. `GET /images/get?names=a&names=b` of
/// two tags of one image: one manifest entry with both RepoTags in that
/// order, and `repositories` naming both. No names: a tar holding only
/// manifest.json (`null`). Unknown names: 404 "reference does not exist".
fn save(ctx: &Ctx) -> Outcome {
    let image = ctx.image()?;
    let second_tag = format!("save-{}", ctx.run_id);
    let second = format!("{}:{second_tag}", crate::ground::FIXTURE_REPO);
    let resp = ctx.send(Req::post(format!(
        "/images/{}/tag?repo={}&tag={}",
        enc(&image.id),
        crate::ground::FIXTURE_REPO,
        second_tag
    )))?;
    expect_status(&resp, 201, "tagging the fixture a second time")?;
    ctx.record_created_image(second.clone());
    let result = (|| {
        let resp = ctx.send(Req::get(format!("/images/{}/get", enc(&image.tag))))?;
        expect_status(&resp, 200, "saving one image")?;
        if resp.header("Content-Type") != Some("application/x-tar") {
            return Err(fail_at(
                &resp,
                "save's Content-Type is not application/x-tar (dockerd's)",
            ));
        }
        let files = tar_files(&resp)?;
        let m = file_json(&files, "manifest.json").unwrap_or(Value::Null);
        if m.as_array().map(Vec::len) != Some(1) || m[0]["RepoTags"] != json!([image.tag]) {
            return Err(fail_at(
                &resp,
                format!(
                    "manifest.json {m}; dockerd: one entry with RepoTags [{:?}]",
                    image.tag
                ),
            ));
        }
        let resp = ctx.send(Req::get(format!(
            "/images/get?names={}&names={}",
            enc(&image.tag),
            enc(&second)
        )))?;
        expect_status(&resp, 200, "saving two tags")?;
        let files = tar_files(&resp)?;
        let m = file_json(&files, "manifest.json").unwrap_or(Value::Null);
        if m.as_array().map(Vec::len) != Some(1) || m[0]["RepoTags"] != json!([image.tag, second]) {
            return Err(fail_at(
                &resp,
                format!(
                    "manifest.json {m}; dockerd: one entry with RepoTags [{:?}, {second:?}]",
                    image.tag
                ),
            ));
        }
        let repos = file_json(&files, "repositories").unwrap_or(Value::Null);
        let tags = &repos[crate::ground::FIXTURE_REPO];
        let run_tag = image.tag.rsplit(':').next().unwrap_or("");
        if !tags[run_tag].is_string() || !tags[&second_tag].is_string() {
            return Err(fail_at(
                &resp,
                format!("repositories {repos}; dockerd names both tags"),
            ));
        }
        let resp = ctx.send(Req::get("/images/get"))?;
        expect_status(&resp, 200, "saving nothing")?;
        let files = tar_files(&resp)?;
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        if names != ["manifest.json"] || file_json(&files, "manifest.json") != Some(Value::Null) {
            return Err(fail_at(
                &resp,
                format!("save of no names holds {names:?}; dockerd: only manifest.json, null"),
            ));
        }
        let missing = format!("{}:missing", crate::ground::FIXTURE_REPO);
        let resp = ctx.send(Req::get(format!("/images/{}/get", enc(&missing))))?;
        expect_message(
            &resp,
            404,
            "reference does not exist",
            "save of an unknown image",
        )?;
        let resp = ctx.send(Req::get(format!("/images/get?names={}", enc(&missing))))?;
        expect_message(
            &resp,
            404,
            "reference does not exist",
            "save of unknown names",
        )
    })();
    let resp = ctx.send(Req::delete(format!("/images/{}", enc(&second))));
    if resp.is_ok_and(|r| r.status == 200) {
        ctx.forget_created_image(&second);
    }
    result
}

/// `POST /images/prune` with a label nothing carries: {"ImagesDeleted":
/// null,"SpaceReclaimed":0}; an unknown filter: 400 "Invalid filter
/// 'bogus'"; a bad `until`: 500 with the parse error.
fn prune_filters(ctx: &Ctx) -> Outcome {
    let mark = ctx.unique_name("none");
    let prune = |f: Value| {
        ctx.send(Req::post(format!(
            "/images/prune?filters={}",
            enc(&f.to_string())
        )))
    };
    let resp = prune(json!({"label": [format!("io.shipshape.prune={mark}")]}))?;
    expect_status(&resp, 200, "pruning by a label nothing has")?;
    let v = json_body(&resp, "image prune")?;
    let want = json!({"ImagesDeleted": null, "SpaceReclaimed": 0});
    if v != want {
        return Err(fail_at(
            &resp,
            format!("prune answered {v}; dockerd: {want}"),
        ));
    }
    expect_message(
        &prune(json!({"bogus": ["x"]}))?,
        400,
        "Invalid filter 'bogus'",
        "image prune with an unknown filter",
    )?;
    expect_message(
        &prune(json!({"until": ["xyz"], "label": [format!("io.shipshape.prune={mark}")]}))?,
        500,
        "failed to parse value as time or duration: \"xyz\"",
        "image prune with a bad until",
    )
}
