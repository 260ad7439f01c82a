//! Pulls of the manifests a registry serves besides Docker's image
//! manifest (issue 16): a manifest list, with and without an entry for the
//! daemon's platform, and an OCI image manifest.
//!
//! The harness pushes an image through the endpoint, then writes the other
//! manifests straight to the registry (`PUT /v2/<name>/manifests/<tag>`)
//! over the blobs that push uploaded, so every pull below fetches the same
//! config and layer.
//!
//! Read off dockerd 20.10.24 against Debian's docker-registry on loopback:
//! - a manifest list whose entries are linux/s390x then linux/amd64: the
//!   pull takes the amd64 entry; the stream ends "Digest: <the list's
//!   digest>" and "Status: Downloaded newer image for REPO:TAG"; the image
//!   is the pushed one, and `RepoDigests` holds REPO@<the list's digest>;
//! - a list with only linux/s390x: 200, and the stream's one message after
//!   "Pulling from ..." is the error "no matching manifest for linux/amd64
//!   in the manifest list entries";
//! - an OCI manifest (OCI media types for the config and a gzip layer): the
//!   same image, `RepoDigests` REPO@<the OCI manifest's digest>.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Value};
use sha2::Digest;

use super::distribution::{make_image, messages_until_error, push, statuses, NO_AUTH};
use super::registry::{scenario, Scenario};
use crate::client::{enc, Req};
use crate::ground::{expect_status, fail, fail_at, json_body, Ctx, Outcome, Problem};

pub fn scenarios() -> Vec<Scenario> {
    vec![scenario(
        "registry",
        "manifest-list-and-oci",
        false,
        manifest_list_and_oci,
    )]
}

const SCHEMA2: &str = "application/vnd.docker.distribution.manifest.v2+json";
const LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const OCI: &str = "application/vnd.oci.image.manifest.v1+json";

fn manifest_list_and_oci(ctx: &Ctx) -> Outcome {
    let reg = ctx.registry()?;
    let name = format!("shipshape-harness/ml-{}", ctx.run_id);
    let repo = format!("{reg}/{name}");
    let id = make_image(ctx, &repo, "v1", "manifests")?;
    push(ctx, &repo, "v1")?;
    let resp = ctx.send(Req::get("/version"))?;
    expect_status(&resp, 200, "version")?;
    let v = json_body(&resp, "version")?;
    let (os, arch) = (
        v["Os"].as_str().unwrap_or("linux").to_string(),
        v["Arch"].as_str().unwrap_or_default().to_string(),
    );
    let elsewhere = if arch == "s390x" { "ppc64le" } else { "s390x" };

    // The pushed manifest, as the registry has it, and the others over it.
    let (status, pushed) = http(
        &reg,
        "GET",
        &format!("/v2/{name}/manifests/v1"),
        SCHEMA2,
        &[],
    )?;
    if status != 200 {
        return Err(fail(format!(
            "the registry answered {status} for the pushed manifest"
        )));
    }
    let m: Value = serde_json::from_slice(&pushed)
        .map_err(|e| fail(format!("the pushed manifest is not JSON: {e}")))?;
    let entry = |platform: &str| {
        json!({"mediaType": SCHEMA2, "digest": digest_of(&pushed), "size": pushed.len(),
            "platform": {"architecture": platform, "os": os}})
    };
    let list = json!({"schemaVersion": 2, "mediaType": LIST,
        "manifests": [entry(elsewhere), entry(&arch)]});
    let other = json!({"schemaVersion": 2, "mediaType": LIST, "manifests": [entry(elsewhere)]});
    let mut layers = m["layers"].clone();
    for l in layers.as_array_mut().into_iter().flatten() {
        l["mediaType"] = json!("application/vnd.oci.image.layer.v1.tar+gzip");
    }
    let mut config = m["config"].clone();
    config["mediaType"] = json!("application/vnd.oci.image.config.v1+json");
    let oci = json!({"schemaVersion": 2, "mediaType": OCI, "config": config, "layers": layers});
    let mut digests = Vec::new();
    for (tag, kind, body) in [
        ("list", LIST, &list),
        ("other", LIST, &other),
        ("oci", OCI, &oci),
    ] {
        let body = body.to_string().into_bytes();
        let (status, answer) = http(
            &reg,
            "PUT",
            &format!("/v2/{name}/manifests/{tag}"),
            kind,
            &body,
        )?;
        if status != 201 {
            return Err(fail(format!(
                "the registry refused the {tag} manifest: {status} {}",
                String::from_utf8_lossy(&answer)
            )));
        }
        digests.push(digest_of(&body));
    }

    let del = ctx.send(Req::delete(format!("/images/{}?force=1", enc(&id))))?;
    expect_status(&del, 200, "removing the pushed image")?;
    ctx.forget_created_image(&format!("{repo}:v1"));
    let res = (|| {
        pulled_as(ctx, &repo, "list", &digests[0], &id)?;
        let resp = pull(ctx, &repo, "other")?;
        expect_status(
            &resp,
            200,
            "pulling a list with no entry for the daemon's platform",
        )?;
        let (_, err) = messages_until_error(&resp)?;
        let want = format!("no matching manifest for {os}/{arch} in the manifest list entries");
        if err.as_deref() != Some(want.as_str()) {
            return Err(fail_at(
                &resp,
                format!("the pull's error is {err:?}; dockerd's: {want:?}"),
            ));
        }
        pulled_as(ctx, &repo, "oci", &digests[2], &id)
    })();
    let _ = ctx.send(Req::delete(format!("/images/{}?force=1", enc(&id))));
    for tag in ["list", "oci"] {
        ctx.forget_created_image(&format!("{repo}:{tag}"));
    }
    res
}

