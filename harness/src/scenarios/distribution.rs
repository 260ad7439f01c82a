//! The `registry` area: pull, push and login against the registry given
//! with `--registry HOST:PORT` (a plain-HTTP registry on loopback, which
//! dockerd and the engine both reach without TLS). Without it every
//! scenario skips, saying so.
//!
//! The images pushed are made by the run (an import of a small tar with a
//! run-unique file, labelled with the run), so a pull back downloads real
//! layers and the progress stream shows its whole shape. Repositories are
//! `shipshape-harness/<scenario>-<run id>`: runs never share one.

use bytes::Bytes;
use serde_json::{json, Value};

use super::registry::{scenario, Scenario};
use crate::client::{enc, Req, Response};
use crate::ground::spec::expectation;
use crate::ground::{expect_status, fail, fail_at, json_body, Ctx, Outcome, Problem, RUN_LABEL};
use crate::scenarios::containers_api::expect_error;

pub fn scenarios() -> Vec<Scenario> {
    vec![
        scenario(
            "registry",
            "push-pull-roundtrip",
            false,
            push_pull_roundtrip,
        ),
        scenario("registry", "pull-by-digest", false, pull_by_digest),
        scenario("registry", "unknown-manifest", false, unknown_manifest),
        scenario(
            "registry",
            "push-without-auth-header",
            false,
            push_without_auth_header,
        ),
        scenario("registry", "login", false, login),
        scenario("registry", "registry-down", false, registry_down),
        scenario("registry", "search", false, search),
    ]
}

/// `{}` as base64: the empty credentials the CLI sends.
pub(super) const NO_AUTH: &str = "e30=";

/// The stream of JSON messages of a pull or push response.
fn messages(resp: &Response) -> Result<Vec<Value>, Problem> {
    match messages_until_error(resp)? {
        (out, None) => Ok(out),
        (_, Some(err)) => Err(fail_at(
            resp,
            format!("the stream ends in an error: {err:?}"),
        )),
    }
}

/// The stream's messages up to its error, and the error's text if it ends
/// in one.
pub(super) fn messages_until_error(
    resp: &Response,
) -> Result<(Vec<Value>, Option<String>), Problem> {
    let text = String::from_utf8_lossy(&resp.body).to_string();
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line)
            .map_err(|e| fail_at(resp, format!("progress line {line:?} is not JSON: {e}")))?;
        if let Some(err) = v.get("error") {
            let err = err.as_str().map_or_else(|| err.to_string(), str::to_string);
            return Ok((out, Some(err)));
        }
        out.push(v);
    }
    Ok((out, None))
}

pub(super) fn statuses(msgs: &[Value]) -> Vec<String> {
    msgs.iter()
        .filter_map(|m| m.get("status").and_then(Value::as_str).map(str::to_string))
        .collect()
}

/// A small uncompressed tar with a file unique to this run and scenario.
fn layer_tar(ctx: &Ctx, name: &str) -> Result<Vec<u8>, Problem> {
    let mut b = tar::Builder::new(Vec::new());
    let content = format!("shipshape registry scenario {name}, run {}\n", ctx.run_id);
    let mut h = tar::Header::new_gnu();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    b.append_data(&mut h, format!("{name}.txt"), content.as_bytes())
        .map_err(|e| fail(format!("building a tar: {e}")))?;
    b.into_inner()
        .map_err(|e| fail(format!("building a tar: {e}")))
}

