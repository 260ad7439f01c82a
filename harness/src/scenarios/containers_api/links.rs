//! Legacy links' bookkeeping (`HostConfig.Links`, `DELETE
//! /containers/{parent}/{alias}?link=1`), as dockerd 20.10.24 answers:
//! - inspect shows a link as "/<target>:/<container>/<alias>";
//! - `DELETE /containers/<container>?link=1` is 500 "Conflict, cannot remove
//!   the default link name of the container";
//! - an unknown name or alias is 404 "No such container: <what was asked>";
//! - removing `<container>/<alias>` answers 204, leaves both containers, and
//!   inspect shows `Links: null` once the last one is gone.

use super::{expect_error, Made};
use crate::client::{enc, Req};
use crate::ground::{expect_status, fail, Ctx, Outcome};
use crate::scenarios::{scenario, Scenario};
use serde_json::{json, Value};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        scenario("containers-api", "legacy-links", true, legacy_links),
        scenario("containers-api", "list-link-names", true, list_link_names),
    ]
}

/// The list names a link's target by the link too, sorted: dockerd
/// 20.10.24 lists a target "/db" linked by "/app" as "al" with
/// `Names: ["/app/al", "/db"]` (moby's TestLinksContainerNames).
fn list_link_names(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let target = ctx.unique_name("lnt");
    let parent = ctx.unique_name("lnp");
    let tid = made.create(ctx.probe_config(&["sleep", "300"])?, Some(&target))?;
    let mut cfg = ctx.probe_config(&["sleep", "300"])?;
    cfg["HostConfig"] = json!({"Links": [format!("{target}:al")]});
    made.create(cfg, Some(&parent))?;
    let filters = json!({"id": [tid]}).to_string();
    let resp = ctx.send(Req::get(format!(
        "/containers/json?all=1&filters={}",
        enc(&filters)
    )))?;
    expect_status(&resp, 200, "listing the target")?;
    let list = crate::ground::json_body(&resp, "container list")?;
    let names = &list[0]["Names"];
    let mut want = vec![format!("/{parent}/al"), format!("/{target}")];
    want.sort();
    if *names != json!(want) {
        return Err(fail(format!(
            "the target's Names: dockerd lists {want:?}, got {names}"
        )));
    }
    Ok(())
}

fn delete_link(ctx: &Ctx, name: &str) -> Result<crate::client::Response, crate::ground::Problem> {
    let path: Vec<String> = name.split('/').map(enc).collect();
    ctx.send(Req::delete(format!(
        "/containers/{}?link=1",
        path.join("/")
    )))
}

fn legacy_links(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let target = ctx.unique_name("link-target");
    let parent = ctx.unique_name("link-parent");
    made.create(ctx.probe_config(&["sleep", "300"])?, Some(&target))?;
    let mut cfg = ctx.probe_config(&["sleep", "300"])?;
    cfg["HostConfig"] = json!({"Links": [format!("{target}:al")]});
    let id = made.create(cfg, Some(&parent))?;
    let links = &ctx.inspect(&id)?["HostConfig"]["Links"];
    let want = json!([format!("/{target}:/{parent}/al")]);
    if *links != want {
        return Err(fail(format!(
            "HostConfig.Links: dockerd shows {want}, got {links}"
        )));
    }
    let resp = delete_link(ctx, &parent)?;
    expect_error(
        &resp,
        500,
        "Conflict, cannot remove the default link name of the container",
        "removing a container's own name as a link",
    )?;
    let missing = format!("{parent}/nope");
    let resp = delete_link(ctx, &missing)?;
    expect_error(
        &resp,
        404,
        &format!("No such container: {missing}"),
        "removing an unknown link",
    )?;
    let resp = delete_link(ctx, &format!("{parent}/al"))?;
    expect_status(&resp, 204, "removing the link")?;
    let got = ctx.inspect(&id)?;
    if got["HostConfig"]["Links"] != Value::Null {
        return Err(fail(format!(
            "after removing the only link dockerd shows Links null, got {}",
            got["HostConfig"]["Links"]
        )));
    }
    ctx.inspect(&target)?;
    Ok(())
}
