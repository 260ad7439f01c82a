//! Malformed JSON bodies get Go's `encoding/json` words (dockerd decodes
//! with it), and the body is decoded before the object it names is looked
//! up. The messages below are dockerd 20.10.24's answers (API 1.41,
//! 2026-12-03) to these bodies on `POST /containers/create`.

use crate::client::{enc, Req, Response};
use crate::ground::spec::expectation;
use crate::ground::{fail_at, Ctx, Outcome};

/// Bodies with a syntax error, and dockerd's message for each.
const SYNTAX: &[(&str, &str)] = &[
    ("x", "invalid character 'x' looking for beginning of value"),
    (
        "  x",
        "invalid character 'x' looking for beginning of value",
    ),
    (
        "{x",
        "invalid character 'x' looking for beginning of object key string",
    ),
    (
        "{'a':1}",
        "invalid character '\\'' looking for beginning of object key string",
    ),
    ("{\"a\" 1}", "invalid character '1' after object key"),
    (
        "{\"a\":1 x",
        "invalid character 'x' after object key:value pair",
    ),
    (
        "{\"a\":\"\u{e9}\"x",
        "invalid character 'x' after object key:value pair",
    ),
    ("[1 x", "invalid character 'x' after array element"),
    (
        "{\"a\":tru}",
        "invalid character '}' in literal true (expecting 'e')",
    ),
    (
        "{\"a\":1,}",
        "invalid character '}' looking for beginning of object key string",
    ),
    (
        "[1,]",
        "invalid character ']' looking for beginning of value",
    ),
    (
        "{\"a\":\"\\q\"}",
        "invalid character 'q' in string escape code",
    ),
    (
        "{\"a\":\"\u{1}\"}",
        "invalid character '\\x01' in string literal",
    ),
    ("{\"a\":-x}", "invalid character 'x' in numeric literal"),
    (
        "{\"a\":1.x}",
        "invalid character 'x' after decimal point in numeric literal",
    ),
    (
        "{\"a\":1ex}",
        "invalid character 'x' in exponent of numeric literal",
    ),
];

/// Bodies of the wrong type, and the start of dockerd's message (the rest
/// names Go's struct fields and types, e.g. `ContainerConfigWrapper.Image
/// of type string`, which only Go's types can say).
const TYPES: &[(&str, &str)] = &[
    ("{\"Image\":1}", "json: cannot unmarshal number into Go "),
    ("{\"Image\":true}", "json: cannot unmarshal bool into Go "),
    ("{\"Image\":{}}", "json: cannot unmarshal object into Go "),
    ("{\"Env\":\"a\"}", "json: cannot unmarshal string into Go "),
    ("[]", "json: cannot unmarshal array into Go "),
];

fn create_with(ctx: &Ctx, body: &str) -> Result<Response, crate::ground::Problem> {
    let name = ctx.unique_name("json");
    let resp = ctx.send(
        Req::post(format!("/containers/create?name={}", enc(&name)))
            .raw(body.to_string(), "application/json"),
    )?;
    if resp.status == 201 {
        ctx.remove(&name);
    }
    Ok(resp)
}

pub fn syntax_wording(ctx: &Ctx) -> Outcome {
    let e = expectation("api/json-syntax-wording")?;
    for (body, message) in SYNTAX {
        let resp = create_with(ctx, body)?;
        e.check(&resp, &[("message", message)])
            .map_err(|p| p.note(format!("body {body:?}")))?;
    }
    Ok(())
}

pub fn type_wording(ctx: &Ctx) -> Outcome {
    let e = expectation("api/json-type-wording")?;
    for (body, prefix) in TYPES {
        let resp = create_with(ctx, body)?;
        e.check(&resp, &[("prefix", prefix)])
            .map_err(|p| p.note(format!("body {body:?}")))?;
    }
    Ok(())
}

/// The routes that require a body refuse none with 400.
pub fn empty_body(ctx: &Ctx) -> Outcome {
    let e = expectation("api/json-empty-body")?;
    let missing = enc(&ctx.unique_name("missing"));
    for req in [
        Req::post("/networks/create"),
        Req::post("/volumes/create"),
        Req::post(format!("/containers/{missing}/exec")),
        Req::post(format!("/exec/{missing}/start")),
        Req::post(format!("/networks/{missing}/connect")),
    ] {
        let what = format!("{} {}", req.method, req.path);
        let resp = ctx.send(req)?;
        if resp.status == 201 {
            // Wrongly created (an anonymous volume, a network): remove it.
            if let Ok(v) = resp.json() {
                if let Some(n) = v.get("Name").and_then(|n| n.as_str()) {
                    let _ = ctx.send(Req::delete(format!("/volumes/{}", enc(n))));
                }
                if let Some(id) = v.get("Id").and_then(|n| n.as_str()) {
                    let _ = ctx.send(Req::delete(format!("/networks/{}", enc(id))));
                }
            }
        }
        e.check(&resp, &[]).map_err(|p| p.note(what))?;
    }
    Ok(())
}

/// dockerd decodes the body before it looks the container (or exec) up:
/// a malformed body to a missing one is a decoding error, not a 404.
fn before_lookup(ctx: &Ctx, spec: &str, reqs: Vec<Req>) -> Outcome {
    let e = expectation(spec)?;
    for req in reqs {
        let what = format!("{} {}", req.method, req.path);
        let resp = ctx.send(req.raw("x", "application/json"))?;
        if resp.status == 404 {
            return Err(
                fail_at(&resp, format!("{what}: looked up before decoding the body"))
                    .note(e.summary(&[])),
            );
        }
        e.check(&resp, &[]).map_err(|p| p.note(what))?;
    }
    Ok(())
}

pub fn before_lookup_500(ctx: &Ctx) -> Outcome {
    let missing = enc(&ctx.unique_name("missing"));
    before_lookup(
        ctx,
        "api/json-before-lookup-update-commit",
        vec![
            Req::post(format!("/containers/{missing}/update")),
            Req::post(format!("/commit?container={missing}")),
        ],
    )
}

pub fn before_lookup_400(ctx: &Ctx) -> Outcome {
    let missing = enc(&ctx.unique_name("missing"));
    before_lookup(
        ctx,
        "api/json-before-lookup-exec",
        vec![
            Req::post(format!("/containers/{missing}/exec")),
            Req::post(format!("/exec/{missing}/start")),
        ],
    )
}