/// Imports a run-labelled image as `repo:tag`; returns its ID.
pub(super) fn make_image(ctx: &Ctx, repo: &str, tag: &str, name: &str) -> Result<String, Problem> {
    let tar = layer_tar(ctx, name)?;
    let change = format!("LABEL {RUN_LABEL}={}", ctx.run_id);
    let resp = ctx.send(
        Req::post(format!(
            "/images/create?fromSrc=-&repo={}&tag={}&changes={}",
            enc(repo),
            enc(tag),
            enc(&change)
        ))
        .raw(Bytes::from(tar), "application/x-tar"),
    )?;
    expect_status(&resp, 200, "importing an image to push")?;
    ctx.record_created_image(format!("{repo}:{tag}"));
    let v = ctx.inspect_image(&format!("{repo}:{tag}"))?;
    v.get("Id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| fail("imported image has no Id"))
}

/// Pushes `repo:tag`; returns the manifest digest from the final line,
/// checking the stream's shape against dockerd's.
pub(super) fn push(ctx: &Ctx, repo: &str, tag: &str) -> Result<String, Problem> {
    let e = expectation("registry/push-pull-roundtrip")?;
    let resp = ctx.send(
        Req::post(format!("/images/{}/push?tag={}", enc(repo), enc(tag)))
            .header("X-Registry-Auth", NO_AUTH),
    )?;
    expect_status(&resp, 200, "pushing")?;
    let msgs = messages(&resp)?;
    let st = statuses(&msgs);
    let first = format!("The push refers to repository [{repo}]");
    if st.first() != Some(&first) {
        return Err(e.fail(
            Some(&resp),
            format!("the push stream should start with {first:?}, got {st:?}"),
            &[],
        ));
    }
    let last = st.last().cloned().unwrap_or_default();
    let prefix = format!("{tag}: digest: ");
    let Some(rest) = last.strip_prefix(&prefix) else {
        return Err(e.fail(Some(&resp), format!("the push stream's last status should be \"{prefix}sha256:... size: N\", got {last:?}"), &[]));
    };
    let digest = rest.split(' ').next().unwrap_or("").to_string();
    if !digest.starts_with("sha256:") || !rest.contains(" size: ") {
        return Err(e.fail(
            Some(&resp),
            format!("unexpected final push line {last:?}"),
            &[],
        ));
    }
    let aux = msgs
        .iter()
        .find_map(|m| m.get("aux"))
        .cloned()
        .unwrap_or(Value::Null);
    if aux.get("Tag") != Some(&json!(tag)) || aux.get("Digest") != Some(&json!(digest)) {
        return Err(e.fail(
            Some(&resp),
            format!(
                "the push's aux message should carry Tag {tag:?} and Digest {digest}, got {aux}"
            ),
            &[],
        ));
    }
    let layer_states: Vec<&String> = st
        .iter()
        .filter(|s| {
            ["Pushed", "Layer already exists"].contains(&s.as_str())
                || s.starts_with("Mounted from ")
        })
        .collect();
    if layer_states.is_empty() {
        return Err(e.fail(
            Some(&resp),
            format!(
                "no layer was reported pushed (Pushed, Layer already exists, Mounted from): {st:?}"
            ),
            &[],
        ));
    }
    Ok(digest)
}

fn repo_digests(v: &Value) -> Vec<String> {
    v.get("RepoDigests")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Push an image, remove it locally, pull it back: same ID, the digest
/// recorded, and a progress stream of dockerd's shape.
fn push_pull_roundtrip(ctx: &Ctx) -> Outcome {
    let reg = ctx.registry()?;
    let e = expectation("registry/push-pull-roundtrip")?;
    let repo = format!("{reg}/shipshape-harness/rt-{}", ctx.run_id);
    let id = make_image(ctx, &repo, "v1", "roundtrip")?;
    let digest = push(ctx, &repo, "v1")?;
    let after_push = ctx.inspect_image(&format!("{repo}:v1"))?;
    let want_rd = format!("{repo}@{digest}");
    if !repo_digests(&after_push).contains(&want_rd) {
        return Err(e.fail(
            None,
            format!(
                "after the push, RepoDigests should hold {want_rd}: {:?}",
                repo_digests(&after_push)
            ),
            &[],
        ));
    }
    // What the registry holds, as dockerd reads it (20.10.24: 200,
    // Descriptor {mediaType (schema 2 manifest), digest (the push's),
    // size}, Platforms [{architecture, os}]).
    let resp = ctx.send(Req::get(format!("/distribution/{repo}:v1/json")))?;
    expect_status(&resp, 200, "distribution inspect of the pushed tag")?;
    let dist = json_body(&resp, "distribution inspect")?;
    let d = &dist["Descriptor"];
    if d["digest"] != json!(digest)
        || d["mediaType"] != "application/vnd.docker.distribution.manifest.v2+json"
        || d["size"].as_i64().is_none_or(|n| n <= 0)
        || dist["Platforms"].as_array().is_none_or(|p| p.is_empty())
    {
        return Err(fail_at(
            &resp,
            format!(
                "distribution inspect gave {dist}; dockerd: Descriptor with the schema 2 \
                 manifest type, digest {digest} and its size, and the image's Platforms"
            ),
        ));
    }
    // Remove it (tag and digest go; the image with them), then pull it back.
    let del = ctx.send(Req::delete(format!(
        "/images/{}",
        enc(&format!("{repo}:v1"))
    )))?;
    expect_status(&del, 200, "removing the pushed image")?;
    let resp = ctx.send(
        Req::post(format!("/images/create?fromImage={}&tag=v1", enc(&repo)))
            .header("X-Registry-Auth", NO_AUTH),
    )?;
    if resp.status == 200 {
        ctx.record_created_image(format!("{repo}:v1"));
    }
    e.check(&resp, &[])?;
    let msgs = messages(&resp)?;
    let st = statuses(&msgs);
    let path = format!("shipshape-harness/rt-{}", ctx.run_id);
    let head = json!({"status": format!("Pulling from {path}"), "id": "v1"});
    if msgs.first() != Some(&head) {
        return Err(e.fail(
            Some(&resp),
            format!(
                "the pull stream should start with {head}, got {:?}",
                msgs.first()
            ),
            &[],
        ));
    }
    let tail = [
        format!("Digest: {digest}"),
        format!("Status: Downloaded newer image for {repo}:v1"),
    ];
    if st.len() < 2 || st[st.len() - 2..] != tail {
        return Err(e.fail(
            Some(&resp),
            format!("the pull stream should end with {tail:?}, got {st:?}"),
            &[],
        ));
    }
    // Each layer: announced, downloaded, extracted, complete, in that order.
    // ("Verifying Checksum" is not always in dockerd 20.10.24's stream: one
    // run of this scenario on it had none, so it is checked only for its
    // shape, where it comes.)
    for want in ["Pulling fs layer", "Download complete", "Pull complete"] {
        if !st.iter().any(|s| s == want) {
            return Err(e.fail(
                Some(&resp),
                format!("the pull stream has no {want:?} status: {st:?}"),
                &[],
            ));
        }
    }
    for m in &msgs {
        let s = m.get("status").and_then(Value::as_str).unwrap_or("");
        if [
            "Pulling fs layer",
            "Download complete",
            "Pull complete",
            "Verifying Checksum",
        ]
        .contains(&s)
            && (m.get("progressDetail") != Some(&json!({}))
                || m.get("id")
                    .and_then(Value::as_str)
                    .is_none_or(|i| i.len() != 12))
        {
            return Err(e.fail(
                Some(&resp),
                format!("a layer status should carry a 12-hex id and an empty progressDetail: {m}"),
                &[],
            ));
        }
        if s == "Downloading" || s == "Extracting" {
            let d = m.get("progressDetail").cloned().unwrap_or(Value::Null);
            if d.get("current").and_then(Value::as_u64).is_none()
                || d.get("total").and_then(Value::as_u64).is_none()
                || m.get("progress")
                    .and_then(Value::as_str)
                    .is_none_or(|p| !p.starts_with('['))
            {
                return Err(e.fail(
                    Some(&resp),
                    format!("a {s} message should carry current, total and a bar: {m}"),
                    &[],
                ));
            }
        }
    }
    let pulled = ctx.inspect_image(&format!("{repo}:v1"))?;
    if pulled.get("Id") != Some(&json!(id)) {
        return Err(e.fail(
            None,
            format!(
                "the image pulled back has ID {:?}, pushed was {id}",
                pulled.get("Id")
            ),
            &[],
        ));
    }
    if repo_digests(&pulled) != vec![want_rd.clone()] {
        return Err(e.fail(
            None,
            format!(
                "after the pull, RepoDigests should be [{want_rd}], got {:?}",
                repo_digests(&pulled)
            ),
            &[],
        ));
    }
    // A second pull: nothing to download.
    let again = ctx.send(
        Req::post(format!("/images/create?fromImage={}&tag=v1", enc(&repo)))
            .header("X-Registry-Auth", NO_AUTH),
    )?;
    expect_status(&again, 200, "pulling again")?;
    let st2 = statuses(&messages(&again)?);
    let want2 = vec![
        format!("Pulling from {path}"),
        format!("Digest: {digest}"),
        format!("Status: Image is up to date for {repo}:v1"),
    ];
    if st2 != want2 {
        return Err(e.fail(
            Some(&again),
            format!("pulling an image already here should say only {want2:?}, got {st2:?}"),
            &[],
        ));
    }
    Ok(())
}

/// Pull by digest: named in the stream by the whole reference, no tag
/// made, the image found by `name@digest`.
fn pull_by_digest(ctx: &Ctx) -> Outcome {
    let reg = ctx.registry()?;
    let e = expectation("registry/pull-by-digest")?;
    let repo = format!("{reg}/shipshape-harness/dg-{}", ctx.run_id);
    let id = make_image(ctx, &repo, "v1", "bydigest")?;
    let digest = push(ctx, &repo, "v1")?;
    let del = ctx.send(Req::delete(format!(
        "/images/{}",
        enc(&format!("{repo}:v1"))
    )))?;
    expect_status(&del, 200, "removing the pushed image")?;
    let resp = ctx.send(
        Req::post(format!(
            "/images/create?fromImage={}&tag={}",
            enc(&repo),
            enc(&digest)
        ))
        .header("X-Registry-Auth", NO_AUTH),
    )?;
    let by_digest = format!("{repo}@{digest}");
    if resp.status == 200 {
        ctx.record_created_image(by_digest.clone());
    }
    e.check(&resp, &[])?;
    let msgs = messages(&resp)?;
    let head = json!({"status": format!("Pulling from shipshape-harness/dg-{}", ctx.run_id), "id": by_digest});
    if msgs.first() != Some(&head) {
        return Err(e.fail(
            Some(&resp),
            format!(
                "the pull stream should start with {head}, got {:?}",
                msgs.first()
            ),
            &[],
        ));
    }
    let st = statuses(&msgs);
    let want_last = format!("Status: Downloaded newer image for {by_digest}");
    if st.last() != Some(&want_last) {
        return Err(e.fail(
            Some(&resp),
            format!("the pull stream should end with {want_last:?}, got {st:?}"),
            &[],
        ));
    }
    let v = ctx.inspect_image(&by_digest)?;
    if v.get("Id") != Some(&json!(id)) {
        return Err(e.fail(
            None,
            format!("{by_digest} is {:?}, pushed was {id}", v.get("Id")),
            &[],
        ));
    }
    let tags = v.get("RepoTags").cloned().unwrap_or(Value::Null);
    if tags != json!([]) {
        return Err(e.fail(
            None,
            format!("a pull by digest makes no tag; RepoTags is {tags}"),
            &[],
        ));
    }
    let del = ctx.send(Req::delete(format!("/images/{}", enc(&by_digest))))?;
    expect_status(&del, 200, "removing the image by digest")?;
    ctx.forget_created_image(&by_digest);
    Ok(())
}

fn unknown_manifest(ctx: &Ctx) -> Outcome {
    let reg = ctx.registry()?;
    let e = expectation("registry/unknown-manifest")?;
    let repo = format!("{reg}/shipshape-harness/none-{}", ctx.run_id);
    let resp = ctx.send(
        Req::post(format!("/images/create?fromImage={}&tag=v1", enc(&repo)))
            .header("X-Registry-Auth", NO_AUTH),
    )?;
    e.check(&resp, &[("ref", &format!("{repo}:v1"))])
}

fn push_without_auth_header(ctx: &Ctx) -> Outcome {
    let reg = ctx.registry()?;
    let e = expectation("registry/push-without-auth-header")?;
    let repo = format!("{reg}/shipshape-harness/noauth-{}", ctx.run_id);
    let resp = ctx.send(Req::post(format!("/images/{}/push?tag=v1", enc(&repo))))?;
    e.check(&resp, &[])
}

fn login(ctx: &Ctx) -> Outcome {
    let reg = ctx.registry()?;
    let e = expectation("registry/login")?;
    let resp = ctx.send(Req::post("/auth").json(json!({
        "serveraddress": reg, "username": "shipshape", "password": "any"
    })))?;
    e.check(&resp, &[])?;
    let body = json_body(&resp, "login response")?;
    if body != json!({"IdentityToken": "", "Status": "Login Succeeded"}) {
        return Err(e.fail(Some(&resp), format!("unexpected login answer {body}"), &[]));
    }
    Ok(())
}

/// A registry nobody listens on (a port bound and released just before).
fn registry_down(ctx: &Ctx) -> Outcome {
    ctx.registry()?;
    let e = expectation("registry/registry-down")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|err| fail(format!("finding a free port: {err}")))?
        .port();
    let host = format!("127.0.0.1:{port}");
    let resp = ctx.send(
        Req::post(format!(
            "/images/create?fromImage={}&tag=v1",
            enc(&format!("{host}/shipshape-harness/down"))
        ))
        .header("X-Registry-Auth", NO_AUTH),
    )?;
    e.check(&resp, &[("host", &host)])
}

/// `GET /images/search` of a registry that answers: it serves no v1 search
/// (Docker Hub's), which dockerd reports as it got it; and `limit` is checked
/// for its range only once the registry answered its ping (dockerd
/// 20.10.24 against Debian's docker-registry 2.8, 2026-12-04: 500
/// "Unexpected status code 404" with limit=2 or none, 400 with 0 or 101; for
/// a registry that does not answer, the connection error comes first).
fn search(ctx: &Ctx) -> Outcome {
    let reg = ctx.registry()?;
    let term = enc(&format!("{reg}/shipshape-harness"));
    for q in ["", "&limit=2"] {
        let resp = ctx.send(Req::get(format!("/images/search?term={term}{q}")))?;
        expect_error(
            &resp,
            500,
            "Unexpected status code 404",
            &format!("search of a registry without v1 search{q}"),
        )?;
    }
    for n in [0, 101] {
        let resp = ctx.send(Req::get(format!("/images/search?term={term}&limit={n}")))?;
        expect_error(
            &resp,
            400,
            &format!("Limit {n} is outside the range of [1, 100]"),
            &format!("search with limit={n}"),
        )?;
    }
    Ok(())
}
