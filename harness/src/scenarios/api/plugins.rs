//! `/plugins`: an endpoint with no plugin installed. Nothing here installs
//! one from a registry (none is reachable): the references are unique to
//! the run or malformed. (`plugin_create.rs` makes one from a tar, named
//! so that it never looks like this run's.)

use crate::client::{enc, Req};
use crate::ground::spec::expectation;
use crate::ground::{fail_at, Ctx, Outcome};
use serde_json::{json, Value};

/// `GET /plugins` is a JSON array (empty without plugins), with and
/// without a valid filter.
pub fn list_empty(ctx: &Ctx) -> Outcome {
    let e = expectation("api/plugins-list-empty")?;
    let enabled = enc(&json!({"enabled": ["true"]}).to_string());
    for path in [
        "/plugins".to_string(),
        format!("/plugins?filters={enabled}"),
    ] {
        let resp = ctx.send(Req::get(path))?;
        e.check(&resp, &[])?;
        let body = resp.json().map_err(|m| e.fail(Some(&resp), m, &[]))?;
        if !body.is_array() {
            return Err(fail_at(&resp, format!("expected a JSON array, got {body}")));
        }
        // A run never installs plugins: one of its own would be a leftover.
        let ours = body.as_array().into_iter().flatten().any(|p| {
            p.get("Name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.contains(&ctx.run_id))
        });
        if ours {
            return Err(fail_at(&resp, "lists a plugin named after this run"));
        }
    }
    Ok(())
}

/// An unknown filter key is refused.
pub fn list_bad_filter(ctx: &Ctx) -> Outcome {
    let bogus = enc(&json!({"bogus": ["x"]}).to_string());
    let resp = ctx.send(Req::get(format!("/plugins?filters={bogus}")))?;
    expectation("api/plugins-list-bad-filter")?.check(&resp, &[])
}

/// Every route about one plugin answers 404 `plugin "NAME" not found` for
/// a name nobody installed (upgrade names the normalised `NAME:latest`).
pub fn unknown(ctx: &Ctx) -> Outcome {
    let name = ctx.unique_name("plugin");
    let n = enc(&name);
    super::each_answers(
        ctx,
        "api/plugins-unknown",
        vec![
            Req::get(format!("/plugins/{n}/json")),
            Req::post(format!("/plugins/{n}/enable?timeout=0")),
            Req::post(format!("/plugins/{n}/disable")),
            Req::delete(format!("/plugins/{n}?force=1")),
            Req::post(format!("/plugins/{n}/push")),
            Req::post(format!("/plugins/{n}/set")).json(json!([])),
        ],
        &[("name", &name)],
    )?;
    let latest = format!("{name}:latest");
    let resp = ctx.send(Req::post(format!("/plugins/{n}/upgrade?remote={n}")).json(json!([])))?;
    expectation("api/plugins-unknown")?.check(&resp, &[("name", &latest)])
}

/// A malformed remote reference is refused before any registry is asked.
pub fn bad_reference(ctx: &Ctx) -> Outcome {
    let bad = enc("Shipshape:Bad:");
    super::each_answers(
        ctx,
        "api/plugins-bad-reference",
        vec![
            Req::get(format!("/plugins/privileges?remote={bad}")),
            Req::post(format!("/plugins/pull?remote={bad}")).json(json!([])),
        ],
        &[],
    )
}
