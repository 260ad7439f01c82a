//! Query parameters of the container routes no other scenario sends, as
//! dockerd 20.10.24 answers them:
//!
//! * `GET /containers/json?limit=1` keeps the newest matching container;
//!   `size=1` adds `SizeRootFs` and a non-zero `SizeRw` (integers) to each
//!   entry, absent without it (SizeRw 5 once the container wrote 5 bytes); `limit=x` is 500 `strconv.Atoi: parsing "x":
//!   invalid syntax`;
//! * `GET /containers/{id}/json?size=1` adds `SizeRw` and `SizeRootFs`;
//! * `POST /containers/{id}/start?detachKeys=ctrl-x` starts (204): the
//!   parameter is accepted and has no effect on a start;
//! * `POST /containers/{id}/wait?condition=not-running` answers at once
//!   for a container that is not running (`StatusCode` its exit code, 0
//!   for a created one); an unknown condition is taken as `not-running`.

use super::{expect_error, Made};
use crate::client::{enc, Req};
use crate::ground::{expect_status, fail_at, json_body, Ctx, Outcome};
use crate::scenarios::{scenario, Scenario};
use serde_json::{json, Value};

const AREA: &str = "containers-api";

pub fn scenarios() -> Vec<Scenario> {
    vec![
        scenario(AREA, "list-limit-and-size", true, list_limit_size),
        scenario(AREA, "wait-conditions", true, wait_conditions),
    ]
}

/// `SizeRootFs` > 0 and `SizeRw` an integer; a list entry omits a zero
/// `SizeRw` (Go's omitempty), inspect always has it.
fn has_sizes(v: &Value, listed: bool) -> bool {
    let rw = v["SizeRw"].is_i64() || (listed && v.get("SizeRw").is_none());
    rw && v["SizeRootFs"].as_i64().is_some_and(|s| s > 0)
}

fn list_limit_size(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let mark = ctx.unique_name("limit");
    let mut config = ctx.probe_config(&["exit", "0"])?;
    config["Labels"]["io.shipshape.limit"] = json!(mark);
    let _older = made.create(config.clone(), None)?;
    let newer = made.create(config, None)?;
    let filters = enc(&json!({"label": [format!("io.shipshape.limit={mark}")]}).to_string());
    let resp = ctx.send(Req::get(format!(
        "/containers/json?all=1&limit=1&size=1&filters={filters}"
    )))?;
    expect_status(&resp, 200, "listing with limit=1&size=1")?;
    let v = json_body(&resp, "container list")?;
    let entries = v.as_array().cloned().unwrap_or_default();
    if entries.len() != 1 || entries[0]["Id"] != json!(newer) || !has_sizes(&entries[0], true) {
        return Err(fail_at(
            &resp,
            format!(
                "limit=1&size=1 gave {v}; dockerd: only the newer container ({newer}), with \
                 SizeRootFs > 0 (and SizeRw when not 0)"
            ),
        ));
    }
    let resp = ctx.send(Req::get(format!(
        "/containers/json?all=1&filters={filters}"
    )))?;
    expect_status(&resp, 200, "listing without size")?;
    let v = json_body(&resp, "container list")?;
    let entries = v.as_array().cloned().unwrap_or_default();
    if entries.len() != 2 || entries.iter().any(|e| e.get("SizeRw").is_some()) {
        return Err(fail_at(
            &resp,
            format!("without limit and size dockerd lists both containers, without SizeRw: {v}"),
        ));
    }
    let resp = ctx.send(Req::get(format!("/containers/{}/json?size=1", enc(&newer))))?;
    expect_status(&resp, 200, "inspect with size=1")?;
    let v = json_body(&resp, "inspect")?;
    if !has_sizes(&v, false) {
        return Err(fail_at(
            &resp,
            format!(
                "inspect with size=1: dockerd adds integer SizeRw and SizeRootFs, got {} and {}",
                v["SizeRw"], v["SizeRootFs"]
            ),
        ));
    }
    let v = ctx.inspect(&newer)?;
    if v.get("SizeRw").is_some() || v.get("SizeRootFs").is_some() {
        return Err(crate::ground::fail(
            "inspect without size: dockerd sends neither SizeRw nor SizeRootFs",
        ));
    }
    // A container that wrote a file: its SizeRw (the writable layer) is
    // listed and above 0 (dockerd: 5 for a 5-byte file).
    let writer = made.create(ctx.probe_config(&["write", "/data/sized", "hello"])?, None)?;
    ctx.start(&writer)?;
    ctx.wait(&writer)?;
    let filters = enc(&json!({ "id": [writer] }).to_string());
    let resp = ctx.send(Req::get(format!(
        "/containers/json?all=1&size=1&filters={filters}"
    )))?;
    expect_status(&resp, 200, "listing the writer with size=1")?;
    let v = json_body(&resp, "container list")?;
    if v[0]["SizeRw"].as_i64().is_none_or(|s| s <= 0) {
        return Err(fail_at(
            &resp,
            format!("size=1 after writing a file gave {v}; dockerd: SizeRw > 0"),
        ));
    }
    let resp = ctx.send(Req::get("/containers/json?limit=x"))?;
    expect_error(
        &resp,
        500,
        "strconv.Atoi: parsing \"x\": invalid syntax",
        "listing with limit=x",
    )
}

fn wait_for(ctx: &Ctx, id: &str, condition: &str, want: i64) -> Outcome {
    let resp = ctx.send(Req::post(format!(
        "/containers/{}/wait?condition={condition}",
        enc(id)
    )))?;
    expect_status(&resp, 200, &format!("wait?condition={condition}"))?;
    let v = json_body(&resp, "wait")?;
    if v["StatusCode"] != json!(want) {
        return Err(fail_at(
            &resp,
            format!("wait?condition={condition} gave {v}; dockerd: StatusCode {want}"),
        ));
    }
    Ok(())
}

fn wait_conditions(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let id = made.create(ctx.probe_config(&["exit", "3"])?, None)?;
    wait_for(ctx, &id, "not-running", 0)?;
    let resp = ctx.send(Req::post(format!(
        "/containers/{}/start?detachKeys=ctrl-x",
        enc(&id)
    )))?;
    expect_status(&resp, 204, "start with detachKeys")?;
    ctx.wait(&id)?;
    wait_for(ctx, &id, "not-running", 3)?;
    wait_for(ctx, &id, "shipshape-no-such-condition", 3)
}
