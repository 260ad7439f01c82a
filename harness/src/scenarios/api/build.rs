//! JSON-valued query parameters of `POST /build` (`buildargs`, `labels`,
//! `cachefrom`, ...): Go clients send `null` for an empty one, which dockerd
//! takes as empty; a malformed one is refused with Go's decoder's words.

use std::time::Duration;

use crate::client::{enc, Req};
use crate::ground::spec::expectation;
use crate::ground::{fail_at, Ctx, Outcome, Problem, RUN_LABEL};

/// A build context: a Dockerfile from scratch with the run's label (so a
/// leftover image is found by the cleanup check).
fn context(ctx: &Ctx) -> Result<Vec<u8>, Problem> {
    let dockerfile = format!("FROM scratch\nLABEL {RUN_LABEL}={}\n", ctx.run_id);
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(dockerfile.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "Dockerfile", dockerfile.as_bytes())
        .and_then(|()| b.into_inner())
        .map_err(|e| crate::ground::fail(format!("writing the build context: {e}")))
}

pub fn null_query_params(ctx: &Ctx) -> Outcome {
    let e = expectation("api/build-null-query-params")?;
    let tag = format!("{}:latest", ctx.unique_name("build"));
    ctx.record_created_image(tag.clone());
    let nulls = ["buildargs", "labels", "cachefrom"]
        .iter()
        .map(|k| format!("{k}=null"))
        .collect::<Vec<_>>()
        .join("&");
    let resp = ctx.send(
        Req::post(format!("/build?t={}&rm=1&{nulls}", enc(&tag)))
            .raw(context(ctx)?, "application/x-tar")
            .timeout(Duration::from_secs(120)),
    )?;
    e.check(&resp, &[])?;
    // The 200 stream reports a failed build as an error message.
    if resp.text().contains("\"error") {
        return Err(fail_at(&resp, "the build stream reports an error"));
    }
    let _ = ctx.send(Req::delete(format!("/images/{}", enc(&tag))));
    ctx.forget_created_image(&tag);
    Ok(())
}

pub fn bad_query_json(ctx: &Ctx) -> Outcome {
    let e = expectation("api/build-bad-query-json")?;
    for (key, what) in [("buildargs", "build args"), ("labels", "labels")] {
        let tag = format!("{}:latest", ctx.unique_name("build"));
        ctx.record_created_image(tag.clone());
        let resp = ctx.send(
            Req::post(format!("/build?t={}&{key}=x", enc(&tag)))
                .raw(context(ctx)?, "application/x-tar")
                .timeout(Duration::from_secs(120)),
        )?;
        e.check(&resp, &[("what", what)])
            .map_err(|p| p.note(format!("{key}=x")))?;
    }
    Ok(())
}

fn prune_post(ctx: &Ctx, q: &str) -> Result<crate::client::Response, crate::ground::Problem> {
    ctx.send(Req::post(format!("/v1.41/build/prune{q}")).unversioned())
}

/// `POST /build/prune` on a daemon without a BuildKit cache: nothing
/// deleted (docker-py's test_prune_builds and `docker builder prune` call
/// it). Only what no cache record matches is asked: the daemon may be
/// shared, and its BuildKit cache (others' builds) is not ours to delete.
pub fn prune_empty(ctx: &Ctx) -> Outcome {
    let empty = expectation("api/build-prune-route-empty")?;
    let none = ctx.unique_name("no-such-cache");
    let id = enc(&format!(r#"{{"id":["{none}"]}}"#));
    let until = enc(&format!(r#"{{"until":["24h"],"id":["{none}"]}}"#));
    for q in [
        format!("?filters={id}"),
        format!("?all=1&keep-storage=10&filters={id}"),
        format!("?filters={until}"),
    ] {
        empty
            .check(&prune_post(ctx, &q)?, &[])
            .map_err(|p| p.note(format!("query {q:?}")))?;
    }
    Ok(())
}

/// BuildKit's filter keys are checked: another key is 400.
pub fn prune_bad_filter(ctx: &Ctx) -> Outcome {
    let unknown_key = format!("?filters={}", enc(r#"{"foo":["bar"]}"#));
    expectation("api/build-prune-route-bad-filter")?.check(&prune_post(ctx, &unknown_key)?, &[])
}

/// Filters that are not JSON: 500.
pub fn prune_bad_json(ctx: &Ctx) -> Outcome {
    expectation("api/build-prune-route-bad-json")?.check(&prune_post(ctx, "?filters=xx")?, &[])
}
