//! System endpoints: /_ping, /version, /info and API version prefixes.

use super::{scenario, Scenario};
use crate::client::{ApiVersion, Req};
use crate::ground::spec::expectation;
use crate::ground::{Ctx, Outcome, Problem};
use serde_json::Value;

pub fn scenarios() -> Vec<Scenario> {
    vec![
        scenario("system", "ping-get", false, ping_get),
        scenario("system", "ping-head", false, ping_head),
        scenario("system", "version-shape", false, version_shape),
        scenario("system", "info-shape", false, info_shape),
        scenario("system", "version-too-old", false, too_old),
        scenario("system", "version-too-new", false, too_new),
        scenario("system", "supported-prefix", false, supported_prefix),
    ]
}

fn ping_get(ctx: &Ctx) -> Outcome {
    let resp = ctx.send(Req::get("/_ping").unversioned())?;
    expectation("system/ping-get")?.check(&resp, &[])
}

fn ping_head(ctx: &Ctx) -> Outcome {
    let e = expectation("system/ping-head")?;
    let resp = ctx.send(Req::head("/_ping").unversioned())?;
    e.check(&resp, &[])?;
    // The header must name the version negotiation relied on.
    let header = resp.header("Api-Version").unwrap_or("");
    if header != ctx.negotiation.server_api_version.to_string() {
        return Err(e.fail(
            Some(&resp),
            format!(
                "Api-Version {header:?} differs from the {} seen during negotiation",
                ctx.negotiation.server_api_version
            ),
            &[],
        ));
    }
    Ok(())
}

fn version_shape(ctx: &Ctx) -> Outcome {
    let e = expectation("system/version-shape")?;
    let resp = ctx.send(Req::get("/version"))?;
    e.check(&resp, &[])?;
    let body = resp.json().map_err(|m| e.fail(Some(&resp), m, &[]))?;
    // /version's ApiVersion is the same maximum /_ping advertises.
    let api = body.get("ApiVersion").and_then(Value::as_str).unwrap_or("");
    if api != ctx.negotiation.server_api_version.to_string() {
        return Err(e.fail(
            Some(&resp),
            format!(
                "ApiVersion {api:?} differs from /_ping's Api-Version {}",
                ctx.negotiation.server_api_version
            ),
            &[],
        ));
    }
    for v in ["ApiVersion", "MinAPIVersion"] {
        let s = body.get(v).and_then(Value::as_str).unwrap_or("");
        if ApiVersion::parse(s).is_err() {
            return Err(e.fail(Some(&resp), format!("{v} {s:?} is not MAJOR.MINOR"), &[]));
        }
    }
    // Components: dockerd lists itself first, as "Engine", its Version and
    // Details repeating the top-level fields (then containerd, runc and
    // docker-init, which an engine without them need not list).
    let engine = body.pointer("/Components/0");
    let detail_keys = [
        "ApiVersion",
        "MinAPIVersion",
        "GitCommit",
        "GoVersion",
        "Os",
        "Arch",
        "KernelVersion",
        "BuildTime",
    ];
    let same = engine.is_some_and(|c| {
        c["Name"] == "Engine"
            && c["Version"] == body["Version"]
            && detail_keys
                .iter()
                .all(|k| c["Details"][*k] == body[*k] && body[*k].is_string())
    });
    if !same {
        return Err(e.fail(
            Some(&resp),
            format!(
                "Components[0] is {}; dockerd: Name \"Engine\", Version and Details ({}) as at the top level",
                engine.cloned().unwrap_or(Value::Null),
                detail_keys.join(", ")
            ),
            &[],
        ));
    }
    Ok(())
}

fn info_shape(ctx: &Ctx) -> Outcome {
    let e = expectation("system/info-shape")?;
    let resp = ctx.send(Req::get("/info"))?;
    e.check(&resp, &[])?;
    // dockerd counts Containers as the sum of the three states, from one
    // look at its containers (moby daemon/info.go), whatever else runs.
    let body = resp.json().map_err(|m| e.fail(Some(&resp), m, &[]))?;
    let n = |k: &str| body.get(k).and_then(Value::as_i64).unwrap_or(-1);
    let sum = n("ContainersRunning") + n("ContainersPaused") + n("ContainersStopped");
    if n("Containers") != sum {
        return Err(e.fail(
            Some(&resp),
            format!(
                "Containers {} is not ContainersRunning + ContainersPaused + ContainersStopped ({sum})",
                n("Containers")
            ),
            &[],
        ));
    }
    Ok(())
}

fn too_old(ctx: &Ctx) -> Outcome {
    let e = expectation("system/version-too-old")?;
    let min = ctx
        .negotiation
        .server_min_api_version
        .ok_or_else(|| Problem::Skip("the server reports no MinAPIVersion".into()))?;
    if min.minor == 0 {
        return Err(Problem::Skip(format!(
            "no version below MinAPIVersion {min}"
        )));
    }
    let old = ApiVersion {
        major: min.major,
        minor: min.minor - 1,
    };
    let resp = ctx.send(Req::get(format!("/v{old}/version")).unversioned())?;
    e.check(
        &resp,
        &[("version", &old.to_string()), ("min", &min.to_string())],
    )
}

fn too_new(ctx: &Ctx) -> Outcome {
    let e = expectation("system/version-too-new")?;
    let max = ctx.negotiation.server_api_version;
    let new = ApiVersion {
        major: max.major,
        minor: max.minor + 1,
    };
    let resp = ctx.send(Req::get(format!("/v{new}/version")).unversioned())?;
    e.check(
        &resp,
        &[("version", &new.to_string()), ("max", &max.to_string())],
    )
}

fn supported_prefix(ctx: &Ctx) -> Outcome {
    let e = expectation("system/supported-prefix")?;
    let mut paths = vec![format!("/v{}/version", ctx.negotiation.api_version)];
    if let Some(min) = ctx.negotiation.server_min_api_version {
        paths.push(format!("/v{min}/version"));
    }
    paths.push("/version".to_string());
    for p in paths {
        let resp = ctx.send(Req::get(p.clone()).unversioned())?;
        e.check(&resp, &[])?;
        let body = resp.json().map_err(|m| e.fail(Some(&resp), m, &[]))?;
        if body.get("ApiVersion").and_then(Value::as_str).is_none() {
            return Err(e.fail(Some(&resp), format!("{p}: no ApiVersion in the body"), &[]));
        }
    }
    Ok(())
}