fn pull(ctx: &Ctx, repo: &str, tag: &str) -> Result<crate::client::Response, Problem> {
    ctx.send(
        Req::post(format!("/images/create?fromImage={}&tag={tag}", enc(repo)))
            .header("X-Registry-Auth", NO_AUTH),
    )
}

/// Pulls `repo:tag` and checks it is image `id`, with `digest` (the
/// manifest the tag names) in its stream and its RepoDigests.
fn pulled_as(ctx: &Ctx, repo: &str, tag: &str, digest: &str, id: &str) -> Outcome {
    let resp = pull(ctx, repo, tag)?;
    expect_status(&resp, 200, &format!("pulling the {tag} manifest"))?;
    ctx.record_created_image(format!("{repo}:{tag}"));
    let (msgs, err) = messages_until_error(&resp)?;
    if let Some(err) = err {
        return Err(fail_at(&resp, format!("pulling the {tag} manifest: {err}")));
    }
    let st = statuses(&msgs);
    let tail = [
        format!("Digest: {digest}"),
        format!("Status: Downloaded newer image for {repo}:{tag}"),
    ];
    if !st.ends_with(&tail) {
        return Err(fail_at(
            &resp,
            format!("the {tag} pull's stream should end with {tail:?}, got {st:?}"),
        ));
    }
    let v = ctx.inspect_image(&format!("{repo}:{tag}"))?;
    let by_digest = json!(format!("{repo}@{digest}"));
    let has = v["RepoDigests"]
        .as_array()
        .is_some_and(|a| a.contains(&by_digest));
    if v["Id"] != json!(id) || !has {
        return Err(fail(format!(
            "after the {tag} pull the image is {} with RepoDigests {}; dockerd: the pushed {id}, \
             with {by_digest}",
            v["Id"], v["RepoDigests"]
        )));
    }
    Ok(())
}

fn digest_of(body: &[u8]) -> String {
    format!("sha256:{:x}", sha2::Sha256::digest(body))
}

/// One plain-HTTP exchange with the registry at `reg` (host:port, on
/// loopback): its status and body. `kind` is the Accept of a GET and the
/// Content-Type of a PUT.
fn http(
    reg: &str,
    method: &str,
    path: &str,
    kind: &str,
    body: &[u8],
) -> Result<(u16, Vec<u8>), Problem> {
    let io = |e: std::io::Error| fail(format!("{method} http://{reg}{path}: {e}"));
    let mut s = TcpStream::connect(reg).map_err(io)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(io)?;
    let header = if method == "GET" {
        "Accept"
    } else {
        "Content-Type"
    };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {reg}\r\n{header}: {kind}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).map_err(io)?;
    s.write_all(body).map_err(io)?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).map_err(io)?;
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| fail(format!("{method} http://{reg}{path}: no end of headers")))?;
    let headers = String::from_utf8_lossy(&answer[..split]).to_ascii_lowercase();
    if headers.contains("transfer-encoding: chunked") {
        return Err(fail(format!(
            "{method} http://{reg}{path}: a chunked answer"
        )));
    }
    let status = headers
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| fail(format!("{method} http://{reg}{path}: no status line")))?;
    Ok((status, answer[split + 4..].to_vec()))
}
