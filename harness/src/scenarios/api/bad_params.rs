//! Malformed query parameters the routes parse before doing anything, and
//! what dockerd 20.10.24 answers (read with curl on this host): Go's
//! decode or parse error, most often as a 500.
//!
//! * `filters=x` (not JSON): 500 `invalid character 'x' looking for
//!   beginning of value` on GET /images/json, GET /networks, POST
//!   /networks/prune, POST /volumes/prune, GET /plugins;
//! * logs of an unknown container without stdout or stderr: 400 `Bad
//!   parameters: you must choose at least one stream` (checked first);
//!   networks `dangling=x`: 400 `invalid value for filter 'dangling',
//!   must be "true" (or "1"), or "false" (or "0")` (curl, 2026-12-04);
//! * `t=x` on stop and restart: 500 `strconv.Atoi: parsing "x": invalid
//!   syntax` (parsed before the container is looked up);
//! * events: `since=x` 500 `strconv.ParseInt: parsing "x": invalid
//!   syntax`; `since` after `until` 400 `` `since` time (2) cannot be after
//!   `until` time (1) ``;
//! * save of an upper-case reference (`/images/R/get`, `/images/get?names=R`):
//!   500 `invalid reference format: repository name must be lowercase`;
//! * `POST /auth` to a registry nothing serves (loopback port 1), with
//!   `email`: 500 `Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1:
//!   connect: connection refused`.

use crate::client::Req;
use crate::ground::{Ctx, Outcome};
use crate::scenarios::containers_api::expect_error;
use serde_json::json;

pub fn malformed(ctx: &Ctx) -> Outcome {
    let json_err = "invalid character 'x' looking for beginning of value";
    let gone = format!("shipshape-{}-no-such-container", ctx.run_id);
    let atoi = "strconv.Atoi: parsing \"x\": invalid syntax";
    let lower = "invalid reference format: repository name must be lowercase";
    let cases: Vec<(Req, u16, &str)> = vec![
        (Req::get("/images/json?filters=x"), 500, json_err),
        (Req::get("/networks?filters=x"), 500, json_err),
        (Req::post("/networks/prune?filters=x"), 500, json_err),
        (Req::post("/volumes/prune?filters=x"), 500, json_err),
        (Req::get("/plugins?filters=x"), 500, json_err),
        // Asked for no stream: refused before the container is looked up.
        (
            Req::get(format!("/containers/{gone}/logs")),
            400,
            "Bad parameters: you must choose at least one stream",
        ),
        (
            Req::get(format!(
                "/networks?filters={}",
                crate::client::enc(&json!({"dangling": ["x"]}).to_string())
            )),
            400,
            "invalid value for filter 'dangling', must be \"true\" (or \"1\"), or \"false\" (or \"0\")",
        ),
        (Req::post(format!("/containers/{gone}/stop?t=x")), 500, atoi),
        (
            Req::post(format!("/containers/{gone}/restart?t=x")),
            500,
            atoi,
        ),
        (
            Req::get("/events?since=x&until=1"),
            500,
            "strconv.ParseInt: parsing \"x\": invalid syntax",
        ),
        (
            Req::get("/events?since=2&until=1"),
            400,
            "`since` time (2) cannot be after `until` time (1)",
        ),
        (Req::get("/images/SHIPSHAPE/get"), 500, lower),
        (Req::get("/images/get?names=SHIPSHAPE"), 500, lower),
        (
            Req::post("/auth").json(json!({"username": "shipshape", "password": "x",
                "email": "shipshape@example.invalid", "serveraddress": "127.0.0.1:1"})),
            500,
            "Get \"http://127.0.0.1:1/v2/\": dial tcp 127.0.0.1:1: connect: connection refused",
        ),
    ];
    for (req, status, message) in cases {
        let what = format!("{} {}", req.method, req.path);
        let resp = ctx.send(req)?;
        expect_error(&resp, status, message, &what)?;
    }
    Ok(())
}
