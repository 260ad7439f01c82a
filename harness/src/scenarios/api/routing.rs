//! How lenient the router is, as dockerd's (gorilla/mux): a path that is
//! not clean is redirected to its clean form, and a trailing slash is part
//! of the path (so `/networks/` lists, `/volumes/` looks up the volume ""),
//! and it matches the decoded path, where a container's name runs to the
//! route's verb (`/containers/{name:.*}/json`).

use crate::client::{enc, Req};
use crate::ground::spec::expectation;
use crate::ground::{fail_at, Ctx, Outcome};
use crate::scenarios::containers_api::expect_error;

/// `GET /networks/` answers the list.
pub fn list_trailing_slash(ctx: &Ctx) -> Outcome {
    let e = expectation("api/list-trailing-slash")?;
    let resp = ctx.send(Req::get("/networks/"))?;
    e.check(&resp, &[])?;
    let body = resp.json().map_err(|m| e.fail(Some(&resp), m, &[]))?;
    if !body.is_array() {
        return Err(fail_at(&resp, format!("expected a JSON array, got {body}")));
    }
    Ok(())
}

/// `GET /volumes/` is the inspect route with an empty name.
pub fn volume_empty_name(ctx: &Ctx) -> Outcome {
    let resp = ctx.send(Req::get("/volumes/"))?;
    expectation("api/volume-empty-name")?.check(&resp, &[])
}

/// `GET /networks/{name}/`: the slash is part of the name.
pub fn network_trailing_slash(ctx: &Ctx) -> Outcome {
    let name = ctx.unique_name("net");
    let resp = ctx.send(Req::get(format!("/networks/{}/", enc(&name))))?;
    expectation("api/network-trailing-slash")?.check(&resp, &[("name", &name)])
}

/// A path with `//`, `.` or `..` is answered 301 to its clean form (the
/// query kept), whatever the route.
pub fn unclean_path_redirect(ctx: &Ctx) -> Outcome {
    let e = expectation("api/unclean-path-redirect")?;
    let v = format!("/v{}", ctx.negotiation.api_version);
    for (path, location) in [
        (format!("{v}//version"), format!("{v}/version")),
        (format!("{v}/shipshape/../version"), format!("{v}/version")),
        (format!("{v}/./_ping"), format!("{v}/_ping")),
        (
            format!("{v}//containers/json?all=1"),
            format!("{v}/containers/json?all=1"),
        ),
        (format!("/{v}/info"), format!("{v}/info")),
    ] {
        let resp = ctx.send(Req::get(path.clone()).unversioned())?;
        e.check(&resp, &[("location", &location)])
            .map_err(|p| p.note(format!("GET {path}")))?;
        let got = resp.header("Location");
        if got != Some(location.as_str()) {
            return Err(fail_at(
                &resp,
                format!("GET {path}: Location {got:?}, expected {location:?}"),
            ));
        }
    }
    Ok(())
}

/// A container name holding a slash, sent as `%2F` or as a plain `/`, is
/// looked up whole: dockerd matches `/containers/{name:.*}/<verb>` on the
/// decoded path and answers 404 "No such container: a/b" (curl on dockerd
/// 20.10.24, 2026-12-04: json, logs, top, start alike).
pub fn container_name_slash(ctx: &Ctx) -> Outcome {
    let (a, b) = (ctx.unique_name("slash"), "b");
    let message = format!("No such container: {a}/{b}");
    for (method, path) in [
        ("GET", format!("/containers/{a}%2F{b}/json")),
        ("GET", format!("/containers/{a}%2f{b}/json")),
        ("GET", format!("/containers/{a}/{b}/json")),
        ("GET", format!("/containers/{a}%2F{b}/logs?stdout=1")),
        ("GET", format!("/containers/{a}/{b}/top")),
        ("POST", format!("/containers/{a}%2F{b}/start")),
    ] {
        let req = if method == "GET" {
            Req::get(path.clone())
        } else {
            Req::post(path.clone())
        };
        let resp = ctx.send(req)?;
        expect_error(&resp, 404, &message, &format!("{method} {path}"))?;
    }
    Ok(())
}
